"""Cells of text: which combinations of string tests some text passes, each with a shortest text.

A universal check must consider every value of a string (a context key, a caller's ARN), yet
the answer depends only on which of the policies' tests the value passes. This module takes
the tests (:class:`Test`, each a union of wildcard programs, optionally compared in lower
case) and returns one shortest text per *realizable* combination of results (an acceptance
vector): the cells of the partition the tests induce, and nothing else.

The method is exact: each test is a nondeterministic automaton over characters; the product
of the automata is explored breadth first over an alphabet of every character the tests
mention, the characters whose lower case contains one of them (for tests in lower case), and
one unmentioned character per combination of character classes the programs use. Characters
outside that alphabet behave exactly like the unmentioned one of their class in every
automaton, so every reachable product state, and hence every realizable vector, is found; the
acceptance vector is a function of the product state, so breadth first order gives a
shortest text for each vector.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from runner.policy.case_folding import IGNORE_CASE_READINGS, java_lower, java_upper

__all__ = [
    "CharClass",
    "Program",
    "StateBudgetExceeded",
    "Test",
    "Undecidable",
    "atoms_to_program",
    "cells",
    "literal_program",
    "parse_template",
    "render_atoms",
]


class CharClass(enum.Enum):
    """The sets of characters a wildcard or a shape position accepts."""

    ANY = "any"
    NOT_COLON = "not-colon"
    NOT_SLASH = "not-slash"
    DIGIT = "digit"  # the ASCII digits of an account ID
    NAME = "name"  # a character of an IAM name: [\w+=,.@-] (runner.model's ARN patterns)
    NAME_OR_SLASH = "name-or-slash"
    SERVICE_FIRST = "service-first"  # [a-z0-9], the first character of a service name
    SERVICE = "service"  # [a-z0-9.-]

    def contains(self, ch: str) -> bool:
        return _CLASS_TESTS[self](ch)


_NAME_CHAR = re.compile(r"[\w+=,.@-]")
_CLASS_TESTS: dict[CharClass, Callable[[str], bool]] = {
    CharClass.ANY: lambda c: True,
    CharClass.NOT_COLON: lambda c: c != ":",
    CharClass.NOT_SLASH: lambda c: c != "/",
    CharClass.DIGIT: lambda c: "0" <= c <= "9",
    CharClass.NAME: lambda c: _NAME_CHAR.fullmatch(c) is not None,
    CharClass.NAME_OR_SLASH: lambda c: c == "/" or _NAME_CHAR.fullmatch(c) is not None,
    CharClass.SERVICE_FIRST: lambda c: "a" <= c <= "z" or "0" <= c <= "9",
    CharClass.SERVICE: lambda c: "a" <= c <= "z" or "0" <= c <= "9" or c in ".-",
}

_BY_VALUE: dict[str, Callable[[str], bool]] = {c.value: f for c, f in _CLASS_TESTS.items()}

# Token kinds: one literal character, one character of a class, any run of a class.
LIT, ONE, RUN = 0, 1, 2


class Token(NamedTuple):
    """One position of a program: ``kind`` LIT (``char``), ONE or RUN (of class ``cls``,
    a :class:`CharClass` value: plain text keeps hashing cheap)."""

    kind: int
    char: str = ""
    cls: str = "any"


Program = tuple[Token, ...]


@dataclass(frozen=True, slots=True)
class Test:
    """Text passes when some program matches all of it; with ``lower`` the programs read
    ``text.lower()`` (the engine's IgnoreCase comparison)."""

    programs: tuple[Program, ...]
    lower: bool = False
    _hash: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.programs, self.lower)))

    def __hash__(self) -> int:
        return self._hash


class StateBudgetExceeded(Exception):
    """The product of the automata has more states than the budget allows."""


class Undecidable(Exception):
    """A construct the universal reasoning cannot decide exactly; the message names it."""


