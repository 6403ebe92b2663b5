"""Reading spec and policy files: a size bound, decoding (UTF-8, or UTF-16 with a byte order
mark), and :func:`parse_file`, which composes and checks a file (see
:func:`runner.spec.yamlcheck.compose_text`) and keeps the result of a shared file (an include,
a policy) for the process.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from runner.spec.yamlcheck import compose_text
from runner.spec.yamlsafe import Node, TextProblem

__all__ = ["MAX_FILE_BYTES", "FileKey", "Parsed", "parse_file", "sniff_text"]

#: Files larger than this are refused (a spec or policy is a few kilobytes; AWS's largest policy
#: is 10,240 characters). Composing YAML costs up to ~150 bytes of memory per byte of a
#: hostile file (4 MB of "1," took 614 MB), so the bound is also a memory bound: ~300 MB.
MAX_FILE_BYTES = 2 * 1024 * 1024


def _read_bytes(path: Path) -> tuple[bytes | None, list[TextProblem]]:
    try:
        with open(path, "rb") as fh:  # the size of the open file: one stat call, not two
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                return None, [
                    TextProblem(
                        1,
                        1,
                        f"the file is too large ({size:,} bytes); files of at most "
                        f"{MAX_FILE_BYTES:,} bytes are read",
                    )
                ]
            return fh.read(), []
    except OSError as exc:
        return None, [TextProblem(1, 1, f"cannot read the file: {exc.strerror or exc}")]


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def sniff_text(data: bytes) -> str:
    """The first bytes of a file as text, undecodable bytes replaced (for guessing only)."""
    codec = "utf-16" if data[:2] in _UTF16_BOMS else "utf-8"
    return data.decode(codec, errors="replace")


def _decode(data: bytes) -> tuple[str | None, list[TextProblem]]:
    if data[:2] in _UTF16_BOMS:  # YAML allows UTF-16 with a byte order mark
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError:
            return None, [TextProblem(1, 1, "the file starts as UTF-16 but is not UTF-16 text")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        col = start - (data.rfind(b"\n", 0, start) + 1) + 1
        return None, [
            TextProblem(
                line,
                col,
                f"the file is not UTF-8 text (byte 0x{data[start]:02x} cannot be decoded); "
                "save it as UTF-8",
            )
        ]


#: A file's identity for the caches: its resolved path and a digest of its content (not its
#: mtime, which may not change between two quick writes).
FileKey: TypeAlias = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A file read and composed: ``root`` (None when empty), or ``problems``. ``text`` is the
    decoded text (None when the file could not be read or decoded); ``key`` its identity for
    the caches (None when it could not be read, or was read with ``cache=False``)."""

    key: FileKey | None
    text: str | None
    root: Node | None
    problems: tuple[TextProblem, ...]


_parse_cache: dict[tuple[FileKey, bool], Parsed] = {}
_CACHE_LIMIT = 512


#: The longest implicit key YAML reads (YAML 1.1 and 1.2, "implicit keys are restricted to a
#: single line ... at most 1024 Unicode characters"); libyaml then reports the ':' after it.
MAX_PLAIN_KEY = 1024
_KEY_ERRORS = (
    "invalid YAML: mapping values are not allowed in this context",
    "invalid YAML: did not find expected ',' or '}'",
)
#: What precedes a key on its line: indentation, list dashes, or a flow mapping's '{' or ','.
_KEY_START = re.compile(r".*[{,][ \t]*|(?:[ \t]*-(?=[ \t]))*[ \t]*")


def _long_key(text: str, problem: TextProblem) -> TextProblem:
    """``problem``, or, when it is libyaml's complaint about the ':' after a key longer than
    YAML allows, that explained at the key's start (only problems are looked at: a valid file
    costs nothing)."""
    if not problem.message.startswith(_KEY_ERRORS):
        return problem
    lines = text.splitlines()
    if not 0 < problem.line <= len(lines):
        return problem
    before = lines[problem.line - 1][: problem.col - 1]
    start = _KEY_START.match(before)
    first = start.end() if start is not None else 0
    length = len(before.rstrip()) - first
    if length <= MAX_PLAIN_KEY:
        return problem
    return TextProblem(
        problem.line,
        first + 1,
        f"invalid YAML: this key is {length:,} characters long; YAML limits a key written "
        f"without '?' to {MAX_PLAIN_KEY} characters on one line, so the ':' after it is not "
        "read as the key's",
    )


def parse_file(path: Path, *, cache: bool = True, custom_tags: bool = False) -> Parsed:
    """Read and compose ``path`` (see :func:`compose_text`); never raises.

    A file shared by many specs (an include, a policy) is composed once per process, cached
    by path and content. Spec files are read with ``cache=False``: each is read once, and
    keeping every tree alive would only slow the garbage collector down (nor is its content
    digested: ``key`` is None).
    """
    data, problems = _read_bytes(path)
    if data is None:
        return Parsed(None, None, None, tuple(problems))
    key: FileKey | None = None
    if cache:  # a file read once has no use for its digest
        import hashlib  # here: its import (OpenSSL) is ~5 ms, and most runs read no shared file

        key = (str(path), hashlib.blake2b(data, digest_size=16).digest())
        cached = _parse_cache.get((key, custom_tags))
        if cached is not None:
            return cached
    text, problems = _decode(data)
    if text is None:
        parsed = Parsed(key, None, None, tuple(problems))
    else:
        composed = compose_text(text, custom_tags=custom_tags)
        found = composed.problems
        if found:
            found = tuple(_long_key(text, p) for p in found)
        parsed = Parsed(key, text, composed.root, found)
    if key is not None:
        if len(_parse_cache) >= _CACHE_LIMIT:
            _parse_cache.pop(next(iter(_parse_cache)))
        _parse_cache[(key, custom_tags)] = parsed
    return parsed
