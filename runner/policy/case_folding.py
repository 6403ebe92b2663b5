"""What "ignoring case" means to an IgnoreCase operator ("Condition operators" says only
"ignoring case"): the readings the engine requires to agree, Unicode lower case, Unicode case
folding and Java's ``equalsIgnoreCase``; where they disagree the comparison is
:class:`~runner.errors.Undecided`. Also used by universal checks (the letters a caller's text
may hold that the readings disagree on).
"""

from __future__ import annotations

from collections.abc import Callable

from runner.errors import Undecided

__all__ = ["IGNORE_CASE_READINGS", "ignore_case_matcher", "java_lower", "java_upper"]

#: A test of one request value
Match = Callable[[str], bool]


def ignore_case_matcher(policy: list[str]) -> Match:
    """Whether a request value equals one of ``policy`` ignoring case. In ASCII ignoring case
    has one meaning; beyond it the rules differ (``I`` and the dotless i, U+0131, are one
    letter to Java's ``equalsIgnoreCase``, not to Python's ``lower()``; ``ß`` and ``SS`` are
    one to ``casefold()``), "Condition operators" says only "ignoring case", and a comparison
    that the rules answer differently raises :class:`~runner.errors.Undecided`."""
    if all(v.isascii() for v in policy):
        lowered = {v.lower() for v in policy}

        def ascii_policy(r: str) -> bool:
            if r.isascii():
                return r.lower() in lowered
            return _folded_any(r, policy)

        return ascii_policy
    return lambda r: _folded_any(r, policy)


def _folded_any(request: str, policy: list[str]) -> bool:
    undecided = None
    for value in policy:
        verdicts = {rule(request, value) for rule in IGNORE_CASE_READINGS}
        if verdicts == {True}:
            return True
        if len(verdicts) > 1:
            undecided = value
    if undecided is not None:
        raise Undecided(
            f"an IgnoreCase comparison of {request!r} with {undecided!r}: they are one text "
            "ignoring case by some rules of case folding and not by others (Unicode lower "
            "case, Unicode case folding, Java's equalsIgnoreCase), and AWS says only "
            '"ignoring case"'
        )
    return False


def _char_equal_ignoring_case(a: str, b: str) -> bool:
    """Java's ``String.equalsIgnoreCase``: the same length, and each pair of characters the
    same, or the same in upper case, or the same in the lower case of that (one character
    each: a character whose case has several is kept)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        ux, uy = java_upper(x), java_upper(y)
        if ux != uy and java_lower(ux) != java_lower(uy):
            return False
    return True


def java_upper(char: str) -> str:
    """``Character.toUpperCase``: the simple (one character) upper case mapping."""
    changed = char.upper()
    return changed if len(changed) == 1 else char


def java_lower(char: str) -> str:
    """``Character.toLowerCase``: the simple lower case mapping. Python's ``lower()`` gives
    the full one, two characters for the dotted capital I (U+0130), whose simple lower case
    is ``i``; no other character's lower case is longer than one."""
    if char == "\u0130":
        return "i"
    changed = char.lower()
    return changed if len(changed) == 1 else char


#: The readings of "ignoring case" an IgnoreCase comparison must agree under: Unicode's (lower
#: case, case folding) and Java's. Most letters agree (é and É are one under each); folding
#: ASCII letters alone is not taken for a reading of "ignoring case".
IGNORE_CASE_READINGS: tuple[Callable[[str, str], bool], ...] = (
    lambda a, b: a.lower() == b.lower(),
    lambda a, b: a.casefold() == b.casefold(),
    _char_equal_ignoring_case,
)