#: The Greek sigma: str.lower writes a capital sigma at the end of a word as the final small
#: sigma and elsewhere as the small sigma, so the lower case of a text is not the lower case of
#: its characters one by one.
_SIGMA = frozenset("\u03a3\u03c3\u03c2")


def literal_program(text: str) -> Program:
    return tuple(Token(LIT, ch) for ch in text)


# ---------------------------------------------------------------------------------------------
# Policy text to programs (the semantics of runner.policy.variables, re-derived from its rules)

#: (kind, text, default): kind "policy" (``*``/``?`` are wildcards), "literal", or "var" (text
#: is the condition key).
Part = tuple[str, str, str | None]
_VARIABLE = re.compile(r"^\s*(?P<key>[^\s,'{}$]+)\s*(?:,\s*'(?P<default>[^'{}$]*)'\s*)?$")
_ESCAPES = {"*", "?", "$"}


@lru_cache(maxsize=4096)
def parse_template(text: str, version: str) -> tuple[Part, ...]:
    """A policy string's parts: only version ``2012-10-17`` has policy variables; ``${*}``,
    ``${?}`` and ``${$}`` are literal characters. The text was validated already."""
    if version != "2012-10-17" or "${" not in text:
        return (("policy", text, None),) if text else ()
    parts: list[Part] = []
    pos = 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            if pos < len(text):
                parts.append(("policy", text[pos:], None))
            return tuple(parts)
        if start > pos:
            parts.append(("policy", text[pos:start], None))
        end = text.find("}", start + 2)
        if end < 0:  # pragma: no cover - refused by validation
            raise ValueError(f"unclosed policy variable in {text!r}")
        inner = text[start + 2 : end]
        if inner in _ESCAPES:
            parts.append(("literal", inner, None))
        else:
            m = _VARIABLE.match(inner)
            if not m:  # pragma: no cover - refused by validation
                raise ValueError(f"invalid policy variable in {text!r}")
            parts.append(("var", m["key"], m["default"]))
        pos = end + 1


def variable_keys(parts: Iterable[Part]) -> list[str]:
    return [text for kind, text, _ in parts if kind == "var"]


Atom = tuple[bool, str]  # (is a wildcard, text)


def render_atoms(
    parts: Sequence[Part], lookup: Callable[[str], tuple[str, ...] | None], *, wild: bool
) -> list[Atom] | None:
    """The parts with each variable replaced by its single value (or its default); None when a
    variable has no value and no default (the policy value then matches nothing). With
    ``wild``, ``*`` and ``?`` of policy text are wildcards; text from variables never is."""
    atoms: list[Atom] = []
    for kind, text, default in parts:
        if kind == "var":
            values = lookup(text)
            if values is not None and len(values) == 1:
                atoms.append((False, values[0]))
            elif default is not None:
                atoms.append((False, default))
            else:
                return None
        elif kind == "literal" or not wild:
            atoms.append((False, text))
        else:
            for piece in re.split(r"([*?])", text):
                if piece in ("*", "?"):
                    atoms.append((True, piece))
                elif piece:
                    atoms.append((False, piece))
    return atoms


#: How atoms become a program: plain text, an ARN compared part by part, a Resource ARN.
TEXT, ARN, RESOURCE = "text", "arn", "resource"


