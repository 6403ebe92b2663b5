"""Policy sources: where a named policy's document comes from, and how to point into it.

A ``policies`` entry gives either ``file`` (a JSON or YAML file, or the JSON that ``aws ecr
get-repository-policy`` prints, whose ``policyText`` holds the document as a string) or
``document`` (a mapping inline, or JSON text inline). :func:`policy_source` reads it into a
:class:`PolicySource`: the document as plain Python (built on demand), an exact identity of
its content for the compile cache, and a way to turn a problem's ``PolicyPath`` into a line
and column of the file it came from.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import model
from runner.policy import RepeatedKey, unique_keys
from runner.spec.imports.jsonpos import JsonProblem, parse_json
from runner.spec.includes import NO_FILE, NOT_REGULAR, Places, file_state, join
from runner.spec.nodes import Definition, Reader
from runner.spec.yamlfiles import parse_file
from runner.spec.yamlsafe import (
    STR,
    Located,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    describe,
    excerpt,
    plain,
    text_key,
    where,
)

__all__ = ["POLICY_KEYS", "PolicySource", "policy_source"]

POLICY_KEYS = ("file", "document")


@dataclass(frozen=True, slots=True)
class PolicySource:
    """A policy document as read: ``read`` (the document as plain Python, built when called:
    a document compiled before is never built again), ``content`` (an exact identity of the
    document, far cheaper than encoding it: ``("yaml", column, text)`` for a composed value,
    see yamlsafe.text_key, or ``("json", text)`` for JSON text; None when it has none), the
    file and place it starts at, ``locate`` (a problem's path -> line and column), the line of
    each statement (for explanations), ``note`` (a prefix for problems inside an embedded JSON
    string) and ``cache_key`` (the source's identity for the compile cache, or None when it
    has none)."""

    read: Callable[[], Any]
    content: tuple[object, ...] | None
    file: str
    line: int
    col: int
    locate: Callable[[model.PolicyPath], Located]
    statement_lines: list[int] | None
    note: str
    cache_key: tuple[object, ...] | None


def locate(root: Node, path: model.PolicyPath) -> Node:
    """The node a policy path points at (the key node for a final key), or the deepest node
    of the path that exists."""
    node = root
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(part, int):
            if isinstance(node, SequenceNode) and 0 <= part < len(node.value):
                node = node.value[part]
            elif isinstance(node, MappingNode) and part == 0:
                continue  # a single statement object addressed as Statement[0]
            else:
                return node
        elif isinstance(node, MappingNode):
            for knode, vnode in node.value:
                if isinstance(knode, ScalarNode) and knode.value == part:
                    if last:
                        return knode
                    node = vnode
                    break
            else:
                return node
        else:
            return node
    return node


def _offset_place(text: str, offset: int) -> Located:
    """The 1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _json_words(exc: json.JSONDecodeError) -> str:
    """Python's words for a JSON syntax error, or ours where they would mislead: JSON has no
    comments, and a comment makes the parser say that it expected something else."""
    if exc.doc[exc.pos : exc.pos + 2] in ("//", "/*"):
        return "JSON has no comments; remove the comment (a YAML policy file may have # comments)"
    return exc.msg


#: The longest integer Python converts from text (``sys.get_int_max_str_digits``).
_INT_DIGITS = sys.get_int_max_str_digits() or 4300
#: A JSON string (matched whole, so that digits inside it are skipped) or a JSON number, whose
#: group 1 is its integer part when it has neither fraction nor exponent.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?(\d+)(\.\d+)?([eE][-+]?\d+)?')


def _long_integer(text: str) -> tuple[int, str] | None:
    """The offset of the first integer too long to convert, and our words for it."""
    for m in _JSON_TOKEN.finditer(text):
        integer = m.group(1)
        if integer is not None and m.group(2) is None and m.group(3) is None:
            digits = len(integer)
            if digits <= _INT_DIGITS:
                continue
            return m.start(), (
                f"a number of {digits:,} digits; numbers of at most {_INT_DIGITS:,} digits "
                "are read (quote it if it is meant as text)"
            )
    return None


def policy_source(reader: Reader, places: Places, d: Definition) -> PolicySource | None:
    """The source of policy definition ``d``, or None after reporting why it cannot be read."""
    f = d.file
    items = reader.mapping(f, d.value, "a mapping with 'file' or 'document'")
    if items is None:
        return None
    keys = reader.keys(f, items, POLICY_KEYS, "key", f" in policy {excerpt(d.name)}")
    if len(keys) != 1:
        if len(items) == len(keys):  # no unknown keys were reported
            reader.error(
                f,
                d.key,
                f"policy {excerpt(d.name)} needs exactly one of 'file' (a JSON or YAML file) "
                "or 'document' (the policy inline)",
            )
        return None
    if "document" in keys:
        v = keys["document"][1]
        line, col = where(v)
        cache = (f.key, v.start_mark.index) if f.key is not None else None
        if isinstance(v, ScalarNode) and v.tag == STR:
            # JSON text written inline
            return _json_text_source(
                reader, v.value, f.display, (line, col), "", cache, what="the document text"
            )
        if not isinstance(v, MappingNode):
            reader.error(f, v, f"expected a policy document (a mapping), got {describe(v)}")
            return None
        return _node_source(v, f.display, cache, _yaml_content(f.text, v))
    v = keys["file"][1]
    rel = reader.text(f, v, "a file name")
    if rel is None:
        return None
    path = join(f.path, rel)
    display = places.show(path)
    if places.outside(path):
        reader.error(f, v, f"policy file {excerpt(rel)}: {places.refusal()}")
        return None
    what = file_state(path)
    if what is not None:
        if what == NOT_REGULAR:
            reader.error(f, v, f"policy file {excerpt(rel)} is not a regular file ({display})")
        elif what == NO_FILE:
            reader.error(f, v, f"policy file {excerpt(rel)} not found: no such file ({display})")
        else:  # the name itself is refused ("File name too long")
            reader.error(f, v, f"cannot read policy file {excerpt(rel)}: {what}")
        return None
    return _file_source(reader, path, display)


def _yaml_content(text: str, node: Node) -> tuple[object, ...] | None:
    key = text_key(text, node)
    return ("yaml", *key) if key is not None else None


def _node_source(
    root: MappingNode,
    display: str,
    cache: tuple[object, ...] | None,
    content: tuple[object, ...] | None,
    document: Any = None,
) -> PolicySource:
    """The source of a document composed as ``root`` (``document``: its plain value when
    already read, as JSON)."""
    statement_lines: list[int] | None = None
    for knode, vnode in root.value:
        if knode.value == "Statement":
            if isinstance(vnode, SequenceNode):
                statement_lines = [where(s)[0] for s in vnode.value]
            else:
                statement_lines = [where(vnode)[0]]
    line, col = where(root)
    return PolicySource(
        (lambda: plain(root)) if document is None else (lambda: document),
        content,
        display,
        line,
        col,
        lambda p: where(locate(root, p)),
        statement_lines,
        "",
        cache,
    )


def _json_text_source(
    reader: Reader,
    text: str,
    display: str,
    at: Located,
    note: str,
    cache: tuple[object, ...] | None,
    *,
    what: str,
) -> PolicySource | None:
    try:
        document = json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        reader.error(
            display,
            at,
            f"{what} is not valid JSON: {_json_words(exc)} (line {exc.lineno}, column "
            f"{exc.colno} of the text)",
        )
        return None
    except RepeatedKey as exc:
        reader.error(display, at, f"{what}: {exc}")
        return None
    except RecursionError:
        reader.error(display, at, f"{what} is nested too deeply")
        return None
    except ValueError as exc:  # an integer too long for Python to convert
        found = _long_integer(text)
        if found is None:
            reader.error(display, at, f"{what} is not valid JSON: {exc}")
        else:
            line, col = _offset_place(text, found[0])
            reader.error(
                display,
                at,
                f"{what} is not valid JSON: {found[1]} (line {line}, column {col} of the text)",
            )
        return None
    count = 1
    if isinstance(document, dict) and isinstance(document.get("Statement"), list):
        count = max(1, len(document["Statement"]))
    return PolicySource(
        lambda: document,
        ("json", text),
        display,
        at[0],
        at[1],
        lambda _p: at,
        [at[0]] * count,
        note,
        cache,
    )


def _json_file_source(
    document: Any, text: str, display: str, cache: tuple[object, ...] | None
) -> PolicySource:
    """The source of a JSON policy file located through its JSON text."""
    content = ("json", text)
    try:
        located = parse_json(display, text)
    except JsonProblem:  # pragma: no cover - the text was parsed as JSON already
        return PolicySource(
            lambda: document, content, display, 1, 1, lambda _p: (1, 1), None, "", cache
        )
    single = isinstance(document, dict) and isinstance(document.get("Statement"), dict)

    def place(path: model.PolicyPath) -> Located:
        if single and path[:2] == ("Statement", 0):
            path = ("Statement", *path[2:])  # a single statement object read as Statement[0]
        loc = located.key_loc(path) if path and isinstance(path[-1], str) else located.loc(path)
        return loc.line, loc.col

    lines: list[int] | None = None
    if isinstance(document, dict) and isinstance(document.get("Statement"), list):
        lines = [located.loc(("Statement", i)).line for i in range(len(document["Statement"]))]
    elif single:
        lines = [located.loc(("Statement",)).line]
    start = located.loc(())
    return PolicySource(
        lambda: document, content, display, start.line, start.col, place, lines, "", cache
    )


def _file_source(reader: Reader, path: Path, display: str) -> PolicySource | None:
    is_json = path.suffix.lower() == ".json"
    parsed = parse_file(path)
    fkey = parsed.key
    root: Node | None
    if is_json:
        if parsed.text is None:
            for p in parsed.problems:
                reader.error(display, (p.line, p.col), p.message)
            return None
        try:
            document = json.loads(parsed.text, object_pairs_hook=unique_keys)
        except json.JSONDecodeError as exc:
            reader.error(display, (exc.lineno, exc.colno), f"invalid JSON: {_json_words(exc)}")
            return None
        except RepeatedKey as exc:
            # reported with its line by the YAML pass when that pass worked
            if not parsed.problems:
                reader.error(display, (1, 1), f"duplicate key {excerpt(exc.key)}")
            else:
                for p in parsed.problems:
                    reader.error(display, (p.line, p.col), p.message)
            return None
        except RecursionError:
            reader.error(display, (1, 1), "the JSON is nested too deeply")
            return None
        except ValueError as exc:  # an integer too long for Python to convert
            found = _long_integer(parsed.text)
            if found is None:
                reader.error(display, (1, 1), f"invalid JSON: {exc}")
            else:
                reader.error(
                    display, _offset_place(parsed.text, found[0]), f"invalid JSON: {found[1]}"
                )
            return None
        if parsed.problems:
            # valid JSON that the YAML reader refused (a lone surrogate such as \ud800, an
            # escaped slash): its places come from the JSON text itself
            return _json_file_source(document, parsed.text, display, (fkey,) if fkey else None)
        root = parsed.root
        content: tuple[object, ...] | None = ("json", parsed.text)
        top = document if isinstance(document, dict) else None
    else:
        for p in parsed.problems:
            reader.error(display, (p.line, p.col), p.message)
        if parsed.problems:
            return None
        root = parsed.root
        assert parsed.text is not None  # it was composed
        document = None  # built from root below when it is needed
        content = _yaml_content(parsed.text, root) if root is not None else None
        # the top-level keys, as plain(root) has them (the document itself is built on demand)
        top = {k.value: v for k, v in root.value} if isinstance(root, MappingNode) else None
    cache = (fkey,) if fkey is not None else None
    if top is not None and "policyText" in top and "Statement" not in top:
        # `aws ecr get-repository-policy` output: the policy is the string policyText
        at: Located = (1, 1)
        if root is not None:
            at = where(locate(root, ("policyText",)))
            if isinstance(root, MappingNode):
                for knode, vnode in root.value:
                    if knode.value == "policyText":
                        at = where(vnode)
        text = top["policyText"] if is_json else plain(top["policyText"])
        if not isinstance(text, str):
            reader.error(display, at, "policyText must be the policy document as a JSON string")
            return None
        return _json_text_source(
            reader, text, display, at, "in policyText, ", cache, what="policyText"
        )
    if isinstance(root, MappingNode):
        return _node_source(root, display, cache, content, document if is_json else None)
    if not is_json:
        document = plain(root) if root is not None else None
    if document is None:
        reader.error(display, (1, 1), "the policy file is empty")
        return None
    # a document we could not position (not a mapping, or JSON the YAML reader rejected)
    return PolicySource(
        lambda: document, content, display, 1, 1, lambda _p: (1, 1), None, "", cache
    )
