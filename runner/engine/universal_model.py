"""The vocabulary of universal checks: the question, the witness, the result, and what the
statements of a check read (see runner/engine/universal.py for the reasoning)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runner.engine import Decision
from runner.engine.universal_callers import (
    Caller,
    CallerClass,
)
from runner.engine.universal_strings import parse_template, variable_keys
from runner.engine.universal_values import (
    Entry,
    Undecidable,
    parse_operator,
)
from runner.model import (
    Expectation,
    Organization,
    Principal,
    PrincipalType,
    Request,
    RequestContext,
    Resource,
    Verdict,
)
from runner.policy import CompiledPolicy, CompiledStatement

__all__ = [
    "ALWAYS_PRESENT",
    "CALLER_KEYS",
    "NAME_KEYS",
    "TIME",
    "TIME_KEYS",
    "UNMODELLED_KEYS",
    "VIA_AWS_SERVICE",
    "Choice",
    "Plan",
    "Question",
    "Result",
    "Stmt",
    "Witness",
    "applies",
    "combine",
    "entries_of",
    "guard_statements",
    "is_free",
    "own_statements",
    "variables_of",
    "where",
]

CALLER_KEYS = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principaltype",
        "aws:username",
        "aws:userid",
        "aws:principalisawsservice",
        "aws:principalservicename",
    }
)
#: Caller keys whose value an unmodelled caller's ARN determines (tests on them are part of
#: the caller enumeration); a policy variable over one of them would tie it to other text.
NAME_KEYS = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:username",
        "aws:userid",
        "aws:principalservicename",
    }
)
RESOURCE_KEYS = frozenset({"aws:resourceaccount", "aws:resourceorgid", "aws:requestedregion"})
RESOURCE_TAGS = ("aws:resourcetag/", "ecr:resourcetag/")
TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})
TIME = "aws:CurrentTime"  # the pseudo-key of the instant (both time keys)
#: Keys AWS sends with every request: they range over values, never absent.
ALWAYS_PRESENT = frozenset({"aws:securetransport", "aws:viaawsservice"})
#: true when a service makes the request with an IAM principal's credentials, so false for a
#: service principal's or an unsigned request ("AWS global condition context keys")
VIA_AWS_SERVICE = "aws:viaawsservice"
#: Keys that follow from the caller but that the engine does not fill in.
UNMODELLED_KEYS = {
    "aws:principalorgpaths": "it follows from the caller's account and organizational unit, "
    "which the spec does not describe",
}


@dataclass(frozen=True, slots=True)
class Question:
    """One universal check. ``steps`` are the catalog actions of ``action`` (one action, or
    the steps of an operation); ``defined`` every principal the spec defines, by name;
    ``context`` the keys the spec fixes."""

    caller_class: CallerClass
    defined: Mapping[str, Principal]
    resource: Resource | None
    action: str
    steps: tuple[str, ...]
    expected: Expectation
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    organization: Organization | None = None
    closed_accounts: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Witness:
    """A concrete request that breaks the expectation. ``principal`` carries ``tags``;
    ``context`` is what an ordinary check must add to the spec's fixed keys (values of keys
    that range; a key left out is absent); ``decisions`` one per step, decided again by the
    ordinary engine; ``step`` the step whose decision breaks it."""

    caller: Caller
    principal: Principal
    tags: Mapping[str, str]
    context: Mapping[str, tuple[str, ...]]
    decisions: tuple[Decision, ...]
    decision: str
    step: str
    multi_valued: frozenset[str]
    #: the keys (lowercased) that range for this caller: the ones the words mention
    ranging: frozenset[str]
    summary: str

    def request(self, question: Question, step: str) -> Request:
        merged = {**{k: tuple(v) for k, v in question.context.items()}, **self.context}
        return Request(self.principal, step, question.resource, merged, question.organization)


@dataclass(frozen=True, slots=True)
class Result:
    """``passed`` with ``witness`` None, or failed with one. ``considered`` names the callers
    taken into account; ``evaluated`` counts the engine decisions made."""

    question: Question
    passed: bool
    witness: Witness | None
    considered: tuple[str, ...]
    evaluated: int

    @property
    def decision(self) -> str:
        """The witness's decision, or the expectation proven."""
        return self.witness.decision if self.witness is not None else self.question.expected.value


