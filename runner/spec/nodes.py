"""Typed access to composed YAML nodes, collecting every problem with its place.

A :class:`Reader` is handed from module to module during one load; each ``Reader`` method
returns the value asked for, or None after recording a located problem. Nothing here raises
for a bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner import model, words
from runner.errors import Problem
from runner.policy.keys import unknown_key
from runner.spec.yamlfiles import FileKey
from runner.spec.yamlsafe import (
    BOOL,
    FLOAT,
    INT,
    TEXT_TAGS,
    Located,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    bool_text,
    cut,
    describe,
    excerpt,
    where,
)

__all__ = [
    "MAX_CONTEXT_VALUE",
    "MAX_CONTEXT_VALUES",
    "ContextValue",
    "Definition",
    "Entry",
    "Reader",
    "SourceFile",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ACCOUNT = re.compile(r"^\d{12}$")
_CONDITION_KEY = re.compile(r"^[A-Za-z0-9-]+:\S+$")
_PLURAL = {"policy": "policies", "principal": "principals", "resource": "resources"}
#: The longest problem message, in characters.
_MAX_MESSAGE = 2000
#: The longest value of a context key, in characters, and the most values one key may have.
#: Policies are matched against context values (wildcards, addresses, dates), so a value is
#: bounded like a policy is; an IAM request carries short values.
MAX_CONTEXT_VALUE = 8192
MAX_CONTEXT_VALUES = 1000
#: The YAML booleans a tag value may be: written ``true``/``false``, they mean the text.
_TAG_BOOLEANS = frozenset({"true", "false"})

#: A quoted run of input longer than an excerpt, as messages of other modules may write it
#: (``repr`` of an ARN, a number, a policy value): one without spaces, so that prose between
#: an apostrophe and a quote is never taken for one.
_LONG_QUOTE = re.compile(r"'([^'\s]{81,})'|\"([^\"\s]{81,})\"")


def _shorten(m: re.Match[str]) -> str:
    text = m.group(1) if m.group(1) is not None else m.group(2)
    return excerpt(text)


#: A mapping entry: its key node and its value node.
Entry = tuple[ScalarNode, Node]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A spec or include file, composed: ``path`` is resolved, ``display`` how messages
    name it, ``key`` its identity for the caches (None for a spec file, which is read once
    per load), ``root`` its top-level mapping and
    ``text`` the text it was composed from."""

    path: Path
    display: str
    key: FileKey | None
    root: MappingNode
    text: str


@dataclass(frozen=True, slots=True)
class Definition:
    """One named entry of a section (a policy, a principal, a resource, the organization or
    a file's context): where its name was written and its value node."""

    name: str
    file: SourceFile
    key: ScalarNode
    value: Node

    @property
    def where(self) -> str:
        line, col = where(self.key)
        return f"{self.file.display}:{line}:{col}"


@dataclass(frozen=True, slots=True)
class ContextValue:
    """One condition key of a ``context`` mapping: the key as written, its values, and the
    key's node."""

    key: str
    values: tuple[str, ...]
    node: ScalarNode


