"""Wildcard patterns (``*`` any run, ``?`` one character) compiled to matchers that take time
linear in the text for every pattern, however hostile.

Policies use such patterns in four places: condition values (``StringLike``: plain text),
ARN condition values (``ArnLike``: component by component), ``Resource`` ARNs (a ``*`` that
ends a segment may cross ``:``) and actions (any case). A pattern arrives as :class:`Atom`
pieces (policy text has been split from the text of policy variables, which is always
literal) and a :class:`Mode`; :func:`compile_atoms` turns it into a :class:`Matcher`.

Python's backtracking ``re`` takes time exponential in the number of ``.*`` on hostile text
(``*a*a*a*a*a*a*a*a*a*a*b`` against sixty ``a``: hours), and a set-of-states automaton takes
time proportional to the text *times* the pattern (5,000 stars against a megabyte: hours too).
Instead a pattern is cut at its ``*`` into pieces of fixed length (literal text and ``?``):
the first piece must match at the start, the last at the end, and each one between is found
left to right, at its leftmost place after the previous one. That greedy choice is exact:
whatever a later piece needs, an earlier end for this one leaves it at least as much room, and
``*`` accepts whatever lies between. A literal piece is found with ``str.find``; a piece with
``?`` with a regex of fixed length (no repetition, so no backtracking). In an ARN compared
component by component, the text is cut at its first five colons and each component matched on
its own. Only a ``Resource`` segment with a ``*`` that does not end it (``us-*-1``, a run that
stops at ``:``) needs an automaton, and only for that stretch of pattern: a bit-parallel one,
one integer operation per character for the whole stretch.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Atom",
    "Matcher",
    "Mode",
    "Token",
    "TokenKind",
    "compile_atoms",
    "compile_pattern",
    "token_regex",
]

_MEMO_LIMIT = 256
# A pattern that matches nothing (an ARN pattern of fewer than six parts).
_NEVER = re.compile(r"(?!)")
# Case-insensitive matching folds text as ``re.IGNORECASE`` does for ASCII letters: these four
# characters are the ones outside ASCII that it takes for an ASCII letter.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def fold(text: str) -> str:
    """``text`` as case-insensitive matching compares it."""
    return text.translate(_FOLD).lower()


class Mode(enum.Enum):
    """How wildcards meet ``:``: in plain text (they match anything); in an ARN compared
    component by component (ARN condition operators: they stay within one of the first five
    components); in a ``Resource`` ARN pattern (as in an ARN, except that a ``*`` ending one
    of the first five segments may cross ``:``)."""

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


class TokenKind(enum.Enum):
    CHAR = "char"  # one character that stands for itself
    ONE = "one"  # ?: any one character
    RUN = "run"  # *: any run of characters, empty too


@dataclass(frozen=True, slots=True)
class Token:
    """One position of a pattern; ``colon`` says whether a ``?`` or ``*`` may match ``:``."""

    kind: TokenKind
    char: str = ""
    colon: bool = True


def token_regex(tokens: list[Token], *, ignore_case: bool = False) -> re.Pattern[str]:
    """The backtracking regex for a token list: what the matchers here compute, the slow way.
    Fine for a list without runs (fixed length, so linear); the reference in tests."""
    out: list[str] = []
    for t in tokens:
        if t.kind is TokenKind.CHAR:
            out.append(re.escape(t.char))
        elif t.kind is TokenKind.ONE:
            out.append("." if t.colon else "[^:]")
        else:
            out.append(".*" if t.colon else "[^:]*")
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


# ---------------------------------------------------------------------------------------------
# Pieces: the stretches of a pattern between the runs that may match anything


class _Piece(Protocol):
    def at(self, text: str, pos: int) -> int | None:
        """The earliest end of a match that starts at ``pos``."""

    def find(self, text: str, pos: int, end: int) -> int | None:
        """The earliest end (at most ``end``) of a match that starts at ``pos`` or later."""

    def suffix(self, text: str, pos: int) -> bool:
        """Whether a match starting at ``pos`` or later ends where the text ends."""

    def whole(self, text: str) -> bool:
        """Whether the piece matches the whole text."""


class _Literal:
    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def at(self, text: str, pos: int) -> int | None:
        return pos + len(self._text) if text.startswith(self._text, pos) else None

    def find(self, text: str, pos: int, end: int) -> int | None:
        found = text.find(self._text, pos, end)
        return None if found < 0 else found + len(self._text)

    def suffix(self, text: str, pos: int) -> bool:
        return len(text) - pos >= len(self._text) and text.endswith(self._text)

    def whole(self, text: str) -> bool:
        return text == self._text


class _Fixed:
    """Literal characters and ``?``: a regex of fixed length."""

    __slots__ = ("_length", "_rx")

    def __init__(self, tokens: list[Token]) -> None:
        self._rx = token_regex(tokens)
        self._length = len(tokens)

    def at(self, text: str, pos: int) -> int | None:
        return pos + self._length if self._rx.match(text, pos) else None

    def find(self, text: str, pos: int, end: int) -> int | None:
        m = self._rx.search(text, pos, end)
        return None if m is None else m.end()

    def suffix(self, text: str, pos: int) -> bool:
        start = len(text) - self._length
        return start >= pos and self._rx.match(text, start) is not None

    def whole(self, text: str) -> bool:
        return self._rx.fullmatch(text) is not None


class _Automaton:
    """A stretch with runs that stop at ``:``, as a bit-parallel automaton: bit *i* of the state
    is set when the first *i* tokens can match the text read so far."""

    __slots__ = ("_accept", "_advance", "_advance_other", "_empty", "_loop", "_loop_other")

    def __init__(self, tokens: list[Token]) -> None:
        by_char: dict[str, int] = {}
        one = one_colon = run = run_colon = 0
        for i, t in enumerate(tokens):
            bit = 1 << i
            if t.kind is TokenKind.CHAR:
                by_char[t.char] = by_char.get(t.char, 0) | bit
            elif t.kind is TokenKind.ONE:
                one |= bit
                one_colon |= bit if t.colon else 0
            else:
                run |= bit
                run_colon |= bit if t.colon else 0
        # tokens that consume a character and move on, by character (any other: _advance_other)
        self._advance = {c: bits | (one_colon if c == ":" else one) for c, bits in by_char.items()}
        self._advance.setdefault(":", one_colon)
        self._advance_other = one
        # runs that consume a character and stay
        self._loop = {":": run_colon}
        self._loop_other = run
        self._accept = 1 << len(tokens)
        # runs may be empty: a state at a run is also the state after it (runs never follow
        # runs: compile_atoms merges them)
        self._empty = run

    def _start(self) -> int:
        return 1 | (1 & self._empty) << 1

    def _step(self, state: int, ch: str) -> int:
        nxt = (state & self._advance.get(ch, self._advance_other)) << 1
        nxt |= state & self._loop.get(ch, self._loop_other)
        return nxt | (nxt & self._empty) << 1

    def at(self, text: str, pos: int) -> int | None:
        state, accept = self._start(), self._accept
        for i in range(pos, len(text) + 1):
            if state & accept:
                return i
            if i == len(text) or not state:
                return None
            state = self._step(state, text[i])
        return None

    def find(self, text: str, pos: int, end: int) -> int | None:
        start = self._start()
        state, accept = start, self._accept
        for i in range(pos, end + 1):
            if state & accept:
                return i
            if i == end:
                return None
            state = self._step(state, text[i]) | start
        return None

    def suffix(self, text: str, pos: int) -> bool:
        start = self._start()
        state = start
        for i in range(pos, len(text)):
            state = self._step(state, text[i]) | start
        return bool(state & self._accept)

    def whole(self, text: str) -> bool:
        state = self._start()
        for ch in text:
            state = self._step(state, ch)
            if not state:
                return False
        return bool(state & self._accept)


def _piece(tokens: list[Token]) -> _Piece:
    if all(t.kind is TokenKind.CHAR for t in tokens):
        return _Literal("".join(t.char for t in tokens))
    if all(t.kind is not TokenKind.RUN for t in tokens):
        return _Fixed(tokens)
    return _Automaton(tokens)


# ---------------------------------------------------------------------------------------------
# Whole patterns


class _Greedy:
    """A pattern cut at its runs that may match anything: see the module's docstring."""

    __slots__ = ("_first", "_fold", "_last", "_memo", "_middle", "_tokens")

    def __init__(self, tokens: list[Token], ignore_case: bool) -> None:
        self._tokens = tokens
        self._fold = ignore_case
        pieces: list[list[Token]] = [[]]
        for t in tokens:
            if t.kind is TokenKind.RUN and t.colon:
                pieces.append([])
            else:
                pieces[-1].append(t)
        compiled = [_piece(p) for p in pieces]
        self._first = compiled[0]
        self._middle = tuple(compiled[1:-1])
        self._last = compiled[-1] if len(compiled) > 1 else None
        self._memo: dict[str, bool] = {}

    def fullmatch(self, string: str) -> bool:
        hit = self._memo.get(string)
        if hit is None:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            hit = self._memo[string] = self._match(fold(string) if self._fold else string)
        return hit

    def _match(self, text: str) -> bool:
        if self._last is None:
            return self._first.whole(text)
        pos = self._first.at(text, 0)
        if pos is None:
            return False
        end = len(text)
        for piece in self._middle:
            found = piece.find(text, pos, end)
            if found is None:
                return False
            pos = found
        return self._last.suffix(text, pos)