def atoms_to_program(atoms: Sequence[Atom], mode: str) -> Program | None:
    """The program of a wildcard pattern (None: it matches nothing).

    ``TEXT``: ``*`` and ``?`` match any character. ``ARN`` (ARN condition operators): six
    colon-separated components, wildcards stay within each of the first five; the sixth is the
    rest of the text; fewer than six components match nothing. ``RESOURCE``: as ``ARN``,
    except that a ``*`` ending one of the first five segments may cross ``:`` and fewer
    components are allowed."""
    tokens: list[Token] = []

    def wildcard(star: bool, crosses: bool) -> None:
        cls = CharClass.ANY if crosses else CharClass.NOT_COLON
        tokens.append(Token(RUN if star else ONE, cls=cls.value))

    if mode == TEXT:
        for is_wild, text in atoms:
            if is_wild:
                wildcard(text == "*", True)
            else:
                tokens.extend(Token(LIT, ch) for ch in text)
        return tuple(tokens)
    components: list[list[Atom]] = [[]]
    for is_wild, text in atoms:
        if is_wild:
            components[-1].append((is_wild, text))
            continue
        rest = text
        while rest:
            if len(components) == 6:
                components[-1].append((False, rest))
                break
            head, colon, rest = rest.partition(":")
            if head:
                components[-1].append((False, head))
            if colon:
                components.append([])
    if len(components) < 6 and mode == ARN:
        return None
    for index, component in enumerate(components):
        if index:
            tokens.append(Token(LIT, ":"))
        last = index == 5
        for position, (is_wild, text) in enumerate(component):
            if not is_wild:
                tokens.extend(Token(LIT, ch) for ch in text)
            else:
                ends_segment = mode == RESOURCE and position == len(component) - 1
                star = text == "*"
                wildcard(star, last or (star and ends_segment))
    return tuple(tokens)


# ---------------------------------------------------------------------------------------------
# The automata and their product

_State = frozenset[tuple[int, int]]


def _close(test: Test, states: Iterable[tuple[int, int]]) -> _State:
    out: set[tuple[int, int]] = set()
    stack = list(states)
    while stack:
        item = stack.pop()
        if item in out:
            continue
        out.add(item)
        prog_index, pos = item
        program = test.programs[prog_index]
        if pos < len(program) and program[pos].kind == RUN:
            stack.append((prog_index, pos + 1))
    return frozenset(out)


def _feed(test: Test, states: _State, ch: str) -> _State:
    for c in ch.lower() if test.lower else ch:
        nxt: set[tuple[int, int]] = set()
        for prog_index, pos in states:
            program = test.programs[prog_index]
            if pos == len(program):
                continue
            tok = program[pos]
            if tok.kind == LIT:
                if tok.char == c:
                    nxt.add((prog_index, pos + 1))
            elif _BY_VALUE[tok.cls](c):
                nxt.add((prog_index, pos + 1 if tok.kind == ONE else pos))
        if not nxt:
            return frozenset()
        states = _close(test, nxt)
    return states


def _accepts(test: Test, states: _State) -> bool:
    return any(pos == len(test.programs[i]) for i, pos in states)


_PREIMAGES: dict[str, frozenset[str]] | None = None


def _lower_preimages() -> dict[str, frozenset[str]]:
    """For each character, the other characters whose lower case contains it (``K`` and the
    Kelvin sign for ``k``; ``İ``, whose lower case is two characters, for ``i``)."""
    global _PREIMAGES
    if _PREIMAGES is None:
        table: dict[str, set[str]] = {}
        for cp in range(0x110000):
            ch = chr(cp)
            low = ch.lower()
            if low != ch:
                for c in low:
                    table.setdefault(c, set()).add(ch)
        _PREIMAGES = {c: frozenset(s) for c, s in table.items()}
    return _PREIMAGES


_PARTNERS: dict[str, frozenset[str]] | None = None


def _images(ch: str) -> set[str]:
    """What the readings of "ignoring case" turn ``ch`` into (one character or several)."""
    one = java_upper(ch)
    return {ch.lower(), ch.casefold(), ch.upper(), one, java_lower(one), java_lower(ch)} - {ch}