def combine(decisions: Sequence[str]) -> str:
    """An operation's decision from its steps' (as ordinary checks combine them)."""
    if Verdict.EXPLICIT_DENY.value in decisions:
        return Verdict.EXPLICIT_DENY.value
    if all(d == Verdict.ALLOW.value for d in decisions):
        return Verdict.ALLOW.value
    return Verdict.IMPLICIT_DENY.value


# ---------------------------------------------------------------------------------------------
# Statements and their tests


Stmt = tuple[CompiledPolicy, CompiledStatement]


def where(policy: CompiledPolicy, stmt: CompiledStatement) -> str:
    place = f" ({policy.file}:{stmt.line})" if policy.file and stmt.line else ""
    return f"statement {stmt.label} of {policy.kind.label} {policy.name}{place}"


_ENTRY_CACHE: dict[int, tuple[CompiledStatement, tuple[Entry, ...]]] = {}


def entries_of(policy: CompiledPolicy, stmt: CompiledStatement) -> tuple[Entry, ...]:
    hit = _ENTRY_CACHE.get(id(stmt))
    if hit is not None and hit[0] is stmt:
        return hit[1]
    out: list[Entry] = []
    if stmt.conditions is not None:
        for item in stmt.conditions.explain(RequestContext()):
            operator, key = str(item["operator"]), str(item["key"])
            parsed = parse_operator(operator)
            if parsed is None:
                raise Undecidable(f"{operator} in {where(policy, stmt)} is not understood")
            expected = item["expected"]
            values = tuple(str(v) for v in expected) if isinstance(expected, list) else ()
            out.append(Entry(operator, key, values, parsed[0], parsed[1], where(policy, stmt)))
    if len(_ENTRY_CACHE) > 4096:
        _ENTRY_CACHE.clear()
    _ENTRY_CACHE[id(stmt)] = (stmt, tuple(out))
    return tuple(out)


def variables_of(policy: CompiledPolicy, stmt: CompiledStatement) -> list[str]:
    """The keys that policy variables of the statement read, as the policy writes them."""
    texts: list[str] = []
    if stmt.resource is not None:
        texts.extend(stmt.resource.texts)
    for entry in entries_of(policy, stmt):
        texts.extend(entry.values)
    keys: list[str] = []
    for text in texts:
        if "${" in text:
            keys.extend(variable_keys(parse_template(text, policy.version)))
    return keys


def is_free(key: str, caller: Caller, fixed: frozenset[str], has_resource: bool) -> bool:
    if key in fixed or key in TIME_KEYS:
        return False
    if key in CALLER_KEYS:
        return False
    if key.startswith("aws:principaltag/"):
        return caller.free_tags
    if key in RESOURCE_KEYS or key.startswith(RESOURCE_TAGS):
        return key == "aws:requestedregion" and not has_resource
    return True


def guard_statements(q: Question, *, every: bool = False) -> list[Stmt]:
    """Statements of the repository policy, SCPs and RCPs about the steps (``every``: all
    their statements; the callers enumerated from them are then the same, and remembered,
    for every check of the spec)."""
    policies: list[CompiledPolicy] = []
    if q.resource is not None and q.resource.policy is not None:
        policies.append(q.resource.policy)
    if q.organization is not None:
        policies.extend(q.organization.scps)
        policies.extend(q.organization.rcps)
    if every:
        return [(pol, st) for pol in policies for st in pol.statements]
    return [(pol, st) for pol in policies for st in pol.statements_for(q.steps)]


def own_statements(p: Principal, steps: Sequence[str]) -> list[Stmt]:
    if p.type in (PrincipalType.SERVICE, PrincipalType.ANONYMOUS):
        return []
    pols = [
        *p.policies,
        *([p.boundary] if p.boundary else []),
        *([p.session_policy] if p.session_policy else []),
    ]
    return [(pol, st) for pol in pols for st in pol.statements_for(steps)]


def applies(stmt: CompiledStatement, p: Principal) -> bool:
    return stmt.principal is None or stmt.principal.matches(p)


@dataclass(frozen=True, slots=True)
class Choice:
    """One combination of values of a group of keys."""

    values: Mapping[str, tuple[str, ...]]  # key as written -> values (absent keys left out)
    present: int


@dataclass
class Plan:
    groups: list[list[Choice]]
    multi: frozenset[str]
    ranging: frozenset[str]
