"""Wording shared by every message the tool writes: did-you-mean suggestions and lists in prose.

One place for these so that a typo gets the same kind of suggestion whether it is a spec key,
a condition operator, a policy element or an action.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - types only
    from difflib import SequenceMatcher

# difflib (and heapq, which it imports) is imported on the first suggestion, not at every
# start: a run whose files are all spelled right never asks for one.


def _matcher(a: str, b: str) -> SequenceMatcher[str]:
    import difflib

    return difflib.SequenceMatcher(None, a, b)


#: Why two tag keys that differ only in case are refused (IAM refuses them for users and roles;
#: ECR keeps both on a repository, but a policy reads tags through condition keys, whose names
#: ignore case, so which of the two it saw would be a guess).
TAGS_DIFFER_IN_CASE = (
    "condition keys ignore case (aws:PrincipalTag/..., aws:ResourceTag/...), so no policy can "
    "tell these tags apart"
)


#: How close a word must be (``difflib`` ratio, case-insensitive) to be suggested. Policy
#: element names are short and their typos far (``Efect``), so the policy grammar asks with a
#: lower cut-off (:data:`LOOSE`).
CUTOFF = 0.6
LOOSE = 0.5


def closest(word: str, choices: Iterable[str], *, cutoff: float = CUTOFF) -> str | None:
    """The choice closest to ``word`` ignoring case (an exact match in another case first), as
    it is spelled in ``choices``; None when nothing is close enough."""
    lowered: dict[str, str] = {}
    for choice in choices:
        lowered.setdefault(choice.lower(), choice)
    key = word.lower()
    if key in lowered:
        return lowered[key]
    import difflib

    hits = difflib.get_close_matches(key, list(lowered), n=1, cutoff=cutoff)
    return lowered[hits[0]] if hits else None


def by_closeness(word: str, choices: Iterable[str]) -> list[str]:
    """``choices`` ordered from the closest to ``word`` (ignoring case) to the farthest."""
    key = word.lower()
    return sorted(choices, key=lambda c: -_matcher(key, c.lower()).ratio())


def similarity(a: str, b: str) -> float:
    """The ``difflib`` ratio of two words as they are (0 to 1)."""
    return _matcher(a, b).ratio()


def join(words: Sequence[str], conjunction: str = "and") -> str:
    """``["a"]`` -> ``a``; ``["a", "b"]`` -> ``a and b``; ``["a", "b", "c"]`` -> ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conjunction} {words[-1]}"


def did_you_mean(options: Sequence[str]) -> str:
    """``; did you mean X?`` (or ``X, Y or Z?``) for the options, or an empty string."""
    if not options:
        return ""
    return f"; did you mean {join(options, 'or')}?"


def join_clauses(clauses: Sequence[str]) -> str:
    """Parts of a sentence that are clauses of their own, with a comma before the last:
    ``a``; ``a, and b``; ``a, b, and c``."""
    if len(clauses) <= 1:
        return "".join(clauses)
    return ", ".join(clauses[:-1]) + ", and " + clauses[-1]