def _literal_runs(program: Program) -> list[list[str]]:
    """The runs of literal characters of ``program``, between its wildcards."""
    runs: list[list[str]] = [[]]
    for tok in program:
        if tok.kind == LIT:
            runs[-1].append(tok.char)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _case_partners() -> dict[str, frozenset[str]]:
    """For each character, the characters one of whose images (:func:`_images`) holds it."""
    global _PARTNERS
    if _PARTNERS is None:
        table: dict[str, set[str]] = {}
        for cp in range(0x110000):
            ch = chr(cp)
            for image in _images(ch):
                for c in image:
                    table.setdefault(c, set()).add(ch)
        _PARTNERS = {c: frozenset(found) for c, found in table.items()}
    return _PARTNERS


def _case_disputed(mentioned: set[str], literals: Sequence[str]) -> tuple[str, str] | None:
    """A character and a text that the readings of "ignoring case" (runner.policy.operators:
    Unicode lower case, case folding, Java's equalsIgnoreCase) disagree about being the same,
    where the policy texts could tell (the dotless i and ``I``; the sharp s and ``ss``, which
    case folding makes one, when some literal run of the policy holds ``ss``), or None.
    ``mentioned`` are the characters of the policy texts, ``literals`` their literal runs."""
    table = _case_partners()
    runs = [run.lower() for run in literals]
    for m in sorted(mentioned):
        near = {m, *(c for image in _images(m) for c in image)}
        candidates = set(near).union(*(table.get(c, frozenset()) for c in near))
        for d in sorted(candidates):
            for other in sorted({m, *_images(d)}):
                if other == d:
                    continue
                if len(other) > 1 and not any(other.lower() in run for run in runs):
                    continue  # a text of several characters no policy text holds
                if len({same(d, other) for same in IGNORE_CASE_READINGS}) > 1:
                    return d, other
    return None


# Unmentioned characters to stand for their class combination, most readable first.
_POOL = (
    "qxzjkvwyabcdefghilmnoprstu7890123456"
    "QXZABCDEFGHIJKLMNOPRSTUVWY_+=,@.-/:~!#%&()*;<>?[]^`{|}$ é\u0660\t"
)


def alphabet(tests: Sequence[Test]) -> list[str]:
    """Every character that can make a difference to ``tests``, readable ones first."""
    mentioned: set[str] = set()
    classes: set[CharClass] = set()
    lowered = any(t.lower for t in tests)
    for test in tests:
        for program in test.programs:
            for tok in program:
                if tok.kind == LIT:
                    mentioned.add(tok.char)
                else:
                    classes.add(CharClass(tok.cls))
    if lowered:
        table = _lower_preimages()
        for ch in list(mentioned):
            mentioned |= table.get(ch, frozenset())
        if mentioned & _SIGMA:
            raise Undecidable(
                "an IgnoreCase comparison with a Greek sigma (\u03a3, \u03c3, \u03c2): the "
                "lower case of a capital sigma depends on where it stands in the text, which "
                "the universal check does not enumerate"
            )
        literals = [
            "".join(run)
            for test in tests
            if test.lower
            for program in test.programs
            for run in _literal_runs(program)
        ]
        disputed = _case_disputed(mentioned, literals)
        if disputed is not None:
            char, other = disputed
            raise Undecidable(
                f"an IgnoreCase comparison of text that may hold {char!r} "
                f'(U+{ord(char):04X}): the readings of "ignoring case" (Unicode lower case, '
                f"Unicode case folding, Java's equalsIgnoreCase) disagree on whether it is the "
                f'same as {other!r}, AWS says only "ignoring case", and the check ranges over '
                "callers whose text may hold it"
            )
    # unmentioned characters first: breadth first order then prefers fresh text ("q",
    # "777777777777") for the cells that no policy text names
    ordered: list[str] = []
    used = sorted(classes, key=lambda c: c.value)
    seen: set[tuple[bool, ...]] = set()
    for ch in _POOL:
        if ch in mentioned or (lowered and any(c in mentioned for c in ch.lower())):
            continue
        signature = tuple(cls.contains(ch) for cls in used)
        if signature not in seen:
            seen.add(signature)
            ordered.append(ch)
    ordered.extend(
        sorted(mentioned, key=lambda c: (_POOL.find(c) if c in _POOL else len(_POOL), c))
    )
    return ordered


