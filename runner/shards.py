"""Shards: the spec files of a run split over several CI jobs (``--policy-shard=K/N``).

A spec file belongs to one shard, chosen by a hash of its path relative to the run's root (the
pytest rootdir, or the working directory of ``eval``), written with ``/``. Every job computes
the same split without talking to the others, whatever order it finds the files in, and a file
keeps its shard when other files come and go. With few files a shard may get more than its
share, or none; an empty shard is not an error. Merging the shards' results files
(``python -m runner report``) gives what one unsharded run gives.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePath

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
#: More shards than this is a typo (GitHub Actions runs at most 256 jobs per matrix).
MAX_SHARDS = 256


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` (1-based) of ``total``."""

    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"

    def includes(self, path: str | PurePath) -> bool:
        """Whether the spec file at ``path`` (relative to the run's root) is in this shard."""
        return shard_of(path, self.total) == self.index


def shard_of(path: str | PurePath, total: int) -> int:
    """The shard (1 to ``total``) of the spec file at ``path``, relative to the run's root."""
    text = str(path).replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % total


def parse_shard(text: str) -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``; ValueError saying what was expected otherwise."""
    m = _SHARD.match(text)
    if m is None:
        raise ValueError(f"expected K/N such as 1/3 (shard K of N), got {text!r}")
    index, total = int(m[1]), int(m[2])
    if not 1 <= total <= MAX_SHARDS:
        raise ValueError(f"the number of shards must be 1 to {MAX_SHARDS}, got {total}")
    if not 1 <= index <= total:
        raise ValueError(f"the shard must be 1 to {total}, got {index} in {text!r}")
    return Shard(index, total)
