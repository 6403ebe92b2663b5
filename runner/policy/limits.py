"""The limits AWS sets on a policy document as text: its size and the characters it may hold.

Sources: "IAM and AWS STS quotas" (sizes of managed, inline and session policies; the
characters of IAM policy documents) and the AWS Organizations quotas (SCPs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping

from runner.model import PolicyKind, PolicyPath, PolicyProblem

__all__ = ["IAM_KINDS", "text_problems"]

#: The policies of IAM itself: their characters are limited, and so are their Sids
#: (letters and digits only, "IAM JSON policy elements: Sid").
IAM_KINDS = frozenset({PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION})

#: The largest policy of each kind AWS accepts, in characters without white space
#: ("IAM and AWS STS quotas": managed policies 6,144, inline policies at most 10,240, "IAM
#: doesn't count white space"; AssumeRole: session policies 2,048; AWS Organizations quotas:
#: SCPs 5,120, where every character counts, so the compact JSON is the least they can be).
_MAX_CHARS = {
    PolicyKind.IDENTITY: (10_240, "an identity policy (10,240 for the largest inline one)"),
    PolicyKind.BOUNDARY: (6_144, "a permissions boundary (a managed policy: 6,144)"),
    PolicyKind.SESSION: (2_048, "a session policy (2,048)"),
    PolicyKind.SCP: (5_120, "an SCP (5,120)"),
}
_NOT_LATIN1 = re.compile(r"[^\t\n\r\x20-\xff]")


def text_problems(doc: Mapping[str, object], kind: PolicyKind) -> list[PolicyProblem]:
    """Characters and size, for the kinds whose limits AWS documents."""
    problems: list[PolicyProblem] = []
    limit = _MAX_CHARS.get(kind)
    if kind not in IAM_KINDS and limit is None:
        return problems
    # json escapes control characters (\u0001, \b, \f): any escape, like any character past
    # U+00FF, sends the search below through the document to find where it is
    compact = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str)
    if kind in IAM_KINDS and (_NOT_LATIN1.search(compact) or "\\" in compact):
        # "Policy documents can contain only the following Unicode characters: horizontal tab
        # (U+0009), linefeed (U+000A), carriage return (U+000D), and characters in the range
        # U+0020 to U+00FF" ("IAM and AWS STS quotas")
        for where, text in _texts(doc, ()):
            bad = _NOT_LATIN1.search(text)
            if bad is not None:
                problems.append(
                    PolicyProblem(
                        where,
                        f"{text!r} contains {bad.group()!r} (U+{ord(bad.group()):04X}); IAM "
                        "policy documents may contain only tab, line feed, carriage return and "
                        'the characters U+0020 to U+00FF ("IAM and AWS STS quotas")',
                    )
                )
                break
    if limit is not None:
        size = len(compact)
        if kind is not PolicyKind.SCP:  # for SCPs every character counts
            size -= sum(map(compact.count, " \t\n\r"))
        if size > limit[0]:
            problems.append(
                PolicyProblem(
                    (),
                    f"this policy has {size:,} characters"
                    f"{'' if kind is PolicyKind.SCP else ' without white space'}, more than AWS "
                    f"accepts in {limit[1]}",
                )
            )
    return problems


def _texts(value: object, path: PolicyPath) -> Iterator[tuple[PolicyPath, str]]:
    """Every key and string in a JSON document, with where it is."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*path, key), key
            yield from _texts(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _texts(item, (*path, i))