class _Dfa:
    """One test's automaton, made deterministic as it is explored: states are numbered."""

    __slots__ = ("accept", "ids", "sets", "test", "trans")

    def __init__(self, test: Test) -> None:
        self.test = test
        self.ids: dict[_State, int] = {}
        self.sets: list[_State] = []
        self.accept: list[bool] = []
        self.trans: dict[tuple[int, str], int] = {}

    def number(self, states: _State) -> int:
        found = self.ids.get(states)
        if found is None:
            found = self.ids[states] = len(self.sets)
            self.sets.append(states)
            self.accept.append(_accepts(self.test, states))
        return found

    def start(self) -> int:
        return self.number(_close(self.test, [(i, 0) for i in range(len(self.test.programs))]))

    def step(self, state: int, ch: str) -> int:
        key = (state, ch)
        found = self.trans.get(key)
        if found is None:
            found = self.trans[key] = self.number(_feed(self.test, self.sets[state], ch))
        return found


_CELLS_CACHE: dict[tuple[tuple[Test, ...], int], dict[tuple[bool, ...], str]] = {}


def cells(
    tests: Sequence[Test], *, require: int = 0, max_states: int = 40_000
) -> dict[tuple[bool, ...], str]:
    """One shortest text per realizable acceptance vector of ``tests``.

    The first ``require`` tests are constraints (a shape the text must have): only texts that
    pass all of them count, and exploration stops where one of them can no longer pass. Raises
    :class:`StateBudgetExceeded` past ``max_states`` product states. Results are remembered
    (the same policies ask the same questions for many checks)."""
    cache_key = (tuple(tests), require)
    hit = _CELLS_CACHE.get(cache_key)
    if hit is not None:
        return dict(hit)
    chars = alphabet(tests)
    dfas = [_Dfa(t) for t in tests]
    dead = [d.number(frozenset()) for d in dfas]
    start = tuple(d.start() for d in dfas)
    found: dict[tuple[bool, ...], str] = {}
    seen = {start}
    queue: deque[tuple[tuple[int, ...], str]] = deque([(start, "")])
    indexed = list(enumerate(dfas))
    # the characters the first constraint still accepts, per state of it (a shape's literal
    # prefix accepts one character at a time)
    live: dict[int, list[str]] = {}
    first = dfas[0] if require else None
    while queue:
        state, text = queue.popleft()
        vector = tuple(d.accept[s] for d, s in zip(dfas, state, strict=True))
        if all(vector[:require]):
            key = vector[require:]
            if key not in found:
                found[key] = text
        options = chars
        if first is not None:
            options = live.get(state[0]) or []
            if state[0] not in live:
                options = live[state[0]] = [c for c in chars if first.step(state[0], c) != dead[0]]
        for ch in options:
            nxt: list[int] = []
            ok = True
            for i, d in indexed:
                n = d.trans.get((state[i], ch))
                if n is None:
                    n = d.step(state[i], ch)
                if i < require and n == dead[i]:
                    ok = False
                    break
                nxt.append(n)
            if not ok:
                continue
            nxt_state = tuple(nxt)
            if nxt_state not in seen:
                if len(seen) >= max_states:
                    raise StateBudgetExceeded(f"more than {max_states} automaton states")
                seen.add(nxt_state)
                queue.append((nxt_state, text + ch))
    if len(_CELLS_CACHE) >= 512:
        _CELLS_CACHE.clear()
    _CELLS_CACHE[cache_key] = found
    return dict(found)


def matches(test: Test, text: str) -> bool:
    """Whether ``text`` passes ``test`` (the same automaton, one text)."""
    states = _close(test, [(i, 0) for i in range(len(test.programs))])
    for ch in text:
        states = _feed(test, states, ch)
        if not states:
            return False
    return _accepts(test, states)