class Reader:
    """Reads typed values from nodes and records a located problem for each mistake."""

    __slots__ = ("problems", "warnings")

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        #: located warnings (``file:line:col: message``), in order, each once
        self.warnings: list[str] = []

    def warn(self, file: SourceFile, at: Node, message: str) -> None:
        """Record the warning ``message`` at ``at`` (once per place and message)."""
        line, col = where(at)
        text = f"{file.display}:{line}:{col}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)

    def error(self, file: SourceFile | str, at: Node | Located | None, message: str) -> None:
        """Record ``message`` at ``at`` (a node, a line and column, or None: the file's start)."""
        message = _LONG_QUOTE.sub(_shorten, message)
        if len(message) > _MAX_MESSAGE:  # a value quoted in full could be megabytes
            cut = len(message) - _MAX_MESSAGE
            message = f"{message[:_MAX_MESSAGE]}... ({cut:,} more characters)"
        display = file if isinstance(file, str) else file.display
        if at is None:
            line, col = 1, 1
        elif isinstance(at, tuple):
            line, col = at
        else:
            line, col = where(at)
        self.problems.append(Problem(model.SourceLoc(display, line, col), message))

    def mapping(self, f: SourceFile, node: Node, what: str) -> list[Entry] | None:
        if isinstance(node, MappingNode):
            return [(k, v) for k, v in node.value if isinstance(k, ScalarNode)]
        self.error(f, node, f"expected {what}, got {describe(node)}")
        return None

    def keys(
        self,
        f: SourceFile,
        items: list[Entry],
        valid: Sequence[str],
        what: str,
        place: str = "",
    ) -> dict[str, Entry]:
        """The known keys of a mapping; an unknown key is reported with the closest one."""
        out: dict[str, Entry] = {}
        for k, v in items:
            if k.value in valid:
                out[k.value] = (k, v)
                continue
            best = words.closest(k.value, valid)
            hint = f"; did you mean {best!r}? Valid keys" if best else "; valid keys"
            self.error(f, k, f"unknown {what} {excerpt(k.value)}{place}{hint}: {', '.join(valid)}")
        return out

    def text(self, f: SourceFile, node: Node, what: str) -> str | None:
        if isinstance(node, ScalarNode) and node.tag in TEXT_TAGS and node.value != "":
            return str(node.value)
        self.error(f, node, f"expected {what}, got {describe(node)}")
        return None

    def name_list(
        self, f: SourceFile, node: Node, one: str, many: str
    ) -> list[tuple[str, Node]] | None:
        """A single name or a list of names, each with its node."""
        if isinstance(node, ScalarNode) and node.tag in TEXT_TAGS and node.value != "":
            return [(node.value, node)]
        if isinstance(node, SequenceNode):
            out: list[tuple[str, Node]] = []
            ok = True
            for item in node.value:
                if isinstance(item, ScalarNode) and item.tag in TEXT_TAGS and item.value != "":
                    out.append((item.value, item))
                else:
                    self.error(f, item, f"expected {one}, got {describe(item)}")
                    ok = False
            if not out and ok:
                self.error(f, node, f"expected at least one {one}, got an empty list")
                return None
            return out if ok else None
        self.error(f, node, f"expected {many} or a single name, got {describe(node)}")
        return None

    def account(self, f: SourceFile, node: Node, what: str) -> str | None:
        if isinstance(node, ScalarNode) and node.tag in TEXT_TAGS | {INT}:
            if _ACCOUNT.match(node.value):
                # the text as written: an unquoted 012345678901 keeps its leading zero
                return str(node.value)
            if node.tag in (INT, FLOAT) and not node.style:
                self.error(
                    f,
                    node,
                    f"expected {what} (12 digits), got the number {cut(node.value)}; write account "
                    'ids as quoted text ("012345678901") so YAML keeps every digit',
                )
                return None
        self.error(f, node, f"expected {what} (12 digits, quoted), got {describe(node)}")
        return None

    def tags(self, f: SourceFile, node: Node) -> dict[str, str] | None:
        items = self.mapping(f, node, "a mapping of tag names to values")
        if items is None:
            return None
        out: dict[str, str] = {}
        seen: dict[str, ScalarNode] = {}
        ok = True
        for k, v in items:
            other = seen.setdefault(k.value.lower(), k)
            if other is not k:
                # IAM refuses tag keys that differ only in case, and condition keys
                # (aws:PrincipalTag/team) ignore case: which one a policy saw would be a guess
                self.error(
                    f,
                    k,
                    f"tag key {excerpt(k.value)} is given twice (also {excerpt(other.value)} "
                    f"on line {where(other)[0]});"
                    f" {words.TAGS_DIFFER_IN_CASE}",
                )
                ok = False
            elif isinstance(v, ScalarNode) and v.tag == BOOL:
                if v.value.lower() not in _TAG_BOOLEANS:
                    # yes/no/on/off are booleans in YAML 1.1 but AWS tag values are text: a
                    # policy testing the text "on" must not see "true"
                    word = cut(v.value)
                    self.error(
                        f,
                        v,
                        f"{excerpt(v.value)} is a YAML boolean, not text; quote it "
                        f'("{word}") if the tag value is the text {word}',
                    )
                    ok = False
                else:
                    out[k.value] = bool_text(v)
            elif isinstance(v, ScalarNode) and v.tag in TEXT_TAGS:
                out[k.value] = v.value
            else:
                self.error(f, v, f"expected a tag value (text), got {describe(v)}")
                return None
        return out if ok else None

    def context(self, f: SourceFile, node: Node) -> list[ContextValue]:
        """A ``context`` mapping: condition keys (each once, ignoring case) and their values."""
        items = self.mapping(f, node, "a mapping of condition keys to values")
        if items is None:
            return []
        out: list[ContextValue] = []
        seen: dict[str, ScalarNode] = {}
        for k, v in items:
            if not _CONDITION_KEY.match(k.value):
                self.error(
                    f,
                    k,
                    f"expected a condition key such as aws:SourceIp, got {excerpt(k.value)}",
                )
                continue
            if k.value.lower() in seen:
                self.error(
                    f,
                    k,
                    f"condition key {excerpt(k.value)} is given twice (also on line "
                    f"{where(seen[k.value.lower()])[0]}); condition keys ignore case",
                )
                continue
            seen[k.value.lower()] = k
            start = unknown_key(k.value)
            if start is not None:
                # a misspelt key (aws:SoruceIp) is simply another key: the one meant is
                # absent from the request, and the check tests something else than it says
                self.warn(
                    f,
                    k,
                    f"{start} AWS never sends this key, so the policies see the request "
                    "without the key meant",
                )
            values = self.context_values(f, v)
            if values is not None:
                out.append(ContextValue(k.value, values, k))
        return out

    def context_values(self, f: SourceFile, node: Node) -> tuple[str, ...] | None:
        want = "a string or a list of strings"
        items = node.value if isinstance(node, SequenceNode) else [node]
        if len(items) > MAX_CONTEXT_VALUES:
            self.error(
                f,
                node,
                f"this key has {len(items):,} values; at most {MAX_CONTEXT_VALUES:,} values "
                "of a context key are read",
            )
            return None
        out: list[str] = []
        for item in items:
            if isinstance(item, ScalarNode) and item.tag == BOOL:
                out.append(bool_text(item))
            elif isinstance(item, ScalarNode) and item.tag in TEXT_TAGS:
                if len(item.value) > MAX_CONTEXT_VALUE:
                    self.error(
                        f,
                        item,
                        f"this context value is {len(item.value):,} characters long; values "
                        f"of at most {MAX_CONTEXT_VALUE:,} characters are read",
                    )
                    return None
                out.append(item.value)  # numbers as written: 042 stays "042"
            else:
                got = describe(item)
                if isinstance(node, SequenceNode):
                    self.error(f, item, f"expected {want}; this list holds {got}")
                else:
                    self.error(f, item, f"expected {want}, got {got}")
                return None
        return tuple(out)

    def check_name(self, f: SourceFile, key: ScalarNode, what: str) -> bool:
        if _NAME.match(key.value):
            return True
        self.error(
            f,
            key,
            f"invalid {what} name {excerpt(key.value)}: names use letters, digits, '-', '_' "
            "and '.' (they appear in test ids) and start with a letter or digit",
        )
        return False

    def unknown(
        self, f: SourceFile, node: Node, what: str, name: str, defined: Iterable[str]
    ) -> None:
        """Report a reference to an undefined ``what`` (policy, principal, resource)."""
        names = list(defined)
        if not names:
            self.error(f, node, f"unknown {what} {excerpt(name)}; no {_PLURAL[what]} are defined")
            return
        ordered = words.by_closeness(name, names)
        best = words.closest(name, names)
        hint = f"; did you mean {best!r}?" if best else ";"
        shown = ", ".join(ordered[:20]) + (", ..." if len(ordered) > 20 else "")
        self.error(
            f, node, f"unknown {what} {excerpt(name)}{hint} defined {_PLURAL[what]}: {shown}"
        )
