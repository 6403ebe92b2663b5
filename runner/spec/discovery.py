"""Which files are spec files: the collection rule shared by pytest and ``runner eval``."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from runner import words
from runner.errors import Problem
from runner.spec.includes import SPEC_KEYS, SUFFIXES
from runner.spec.yamlfiles import sniff_text
from runner.spec.yamlsafe import MappingNode, ScalarNode, compose_quietly

__all__ = ["SKIP_DIRS", "find_spec_files", "looks_like_spec"]

#: Directories never searched for spec files (as pytest's default ``norecursedirs``).
SKIP_DIRS = frozenset(
    {"node_modules", "venv", "build", "dist", "__pycache__", "site-packages", "CVS", "{arch}"}
)

_TOP_KEY_LINE = re.compile(
    r"""^(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"\-?:{}\[\]&*!|>%@`,][^:#\n]*?))\s*:(?:\s|$)"""
)
_SNIFF_BYTES = 256 * 1024
#: A top-level key is looked for in this much of a line: the pattern is quadratic in the
#: length of a line without a colon (a 256 KB one took a minute).
_KEY_LINE_CHARS = 256
_LEADING = re.compile(r"\A(?:\s+|#[^\n]*|---)*")


def _near(key: str, vocabulary: Sequence[str]) -> bool:
    return any(words.similarity(key, v) >= 0.8 for v in vocabulary)


def _flow_mapping_keys(text: str) -> list[str]:
    """The top-level keys of a file written as one flow mapping (``{principals: ..., cases:
    [...]}``), which has no ``key:`` line at column 0; composed only (no YAML tag is ever
    interpreted). Empty for anything else.

    A spec written as JSON is such a file, and its loader composes it again: composing it
    here too was half of the YAML work of collecting 60 JSON spec files
    (benchmarks/bench_universal.py). JSON that YAML reads the same way is decoded as JSON
    instead (:func:`_json_keys`, a twentieth of the time); anything else is composed."""
    lead = _LEADING.match(text)
    if not text[lead.end() if lead else 0 :].startswith("{"):
        return []
    keys = _json_keys(text)
    return keys if keys is not None else _composed_keys(text)


def _composed_keys(text: str) -> list[str]:
    root = compose_quietly(text)
    if not isinstance(root, MappingNode):
        return []
    return [k.value for k, _v in root.value if isinstance(k, ScalarNode)]


#: What JSON accepts and YAML reads otherwise, or refuses: a character outside printable ASCII
#: (YAML refuses DEL and most C1 controls, breaks lines at U+2028, and refuses a tab where a
#: line's indentation is), an escaped surrogate
#: (JSON pairs them, YAML refuses them), a line break between a key and its colon (a YAML
#: flow key is on one line), a long run of blanks (a YAML flow key and its colon are within
#: 1024 characters).
_NOT_YAML_ALIKE = re.compile(
    r'[^\n\r\x20-\x7e]|\\u[dD][89a-fA-F]|"[ \t]*[\r\n][ \t\r\n]*:|[ \t]{200}'
)
#: Longer keys are left to YAML (with \uXXXX escapes, 100 characters are at most 602 in the
#: text, and 200 blanks before the colon stay within YAML's 1024).
_JSON_KEY_CHARS = 100


class _NotAlike(Exception):
    pass


def _pairs(pairs: list[tuple[str, object]]) -> list[tuple[str, object]]:
    for key, _value in pairs:
        if len(key) > _JSON_KEY_CHARS:
            raise _NotAlike
    return pairs


def _json_keys(text: str) -> list[str] | None:
    """The top-level keys of ``text`` read as JSON (duplicates kept, in order), when it is JSON
    that YAML composes to the same keys; None when it is not JSON or YAML could read it
    otherwise (then it is composed)."""
    if _NOT_YAML_ALIKE.search(text):
        return None
    try:
        top = json.loads(text, object_pairs_hook=_pairs)
    except (ValueError, RecursionError, _NotAlike):
        return None
    return [key for key, _value in top] if isinstance(top, list) else None


def looks_like_spec(path: Path) -> bool:
    """The collection rule: is ``path`` a spec file (including a misspelt one)?

    A ``.yaml``/``.yml`` file whose name does not start with ``_`` is a spec when, reading
    only the lines that start at column 0 with ``key:`` (no YAML parsing, so CloudFormation
    tags and other YAML dialects are never interpreted; a file that is one flow mapping
    ``{...}`` is composed instead), its top-level keys include ``cases``
    or a near-miss of it (``case``, ``Cases``), or when all of them are spec keys or
    near-misses of spec keys (difflib ratio >= 0.8, lowercase keys only) and at least one is.
    Never raises.
    """
    try:
        if path.suffix not in SUFFIXES or path.name.startswith("_") or not path.is_file():
            return False
        with path.open("rb") as fh:
            # fh.read(_SNIFF_BYTES) would allocate a quarter megabyte first (12 us a file, as
            # much as the rest of this function): read with a buffer of the file's size, and on
            # to the limit only if the file has grown since
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(min(size + 1, _SNIFF_BYTES))
            if len(data) > size:
                data += fh.read(_SNIFF_BYTES - len(data))
    except OSError:
        return False
    text = sniff_text(data)
    keys: list[str] = []
    for line in text.splitlines():
        if not line or line[0] in " \t#":
            continue
        m = _TOP_KEY_LINE.match(line[:_KEY_LINE_CHARS])
        if m:
            keys.append(next(g for g in m.groups() if g is not None).strip())
    if not keys:
        keys = _flow_mapping_keys(text)
    if not keys:
        return False
    if "cases" in keys or any(_near(k.lower(), ("cases",)) for k in keys):
        return True
    for key in keys:
        if key in SPEC_KEYS:
            continue
        if key[:1].islower() and _near(key, SPEC_KEYS):
            continue
        return False
    return True


def find_spec_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[Problem]]:
    """Spec files named by ``paths``: a file is taken as given (unless it is an include file,
    whose name starts with ``_``); a directory is searched with the collection rule
    (:func:`looks_like_spec`). Missing paths become problems."""
    found: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            mode = 0  # said below
        except (OSError, ValueError) as exc:  # a name too long, a NUL in it ...
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(Problem(None, f"{path}: cannot be read: {reason}"))
            continue
        if stat.S_ISDIR(mode):
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(
                    d
                    for d in dirnames
                    if not d.startswith(".") and d not in SKIP_DIRS and not d.endswith(".egg-info")
                )
                for name in sorted(filenames):
                    candidate = Path(dirpath, name)
                    if looks_like_spec(candidate):
                        found.append(candidate)
        elif stat.S_ISREG(mode):
            if path.name.startswith("_"):
                problems.append(
                    Problem(None, f"{path}: an include file (name starts with _) is not a spec")
                )
            else:
                found.append(path)
        elif mode == 0:
            problems.append(Problem(None, f"{path}: no such file or directory"))
        else:  # it exists (symbolic links followed), but reading it would block or never end
            problems.append(Problem(None, f"{path}: not a regular file ({_kind(mode)})"))
    return found, problems


def _kind(mode: int) -> str:
    """What a file that is neither a regular file nor a directory is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"