class _Components:
    """An ARN pattern compared component by component: the text is cut at its first five
    colons, and each of its six components must match the pattern's."""

    __slots__ = ("_parts", "_tokens")

    def __init__(self, tokens: list[Token], parts: list[list[Token]]) -> None:
        self._tokens = tokens
        # a component of the text holds no colon (the sixth aside, whose wildcards cross
        # colons anyway): whether a wildcard may match one makes no difference there
        self._parts = tuple(_whole([_crossing(t) for t in p]) for p in parts)

    def fullmatch(self, string: str) -> bool:
        parts = string.split(":", 5)
        if len(parts) != 6:
            return False
        return all(m.fullmatch(p) for m, p in zip(self._parts, parts, strict=True))


def _whole(tokens: list[Token]) -> Matcher:
    """The matcher for a token list: a regex without runs (linear), else the greedy one."""
    if not any(t.kind is TokenKind.RUN for t in tokens):
        return token_regex(tokens)
    return _Greedy(tokens, False)


def _crossing(t: Token) -> Token:
    return t if t.colon or t.kind is TokenKind.CHAR else Token(t.kind, colon=True)


def _merge_runs(tokens: list[Token]) -> list[Token]:
    """Adjacent runs as one (``**`` is ``*``; a run stopping at ``:`` next to one that does not
    is the latter)."""
    out: list[Token] = []
    for t in tokens:
        if t.kind is TokenKind.RUN and out and out[-1].kind is TokenKind.RUN:
            if t.colon and not out[-1].colon:
                out[-1] = t
            continue
        out.append(t)
    return out


