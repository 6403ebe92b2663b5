"""The compiled form of a policy: what validation hands the engine, and nothing to parse again.

:class:`CompiledPolicy` holds its :class:`CompiledStatement` objects in document order and an
index from each catalog action to the statements about it. Both compare by identity: a policy
is compiled once per run and the engine keys its memos on the objects themselves.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from runner.model import PolicyKind, PolicyPath, PolicyProblem
from runner.policy.conditions import CompiledConditions
from runner.policy.matching import ActionMatcher, PrincipalMatcher, ResourceMatcher
from runner.policy.variables import PolicyVersion

__all__ = ["VARIABLE_READ", "CompiledPolicy", "CompiledStatement", "Effect", "PolicyVersion"]

#: How :meth:`CompiledPolicy.single_valued_test` says a statement reads a key in a policy
#: variable (instead of an operator's name)
VARIABLE_READ = "a policy variable"


class Effect(enum.StrEnum):
    """A statement's ``Effect``, exactly as AWS spells it ("Allow" and "Deny", case matters).

    A StrEnum compares equal to its text; put ``.value`` into anything that crosses
    pytest-xdist or lands in a results dict."""

    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True, eq=False)
class CompiledStatement:
    """One validated statement. ``resource`` is None in a repository policy (the statement
    applies to the repository it is attached to); ``principal`` is None where the principal is
    implicit (identity-side policies and SCPs); ``conditions`` is None without conditions."""

    index: int
    sid: str | None
    effect: Effect
    line: int | None
    action: ActionMatcher
    resource: ResourceMatcher | None
    principal: PrincipalMatcher | None
    conditions: CompiledConditions | None
    path: PolicyPath
    #: the condition keys the statement reads, lowercased: in its Condition block and in the
    #: policy variables of its Resource / NotResource / condition values
    keys: frozenset[str] = frozenset()
    #: the condition keys its policy variables read (of ``keys``), lowercased
    variable_keys: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return self.sid if self.sid else f"#{self.index}"


@dataclass(frozen=True, slots=True, eq=False)
class CompiledPolicy:
    """A validated policy, compiled once. ``by_action`` maps each catalog action to the
    statements whose Action/NotAction covers it (in document order); compare by identity.

    ``warnings`` are what AWS accepts but is almost certainly a mistake (a misspelt condition
    key), each at its path in the document; they change no decision."""

    name: str
    kind: PolicyKind
    file: str | None
    line: int | None
    version: PolicyVersion
    statements: tuple[CompiledStatement, ...]
    by_action: Mapping[str, tuple[CompiledStatement, ...]] = field(repr=False)
    #: every condition key its statements read (CompiledStatement.keys), lowercased
    keys: frozenset[str] = frozenset()
    warnings: tuple[PolicyProblem, ...] = ()

    def for_action(self, action: str) -> tuple[CompiledStatement, ...]:
        return self.by_action.get(action, ())

    def statements_for(self, actions: Iterable[str]) -> list[CompiledStatement]:
        """The statements about any of ``actions``, each once, in document order."""
        about = {id(st) for action in actions for st in self.for_action(action)}
        return [st for st in self.statements if id(st) in about]

    def single_valued_test(
        self, key: str, actions: Iterable[str]
    ) -> tuple[CompiledStatement, str] | None:
        """The first statement about one of ``actions`` that tests condition ``key`` (any case)
        without ForAllValues:/ForAnyValue: (and how: its operator) or reads it in a policy
        variable (``a policy variable``), which takes one value; or None."""
        wanted = key.lower()
        if wanted not in self.keys:
            return None
        for stmt in self.statements_for(actions):
            if stmt.conditions is not None:
                for operator, tested in stmt.conditions.single_valued():
                    if tested.lower() == wanted:
                        return stmt, operator
            if wanted in stmt.variable_keys:
                return stmt, VARIABLE_READ
        return None
