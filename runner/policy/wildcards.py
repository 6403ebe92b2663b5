"""Wildcard patterns (``*`` any run, ``?`` one character) compiled to matchers.

A pattern arrives as :class:`Atom` pieces (policy text has been split from the text of policy
variables, which is always literal, by :mod:`runner.policy.variables`) and a :class:`Mode`
that says how wildcards meet colons. :func:`compile_atoms` turns it into a :class:`Matcher`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Atom", "Matcher", "Mode", "compile_atoms", "token_regex"]

_CACHE_LIMIT = 256
# A pattern that matches nothing (an ARN pattern of fewer than six parts).
_NEVER = re.compile(r"(?!)")


class Mode(enum.Enum):
    """How wildcards meet ``:``: in plain text; in an ARN compared component by component (ARN
    condition operators); in a Resource ARN pattern (see :meth:`Template.regex
    <runner.policy.variables.Template.regex>` for the rules)."""

    TEXT = "text"
    ARN = "arn"
    RESOURCE = "resource"


@dataclass(frozen=True, slots=True)
class Atom:
    """A piece of a pattern: one ``*`` or ``?`` written in policy text (``wild``), or text that
    stands for itself."""

    wild: bool
    text: str


class Matcher(Protocol):
    """What a wildcard pattern offers: ``fullmatch(text)`` is truthy when it matches."""

    def fullmatch(self, string: str) -> object: ...


# Tokens of a wildcard pattern for the linear matcher: a character, any one character, any run.
# The argument of the last two: whether they may match ``:``.
_LIT, _ONE, _RUN = 0, 1, 2
_Token = tuple[int, str | bool]


class _LinearMatcher:
    """A pattern with several ``*`` as a set-of-states automaton: time linear in the text.

    Python's backtracking ``re`` takes time exponential in the number of ``.*`` on hostile
    text (``*a*a*a*a*a*a*a*a*a*a*b`` against sixty ``a``: hours). Results are remembered
    per text: a run asks about the same few repository ARNs and context values again and
    again."""

    __slots__ = ("_memo", "_tokens")

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._memo: dict[str, bool] = {}

    def fullmatch(self, string: str) -> bool:
        hit = self._memo.get(string)
        if hit is None:
            if len(self._memo) >= _CACHE_LIMIT:
                self._memo.clear()
            hit = self._memo[string] = self._run(string)
        return hit

    def _close(self, states: set[int]) -> set[int]:
        tokens, end = self._tokens, len(self._tokens)
        out: set[int] = set()
        stack = list(states)
        while stack:
            i = stack.pop()
            if i not in out:
                out.add(i)
                if i < end and tokens[i][0] == _RUN:
                    stack.append(i + 1)  # a run may be empty
        return out

    def _run(self, text: str) -> bool:
        tokens, end = self._tokens, len(self._tokens)
        states = self._close({0})
        for ch in text:
            nxt: set[int] = set()
            for i in states:
                if i == end:
                    continue
                kind, arg = tokens[i]
                if kind == _LIT:
                    if arg == ch:
                        nxt.add(i + 1)
                elif arg or ch != ":":
                    nxt.add(i + 1 if kind == _ONE else i)
            if not nxt:
                return False
            states = self._close(nxt)
        return end in states


def compile_atoms(atoms: list[Atom], mode: Mode) -> Matcher:
    """The pattern as a regex, or, with more than one ``*``, as a linear matcher."""
    tokens: list[_Token] = []

    def literal(text: str) -> None:
        tokens.extend((_LIT, ch) for ch in text)

    def wildcard(star: bool, crosses_colon: bool) -> None:
        tokens.append((_RUN if star else _ONE, crosses_colon))

    if mode is Mode.TEXT:
        for atom in atoms:
            if atom.wild:
                wildcard(atom.text == "*", True)
            else:
                literal(atom.text)
    else:
        # Split at the first five literal colons: six ARN components.
        components: list[list[Atom]] = [[]]
        for atom in atoms:
            if atom.wild:
                components[-1].append(atom)
                continue
            rest = atom.text
            while rest:
                if len(components) == 6:
                    components[-1].append(Atom(False, rest))
                    break
                head, colon, rest = rest.partition(":")
                if head:
                    components[-1].append(Atom(False, head))
                if colon:
                    components.append([])
        if len(components) < 6 and mode is Mode.ARN:
            return _NEVER
        for index, component in enumerate(components):
            if index:
                literal(":")
            last = index == 5
            for position, atom in enumerate(component):
                if not atom.wild:
                    literal(atom.text)
                else:
                    ends_segment = mode is Mode.RESOURCE and position == len(component) - 1
                    star = atom.text == "*"
                    wildcard(star, last or (star and ends_segment))
    if sum(kind == _RUN for kind, _arg in tokens) > 1:
        return _LinearMatcher(tokens)
    return token_regex(tokens)


def token_regex(tokens: list[_Token]) -> re.Pattern[str]:
    """The backtracking regex for a token list (what _LinearMatcher computes without it)."""
    out: list[str] = []
    for kind, arg in tokens:
        if kind == _LIT:
            out.append(re.escape(str(arg)))
        elif kind == _ONE:
            out.append("." if arg else "[^:]")
        else:
            out.append(".*" if arg else "[^:]*")
    return re.compile("".join(out), re.DOTALL)