def _chars(text: str) -> list[Token]:
    return [Token(TokenKind.CHAR, ch) for ch in text]


def _wild(atom: Atom, colon: bool) -> Token:
    return Token(TokenKind.RUN if atom.text == "*" else TokenKind.ONE, colon=colon)


def compile_atoms(atoms: list[Atom], mode: Mode, *, ignore_case: bool = False) -> Matcher:
    """The pattern as a matcher to ``fullmatch`` against text (a regex when it has no ``*``).
    ``ignore_case`` (plain text only) compares as ``re.IGNORECASE`` does for ASCII text."""
    if mode is Mode.TEXT:
        tokens: list[Token] = []
        for atom in atoms:
            if atom.wild:
                tokens.append(_wild(atom, True))
            else:
                tokens.extend(_chars(fold(atom.text) if ignore_case else atom.text))
        tokens = _merge_runs(tokens)
        if not any(t.kind is TokenKind.RUN for t in tokens):
            return token_regex(tokens, ignore_case=ignore_case)
        return _Greedy(tokens, ignore_case)
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
    parts: list[list[Token]] = []
    for index, component in enumerate(components):
        last = index == 5
        part: list[Token] = []
        for position, atom in enumerate(component):
            if not atom.wild:
                part.extend(_chars(atom.text))
            else:
                ends_segment = mode is Mode.RESOURCE and position == len(component) - 1
                part.append(_wild(atom, last or (atom.text == "*" and ends_segment)))
        parts.append(_merge_runs(part))
    tokens = []
    for index, part in enumerate(parts):
        if index:
            tokens.append(Token(TokenKind.CHAR, ":"))
        tokens.extend(part)
    tokens = _merge_runs(tokens)
    if mode is Mode.ARN and any(t.kind is TokenKind.RUN for t in tokens):
        return _Components(tokens, parts)
    return _whole(tokens)


def compile_pattern(text: str, mode: Mode = Mode.TEXT, *, ignore_case: bool = False) -> Matcher:
    """:func:`compile_atoms` for text whose every ``*`` and ``?`` is a wildcard."""
    atoms = [Atom(piece in ("*", "?"), piece) for piece in re.split(r"([*?])", text) if piece != ""]
    return compile_atoms(atoms, mode, ignore_case=ignore_case)
