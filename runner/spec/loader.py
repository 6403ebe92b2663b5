"""Spec files (YAML) -> :class:`model.Spec`; the only module that imports ``yaml``.

Every node keeps its line and column (``yaml.compose``, with libyaml when available), so every
mistake is reported as ``file:line:col: message``. :func:`load_spec` collects every problem it
can find in one pass and raises one :class:`SpecError` with all of them; it never raises
anything else. Only safe YAML is read: nodes are composed, never constructed, and any tag
outside the standard scalar/sequence/mapping set is an error.

The format is described in ``docs/spec-reference.md`` and ``runner/data/spec.schema.json``.
"""

from __future__ import annotations

import difflib
import functools
import gc
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner import catalog, model
from runner.errors import Problem, SpecError
from runner.policy import validate

__all__ = ["MAX_FILE_BYTES", "SPEC_KEYS", "load_spec", "looks_like_spec"]

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Files larger than this are refused (a spec or policy is a few kilobytes; AWS's largest policy
#: is 10,240 characters). Composing YAML costs up to ~150 bytes of memory per byte of a
#: hostile file (4 MB of "1," took 614 MB), so the bound is also a memory bound: ~300 MB.
MAX_FILE_BYTES = 2 * 1024 * 1024
#: Anchors and aliases may add at most this many nodes to a document ("billion laughs").
MAX_ALIAS_EXPANSION = 100_000
#: Deepest nesting accepted in a YAML or JSON file.
MAX_DEPTH = 64
#: A spec file may not expand into more checks than this.
MAX_CHECKS = 100_000

#: The top-level keys of a spec file, in the documented order.
SPEC_KEYS = (
    "description",
    "include",
    "policies",
    "principals",
    "resources",
    "organization",
    "context",
    "cases",
)
_INCLUDE_KEYS = tuple(k for k in SPEC_KEYS if k != "cases")
_POLICY_KEYS = ("file", "document")
_PRINCIPAL_KEYS = ("arn", "session", "policies", "boundary", "session-policy", "tags", "service")
_RESOURCE_KEYS = ("arn", "policy", "tags")
_ORGANIZATION_KEYS = ("id", "management-account", "accounts", "scps", "rcps")
_CASE_KEYS = ("name", "principal", "resource", "allow", "deny", "action", "expect", "context")

_T = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP = (
    _T + "str",
    _T + "int",
    _T + "float",
    _T + "bool",
    _T + "null",
    _T + "timestamp",
)
_SEQ, _MAP, _MERGE = _T + "seq", _T + "map", _T + "merge"
_ALLOWED_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP, _SEQ, _MAP})
_TEXT_TAGS = frozenset({_STR, _INT, _FLOAT, _TIMESTAMP})
_TRUE = frozenset({"yes", "true", "on", "y"})

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_CONDITION_KEY = re.compile(r"^[A-Za-z0-9-]+:\S+$")
_PREDEFINED_SCP = "FullAWSAccess"
_PREDEFINED_RCP = "RCPFullAWSAccess"

_KIND_LABEL = {
    model.PolicyKind.IDENTITY: "identity policy",
    model.PolicyKind.BOUNDARY: "permissions boundary",
    model.PolicyKind.SESSION: "session policy",
    model.PolicyKind.RESOURCE: "repository policy",
    model.PolicyKind.SCP: "service control policy",
    model.PolicyKind.RCP: "resource control policy",
}
_PRINCIPAL_TYPE_LABEL = {
    model.PrincipalType.USER: "an IAM user",
    model.PrincipalType.ROLE_SESSION: "a role session",
    model.PrincipalType.FEDERATED_USER: "a federated user",
    model.PrincipalType.ROOT: "the account root user",
    model.PrincipalType.SERVICE: "a service principal",
    model.PrincipalType.ANONYMOUS: "an anonymous caller",
}
_EXPECT_WORDS = {
    "allow": "allowed",
    "deny": "denied",
    "explicit-deny": "explicitly denied",
    "implicit-deny": "implicitly denied",
}

_PLURAL = {"policy": "policies", "principal": "principals", "resource": "resources"}

Located: TypeAlias = tuple[int, int]  # 1-based line and column


# ---------------------------------------------------------------------------------------------
# Files: reading, YAML composition and the structural checks every YAML file gets


def _display(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (posix slashes), else absolute."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _read_bytes(path: Path) -> tuple[bytes | None, list[tuple[int, int, str]]]:
    """The bytes of ``path``, or None and problems as (line, col, message)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [
                (
                    1,
                    1,
                    f"the file is too large ({size:,} bytes); files of at most "
                    f"{MAX_FILE_BYTES:,} bytes are read",
                )
            ]
        return path.read_bytes(), []
    except OSError as exc:
        return None, [(1, 1, f"cannot read the file: {exc.strerror or exc}")]


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _decode(data: bytes) -> tuple[str | None, list[tuple[int, int, str]]]:
    if data[:2] in _UTF16_BOMS:  # YAML allows UTF-16 with a byte order mark
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError:
            return None, [(1, 1, "the file starts as UTF-16 but is not UTF-16 text")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        col = start - (data.rfind(b"\n", 0, start) + 1) + 1
        return None, [
            (
                line,
                col,
                f"the file is not UTF-8 text (byte 0x{data[start]:02x} cannot be decoded); "
                "save it as UTF-8",
            )
        ]


def _yaml_error(exc: yaml.YAMLError, text: str) -> tuple[int, int, str]:
    """A parser error in plain words at the parser's position."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        words = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            where = ""
            if exc.context_mark is not None and (
                mark is None or exc.context_mark.line != mark.line
            ):
                where = f" on line {exc.context_mark.line + 1}"
            words = f"{exc.problem} ({exc.context}{where})"
        if mark is None:
            return 1, 1, f"invalid YAML: {words}"
        return mark.line + 1, mark.column + 1, f"invalid YAML: {words}"
    if isinstance(exc, yaml.reader.ReaderError):
        pos = min(max(exc.position, 0), len(text))
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        return line, col, f"invalid YAML: the character {shown} is not allowed in YAML text"
    return 1, 1, f"invalid YAML: {exc}"


def _node_loc(node: Node) -> Located:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_T) :] if tag.startswith(_T) else tag


def _check_graph(root: Node) -> list[tuple[int, int, str]]:
    """Structural problems of a composed document: tags other than the standard ones,
    duplicate or non-text mapping keys, merge keys, recursive aliases, nesting deeper than
    MAX_DEPTH, and aliases that expand the document by more than MAX_ALIAS_EXPANSION nodes.
    Works on the node graph (an alias is the same node object), visiting each node once."""
    problems: list[tuple[int, int, str]] = []
    size: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            total = 1
            for child in _children(node):
                total += size[id(child)]
            size[key] = total
            if total > len(size) + MAX_ALIAS_EXPANSION:
                line, col = _node_loc(node)
                return [
                    (
                        line,
                        col,
                        "anchors and aliases expand this value to more than "
                        f"{MAX_ALIAS_EXPANSION} extra nodes (a 'billion laughs' document?); "
                        "refused; write the values out or use fewer aliases",
                    )
                ]
            continue
        if key in size:
            continue
        if key in active:
            line, col = _node_loc(node)
            return [(line, col, "a recursive alias (a value that contains itself) is not allowed")]
        if depth > MAX_DEPTH:
            line, col = _node_loc(node)
            return [(line, col, f"values are nested more than {MAX_DEPTH} levels deep")]
        if node.tag not in _ALLOWED_TAGS and node.tag != _MERGE:
            problems.append(_tag_problem(node))
        if isinstance(node, MappingNode):
            problems.extend(_key_problems(node))
        active.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            stack.append((child, depth + 1, False))
    return sorted(set(problems))


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        out: list[Node] = []
        for k, v in node.value:
            out.append(k)
            out.append(v)
        return out
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _compose(text: str) -> tuple[Node | None, list[tuple[int, int, str]]]:
    """The checked node tree of ``text`` (None for an empty document), or problems."""
    try:
        root: Node | None = yaml.compose(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        return None, [_yaml_error(exc, text)]
    except RecursionError:
        return None, [(1, 1, f"values are nested more than {MAX_DEPTH} levels deep")]
    if root is None:
        return None, []
    if "&" not in text:
        # no anchor, so no alias: the document is a tree (the common case, checked faster)
        return root, _check_tree(root)
    return root, _check_graph(root)


def _tag_problem(node: Node) -> tuple[int, int, str]:
    line, col = _node_loc(node)
    return (
        line,
        col,
        f"the YAML tag {_show_tag(node.tag)!r} is not supported; only plain "
        "strings, numbers, booleans, lists and mappings are read "
        "(tags are never executed)",
    )


def _key_problems(node: MappingNode) -> list[tuple[int, int, str]]:
    """Non-text, merge and duplicate keys of one mapping."""
    problems: list[tuple[int, int, str]] = []
    seen: dict[str, int] = {}
    for knode, _vnode in node.value:
        line, col = _node_loc(knode)
        if not isinstance(knode, ScalarNode):
            problems.append(
                (line, col, f"a mapping key must be plain text, not {_describe(knode)}")
            )
        elif knode.tag == _MERGE:
            problems.append(
                (
                    line,
                    col,
                    "merge keys ('<<') are not supported; write the keys out "
                    "(an alias may still stand for a whole value)",
                )
            )
        elif knode.value in seen:
            problems.append(
                (
                    line,
                    col,
                    f"duplicate key {knode.value!r} (first defined on line {seen[knode.value]})",
                )
            )
        else:
            seen[knode.value] = line
    return problems


def _check_tree(root: Node) -> list[tuple[int, int, str]]:
    """:func:`_check_graph` for a document without aliases: the same problems, one pass."""
    problems: list[tuple[int, int, str]] = []
    allowed = _ALLOWED_TAGS
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            line, col = _node_loc(node)
            return [(line, col, f"values are nested more than {MAX_DEPTH} levels deep")]
        if node.tag not in allowed:
            problems.append(_tag_problem(node))
        if isinstance(node, MappingNode):
            keys = set()
            for knode, _vnode in node.value:
                if type(knode) is not ScalarNode or knode.tag not in allowed or knode.value in keys:
                    problems.extend(_key_problems(node))
                    for k, _v in node.value:
                        if k.tag not in allowed and k.tag != _MERGE:
                            problems.append(_tag_problem(k))
                    break
                keys.add(knode.value)
            for knode, vnode in node.value:
                if type(vnode) is ScalarNode:
                    if vnode.tag not in allowed:
                        problems.append(_tag_problem(vnode))
                else:
                    stack.append((vnode, depth + 1))
                if type(knode) is not ScalarNode:
                    stack.append((knode, depth + 1))
        elif isinstance(node, SequenceNode):
            for item in node.value:
                if type(item) is ScalarNode:
                    if item.tag not in allowed:
                        problems.append(_tag_problem(item))
                else:
                    stack.append((item, depth + 1))
    return sorted(set(problems))


#: A file's identity for the caches: its resolved path and a digest of its content (not its
#: mtime, which may not change between two quick writes).
_FileKey: TypeAlias = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A file read and composed: ``root`` (None when empty), or ``problems``."""

    key: _FileKey | None
    text: str | None
    root: Node | None
    problems: tuple[tuple[int, int, str], ...]


_parse_cache: dict[_FileKey, _Parsed] = {}
_compiled_cache: dict[tuple[object, ...], validate.CompiledPolicy] = {}
_CACHE_LIMIT = 512


def _remember(cache: dict[Any, Any], key: object, value: object) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _parse_file(path: Path, *, cache: bool = True) -> _Parsed:
    """Read and compose ``path``; an include or policy file shared by many specs is composed
    once per process (cached by path and content). Spec files are not cached: each is read
    once, and keeping every tree alive would only slow the garbage collector down."""
    data, problems = _read_bytes(path)
    if data is None:
        return _Parsed(None, None, None, tuple(problems))
    key = (str(path), hashlib.blake2b(data, digest_size=16).digest())
    cached = _parse_cache.get(key) if cache else None
    if cached is not None:
        return cached
    text, problems = _decode(data)
    if text is None:
        parsed = _Parsed(key, None, None, tuple(problems))
    else:
        root, problems = _compose(text)
        parsed = _Parsed(key, text, root, tuple(problems))
    if cache:
        _remember(_parse_cache, key, parsed)
    return parsed


# ---------------------------------------------------------------------------------------------
# Node helpers


def _describe(node: Node) -> str:
    """What a node is, in words, for "expected X, got Y" messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list" if node.value else "an empty list"
    assert isinstance(node, ScalarNode)
    if node.tag == _NULL:
        return "nothing (null)"
    if node.tag == _BOOL:
        return f"a boolean ({node.value})"
    if node.tag in (_INT, _FLOAT):
        return f"a number ({node.value})"
    return f"the text {node.value!r}"


def _bool_text(node: ScalarNode) -> str:
    return "true" if node.value.lower() in _TRUE else "false"


def _closest_first(word: str, choices: Iterable[str]) -> list[str]:
    lowered = word.lower()
    return sorted(choices, key=lambda c: -difflib.SequenceMatcher(None, lowered, c.lower()).ratio())


def _suggestion(word: str, choices: Sequence[str]) -> str | None:
    hits = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not hits:
        return None
    return next(c for c in choices if c.lower() == hits[0])


def _yaml_value(node: Node) -> Any:
    """A policy document node as plain Python: mappings, lists, strings, booleans, None.
    Numbers and dates stay the text they were written as (policy values are text in IAM)."""
    if isinstance(node, MappingNode):
        return {k.value: _yaml_value(v) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [_yaml_value(v) for v in node.value]
    assert isinstance(node, ScalarNode)
    if node.tag == _NULL:
        return None
    if node.tag == _BOOL:
        return node.value.lower() in _TRUE
    return node.value


def _locate(root: Node, path: model.PolicyPath) -> Node:
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


# ---------------------------------------------------------------------------------------------
# One load


@dataclass(slots=True)
class _File:
    path: Path  # resolved
    display: str
    key: _FileKey | None
    root: MappingNode


@dataclass(slots=True)
class _Def:
    name: str
    file: _File
    key: ScalarNode
    value: Node

    @property
    def where(self) -> str:
        line, col = _node_loc(self.key)
        return f"{self.file.display}:{line}:{col}"


@dataclass(slots=True)
class _PolicySource:
    document: Any
    file: str
    line: int
    col: int
    locate: Callable[[model.PolicyPath], Located]
    statement_lines: list[int] | None
    note: str
    cache_key: tuple[object, ...] | None


@dataclass(slots=True)
class _Names:
    policies: dict[str, _Def] = field(default_factory=dict)
    principals: dict[str, _Def] = field(default_factory=dict)
    resources: dict[str, _Def] = field(default_factory=dict)
    organization: _Def | None = None
    #: lowercased key -> (key, values, the file's 'context' definition, the key's node)
    context: dict[str, tuple[str, tuple[str, ...], _Def, ScalarNode]] = field(default_factory=dict)


class _Load:
    """The state of one :func:`load_spec` call."""

    def __init__(self, display_root: Path) -> None:
        self.root = display_root
        self.problems: list[Problem] = []
        self.names = _Names()
        self.loaded: set[Path] = set()
        self.descriptions: dict[Path, str] = {}
        self.sources: dict[str, _PolicySource | None] = {}
        self.compiled: dict[tuple[str, model.PolicyKind], validate.CompiledPolicy | None] = {}
        #: file-level context keys already reported by single_valued_keys (once, not per case)
        self.reported_context: set[str] = set()
        self.infos: list[model.PolicyInfo] = []
        self.principals: dict[str, model.Principal | None] = {}
        self.resources: dict[str, model.Resource | None] = {}
        #: a problem after which later messages would be nonsense (a misspelt section, an
        #: include that cannot be read): cases are not checked
        self.fatal = False
        #: names whose definition is wrong (already reported): references to them stay quiet
        self.broken: set[str] = set()

    # -- reporting

    def err(self, file: _File | str, where: Node | Located | None, message: str) -> None:
        if len(message) > _MAX_MESSAGE:  # a value quoted in full could be megabytes
            cut = len(message) - _MAX_MESSAGE
            message = f"{message[:_MAX_MESSAGE]}... ({cut:,} more characters)"
        display = file if isinstance(file, str) else file.display
        if where is None:
            line, col = 1, 1
        elif isinstance(where, tuple):
            line, col = where
        else:
            line, col = _node_loc(where)
        self.problems.append(Problem(model.SourceLoc(display, line, col), message))

    # -- typed access to nodes

    def mapping(self, f: _File, node: Node, what: str) -> list[tuple[ScalarNode, Node]] | None:
        if isinstance(node, MappingNode):
            return [(k, v) for k, v in node.value if isinstance(k, ScalarNode)]
        self.err(f, node, f"expected {what}, got {_describe(node)}")
        return None

    def keys(
        self,
        f: _File,
        items: list[tuple[ScalarNode, Node]],
        valid: Sequence[str],
        what: str,
        where: str = "",
    ) -> dict[str, tuple[ScalarNode, Node]]:
        """The known keys of a mapping; an unknown key is reported with the closest one."""
        out: dict[str, tuple[ScalarNode, Node]] = {}
        for k, v in items:
            if k.value in valid:
                out[k.value] = (k, v)
                continue
            best = _suggestion(k.value, valid)
            hint = f"; did you mean {best!r}? Valid keys" if best else "; valid keys"
            self.err(f, k, f"unknown {what} {k.value!r}{where}{hint}: {', '.join(valid)}")
        return out

    def text(self, f: _File, node: Node, what: str) -> str | None:
        if isinstance(node, ScalarNode) and node.tag in _TEXT_TAGS and node.value != "":
            return str(node.value)
        self.err(f, node, f"expected {what}, got {_describe(node)}")
        return None

    def name_list(self, f: _File, node: Node, one: str, many: str) -> list[tuple[str, Node]] | None:
        """A single name or a list of names."""
        if isinstance(node, ScalarNode) and node.tag in _TEXT_TAGS and node.value != "":
            return [(node.value, node)]
        if isinstance(node, SequenceNode):
            out: list[tuple[str, Node]] = []
            ok = True
            for item in node.value:
                if isinstance(item, ScalarNode) and item.tag in _TEXT_TAGS and item.value != "":
                    out.append((item.value, item))
                else:
                    self.err(f, item, f"expected {one}, got {_describe(item)}")
                    ok = False
            if not out and ok:
                self.err(f, node, f"expected at least one {one}, got an empty list")
                return None
            return out if ok else None
        self.err(f, node, f"expected {many} or a single name, got {_describe(node)}")
        return None

    def account(self, f: _File, node: Node, what: str) -> str | None:
        if isinstance(node, ScalarNode) and node.tag in _TEXT_TAGS | {_INT}:
            if _ACCOUNT.match(node.value):
                # the text as written: an unquoted 012345678901 keeps its leading zero
                return str(node.value)
            if node.tag in (_INT, _FLOAT) and not node.style:
                self.err(
                    f,
                    node,
                    f"expected {what} (12 digits), got the number {node.value}; write account "
                    'ids as quoted text ("012345678901") so YAML keeps every digit',
                )
                return None
        self.err(f, node, f"expected {what} (12 digits, quoted), got {_describe(node)}")
        return None

    def tags(self, f: _File, node: Node) -> dict[str, str] | None:
        items = self.mapping(f, node, "a mapping of tag names to values")
        if items is None:
            return None
        out: dict[str, str] = {}
        for k, v in items:
            if isinstance(v, ScalarNode) and v.tag == _BOOL:
                out[k.value] = _bool_text(v)
            elif isinstance(v, ScalarNode) and v.tag in _TEXT_TAGS:
                out[k.value] = v.value
            else:
                self.err(f, v, f"expected a tag value (text), got {_describe(v)}")
                return None
        return out

    def context(self, f: _File, node: Node) -> list[tuple[str, tuple[str, ...], ScalarNode]]:
        items = self.mapping(f, node, "a mapping of condition keys to values")
        if items is None:
            return []
        out: list[tuple[str, tuple[str, ...], ScalarNode]] = []
        seen: dict[str, ScalarNode] = {}
        for k, v in items:
            if not _CONDITION_KEY.match(k.value):
                self.err(
                    f,
                    k,
                    f"expected a condition key such as aws:SourceIp, got {k.value!r}",
                )
                continue
            if k.value.lower() in seen:
                self.err(
                    f,
                    k,
                    f"condition key {k.value!r} is given twice (also on line "
                    f"{_node_loc(seen[k.value.lower()])[0]}); condition keys ignore case",
                )
                continue
            seen[k.value.lower()] = k
            values = self.context_values(f, v)
            if values is not None:
                out.append((k.value, values, k))
        return out

    def context_values(self, f: _File, node: Node) -> tuple[str, ...] | None:
        want = "a string or a list of strings"
        items = node.value if isinstance(node, SequenceNode) else [node]
        out: list[str] = []
        for item in items:
            if isinstance(item, ScalarNode) and item.tag == _BOOL:
                out.append(_bool_text(item))
            elif isinstance(item, ScalarNode) and item.tag in _TEXT_TAGS:
                out.append(item.value)  # numbers as written: 042 stays "042"
            else:
                got = _describe(item)
                if isinstance(node, SequenceNode):
                    self.err(f, item, f"expected {want}; this list holds {got}")
                else:
                    self.err(f, item, f"expected {want}, got {got}")
                return None
        return tuple(out)

    def check_name(self, f: _File, key: ScalarNode, what: str) -> bool:
        if _NAME.match(key.value):
            return True
        self.err(
            f,
            key,
            f"invalid {what} name {key.value!r}: names use letters, digits, '-', '_' and '.' "
            "(they appear in test ids) and start with a letter or digit",
        )
        return False

    def unknown(self, f: _File, node: Node, what: str, name: str, defined: Iterable[str]) -> None:
        names = list(defined)
        if not names:
            self.err(f, node, f"unknown {what} {name!r}; no {_PLURAL[what]} are defined")
            return
        ordered = _closest_first(name, names)
        best = _suggestion(name, names)
        hint = f"; did you mean {best!r}?" if best else ";"
        shown = ", ".join(ordered[:20]) + (", ..." if len(ordered) > 20 else "")
        self.err(f, node, f"unknown {what} {name!r}{hint} defined {_PLURAL[what]}: {shown}")

    # -- files and includes

    def open_file(self, path: Path, *, at: tuple[_File, Node] | None) -> _File | None:
        """Parse a spec or include file; problems are reported in it (or at the include)."""
        display = _display(path, self.root)
        if not path.is_file():
            what = "no such file" if not path.exists() else "not a regular file"
            if at is None:
                self.problems.append(Problem(None, f"{display}: {what}"))
            else:
                self.err(at[0], at[1], f"cannot include {at[1].value!r}: {what} ({display})")
            return None
        parsed = _parse_file(path, cache=at is not None)
        for line, col, message in parsed.problems:
            self.err(display, (line, col), message)
        if parsed.problems:
            return None
        if parsed.root is None:
            self.err(
                display,
                (1, 1),
                "the file is empty; a spec needs at least 'cases'"
                if at is None
                else "the included file is empty",
            )
            return None
        if not isinstance(parsed.root, MappingNode):
            self.err(
                display,
                parsed.root,
                f"expected a mapping of top-level keys ({', '.join(SPEC_KEYS)}), "
                f"got {_describe(parsed.root)}",
            )
            return None
        return _File(path, display, parsed.key, parsed.root)

    def gather(self, f: _File, chain: list[Path]) -> dict[str, tuple[ScalarNode, Node]]:
        """Read the definitions of ``f`` and (first) of the files it includes."""
        include_file = bool(chain)
        items = self.mapping(f, f.root, "a mapping")
        assert items is not None
        if include_file:
            for k, _v in items:
                if k.value == "cases":
                    self.err(
                        f,
                        k,
                        "an include file cannot hold 'cases': include files only share "
                        "definitions (policies, principals, resources, organization, context); "
                        "move the cases into a spec file",
                    )
            items = [(k, v) for k, v in items if k.value != "cases"]
        valid = _INCLUDE_KEYS if include_file else SPEC_KEYS
        top = self.keys(f, items, valid, "top-level key")
        if len(top) != len(items):
            self.fatal = True
        self.loaded.add(f.path)
        here = [*chain, f.path]
        if "include" in top:
            for name, node in (
                self.name_list(f, top["include"][1], "file name", "a list of file names") or []
            ):
                target = _join(f.path, name)
                if target.suffix not in _SUFFIXES:
                    self.err(
                        f,
                        node,
                        f"cannot include {name!r}: an include file is a .yaml or .yml file of "
                        "definitions",
                    )
                    self.fatal = True
                    continue
                if target in here:
                    cycle = [*here[here.index(target) :], target]
                    self.err(
                        f,
                        node,
                        "include cycle: " + " -> ".join(_display(p, self.root) for p in cycle),
                    )
                    continue
                if target in self.loaded:
                    continue  # a diamond: already read through another include
                inc = self.open_file(target, at=(f, node))
                if inc is None:
                    self.fatal = True
                else:
                    self.gather(inc, here)
        if "description" in top and not include_file:
            text = self.text(f, top["description"][1], "a description (text)")
            if text is not None:
                self.descriptions[f.path] = text
        for section, table, what in (
            ("policies", self.names.policies, "policy"),
            ("principals", self.names.principals, "principal"),
            ("resources", self.names.resources, "resource"),
        ):
            if section not in top:
                continue
            entries = self.mapping(
                f, top[section][1], f"a mapping of {what} names to {_PLURAL[what]}"
            )
            if entries is None:
                self.fatal = True
            for k, v in entries or []:
                if not self.check_name(f, k, what):
                    self.broken.add(k.value)
                    continue
                if k.value in table:
                    self.err(
                        f,
                        k,
                        f"{what} {k.value!r} is defined twice: here and at {table[k.value].where}",
                    )
                    continue
                if what == "policy" and k.value in (_PREDEFINED_SCP, _PREDEFINED_RCP):
                    self.err(
                        f,
                        k,
                        f"{k.value!r} is a predefined policy name; choose another name",
                    )
                    self.broken.add(k.value)
                    continue
                table[k.value] = _Def(k.value, f, k, v)
        if "organization" in top:
            k, v = top["organization"]
            if self.names.organization is not None:
                self.err(
                    f,
                    k,
                    f"'organization' is defined twice: here and at {self.names.organization.where}",
                )
            else:
                self.names.organization = _Def("organization", f, k, v)
        if "context" in top:
            k, v = top["context"]
            d = _Def("context", f, k, v)
            for key, values, knode in self.context(f, v):
                prev = self.names.context.get(key.lower())
                if prev is not None:
                    line, col = _node_loc(prev[2].key)
                    self.err(
                        f,
                        knode,
                        f"context key {key!r} is defined twice: here and in the 'context' at "
                        f"{prev[2].file.display}:{line}:{col}",
                    )
                    continue
                self.names.context[key.lower()] = (key, values, d, knode)
        return top

    def unknowable_keys(
        self,
        f: _File,
        node: Node,
        context: Mapping[str, tuple[str, ...]],
        principals: Sequence[model.Principal],
        resources: Sequence[model.Resource | None],
        organization: model.Organization | None,
        steps: set[str],
    ) -> bool:
        """A key that AWS puts in every request of a principal but whose value the tool cannot
        know (aws:userid of an IAM user is an opaque unique ID) must come from the case's
        context when a statement about the case's actions reads it: without it the engine
        would answer as if the key were missing, which it never is. False when a problem was
        recorded."""
        given = {k.lower() for k in context}
        ok = True
        for p in principals:
            unknown = {k: v for k, v in _UNKNOWABLE.get(p.type, {}).items() if k not in given}
            if not unknown:
                continue
            for pol in _case_policies([p], resources, organization):
                if pol.keys.isdisjoint(unknown):
                    continue
                hits = [
                    (stmt, key)
                    for stmt in pol.statements_for(steps)
                    for key in sorted(stmt.keys & unknown.keys())
                ]
                if hits:
                    stmt, key = hits[0]
                    what, example = unknown[key]
                    self.err(
                        f,
                        node,
                        f"statement {stmt.label} of policy {pol.name!r} reads {_KEY_NAMES[key]}, "
                        f"which AWS puts in every request of {p.name!r} but whose value is "
                        f"{what}, which the tool cannot know; give it in this case's context "
                        f"(for example {_KEY_NAMES[key]}: {example})",
                    )
                    ok = False
                    break
        return ok

    def single_valued_keys(
        self,
        f: _File,
        context: Mapping[str, tuple[str, ...]],
        own_nodes: Mapping[str, ScalarNode],
        principals: Sequence[model.Principal],
        resources: Sequence[model.Resource | None],
        organization: model.Organization | None,
        steps: set[str],
    ) -> bool:
        """A context key given several values must not meet a statement about the case's
        actions that tests it with a single-valued operator: AWS does not say how that
        evaluates, so the spec is refused rather than answered by a guess. False when a
        problem was recorded."""
        multi = [(k, v) for k, v in context.items() if len(v) > 1]
        if not multi:
            return True
        policies = _case_policies(principals, resources, organization)
        ok = True
        for key, values in multi:
            for pol in policies:
                hit = pol.single_valued_test(key, steps)
                if hit is None:
                    continue
                stmt, operator = hit
                message = (
                    f"context key {key!r} has {len(values)} values, but statement "
                    f"{stmt.label} of policy {pol.name!r} tests it with {operator}, which "
                    "compares one value; "
                    f"{_MULTIVALUED_DOC}. Give {key} one value here, or test it with "
                    f"ForAnyValue:{operator} or ForAllValues:{operator}"
                )
                node = own_nodes.get(key.lower())
                if node is not None:
                    self.err(f, node, message)
                elif key.lower() not in self.reported_context:
                    self.reported_context.add(key.lower())
                    _k, _v, d, knode = self.names.context[key.lower()]
                    self.err(d.file, knode, message)
                ok = False
                break
        return ok

    # -- policies

    def policy_source(self, name: str) -> _PolicySource | None:
        if name in self.sources:
            return self.sources[name]
        d = self.names.policies[name]
        src = self._policy_source(d)
        self.sources[name] = src
        return src

    def _policy_source(self, d: _Def) -> _PolicySource | None:
        f = d.file
        items = self.mapping(f, d.value, "a mapping with 'file' or 'document'")
        if items is None:
            return None
        keys = self.keys(f, items, _POLICY_KEYS, "key", f" in policy {d.name!r}")
        if len(keys) != 1:
            if len(items) == len(keys):  # no unknown keys were reported
                self.err(
                    f,
                    d.key,
                    f"policy {d.name!r} needs exactly one of 'file' (a JSON or YAML file) "
                    "or 'document' (the policy inline)",
                )
            return None
        if "document" in keys:
            v = keys["document"][1]
            line, col = _node_loc(v)
            cache = (f.key, v.start_mark.index) if f.key is not None else None
            if isinstance(v, ScalarNode) and v.tag == _STR:
                # JSON text written inline
                return self._json_text_source(
                    v.value, f.display, (line, col), "", cache, what="the document text"
                )
            if not isinstance(v, MappingNode):
                self.err(f, v, f"expected a policy document (a mapping), got {_describe(v)}")
                return None
            return self._node_source(v, f.display, cache)
        v = keys["file"][1]
        rel = self.text(f, v, "a file name")
        if rel is None:
            return None
        path = _join(f.path, rel)
        display = _display(path, self.root)
        if not path.is_file():
            if path.exists():
                self.err(f, v, f"policy file {rel!r} is not a regular file ({display})")
            else:
                self.err(f, v, f"policy file {rel!r} not found: no such file ({display})")
            return None
        return self._file_source(path, display)

    def _node_source(
        self, root: MappingNode, display: str, cache: tuple[object, ...] | None
    ) -> _PolicySource:
        statement_lines: list[int] | None = None
        for knode, vnode in root.value:
            if knode.value == "Statement":
                if isinstance(vnode, SequenceNode):
                    statement_lines = [_node_loc(s)[0] for s in vnode.value]
                else:
                    statement_lines = [_node_loc(vnode)[0]]
        line, col = _node_loc(root)
        return _PolicySource(
            _yaml_value(root),
            display,
            line,
            col,
            lambda p: _node_loc(_locate(root, p)),
            statement_lines,
            "",
            cache,
        )

    def _json_text_source(
        self,
        text: str,
        display: str,
        at: Located,
        note: str,
        cache: tuple[object, ...] | None,
        *,
        what: str,
    ) -> _PolicySource | None:
        try:
            document = json.loads(text, object_pairs_hook=validate.unique_keys)
        except json.JSONDecodeError as exc:
            self.err(
                display,
                at,
                f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno} "
                "of the text)",
            )
            return None
        except validate.RepeatedKey as exc:
            self.err(display, at, f"{what}: {exc}")
            return None
        except RecursionError:
            self.err(display, at, f"{what} is nested too deeply")
            return None
        except ValueError as exc:  # an integer too long for Python to convert
            self.err(display, at, f"{what} is not valid JSON: {exc}")
            return None
        count = 1
        if isinstance(document, dict) and isinstance(document.get("Statement"), list):
            count = max(1, len(document["Statement"]))
        return _PolicySource(
            document, display, at[0], at[1], lambda _p: at, [at[0]] * count, note, cache
        )

    def _file_source(self, path: Path, display: str) -> _PolicySource | None:
        is_json = path.suffix.lower() == ".json"
        parsed = _parse_file(path)
        fkey = parsed.key
        if is_json:
            if parsed.text is None:
                for line, col, message in parsed.problems:
                    self.err(display, (line, col), message)
                return None
            try:
                document = json.loads(parsed.text, object_pairs_hook=validate.unique_keys)
            except json.JSONDecodeError as exc:
                self.err(display, (exc.lineno, exc.colno), f"invalid JSON: {exc.msg}")
                return None
            except validate.RepeatedKey as exc:
                # reported with its line by the YAML pass when that pass worked
                if not parsed.problems:
                    self.err(display, (1, 1), f"duplicate key {exc.key!r}")
                else:
                    for line, col, message in parsed.problems:
                        self.err(display, (line, col), message)
                return None
            except RecursionError:
                self.err(display, (1, 1), "the JSON is nested too deeply")
                return None
            except ValueError as exc:  # an integer too long for Python to convert
                self.err(display, (1, 1), f"invalid JSON: {exc}")
                return None
            root = parsed.root if not parsed.problems else None
        else:
            for line, col, message in parsed.problems:
                self.err(display, (line, col), message)
            if parsed.problems:
                return None
            root = parsed.root
            document = _yaml_value(root) if root is not None else None
        cache = (fkey,) if fkey is not None else None
        if isinstance(document, dict) and "policyText" in document and "Statement" not in document:
            # `aws ecr get-repository-policy` output: the policy is the string policyText
            at: Located = (1, 1)
            if root is not None:
                at = _node_loc(_locate(root, ("policyText",)))
                if isinstance(root, MappingNode):
                    for knode, vnode in root.value:
                        if knode.value == "policyText":
                            at = _node_loc(vnode)
            text = document["policyText"]
            if not isinstance(text, str):
                self.err(display, at, "policyText must be the policy document as a JSON string")
                return None
            return self._json_text_source(
                text, display, at, "in policyText, ", cache, what="policyText"
            )
        if isinstance(root, MappingNode):
            return self._node_source_with(document, root, display, cache)
        if document is None:
            self.err(display, (1, 1), "the policy file is empty")
            return None
        # a document we could not position (not a mapping, or JSON the YAML reader rejected)
        return _PolicySource(document, display, 1, 1, lambda _p: (1, 1), None, "", cache)

    def _node_source_with(
        self, document: Any, root: MappingNode, display: str, cache: tuple[object, ...] | None
    ) -> _PolicySource:
        src = self._node_source(root, display, cache)
        src.document = document
        return src

    def compile(
        self, name: str, kind: model.PolicyKind, ref: tuple[_File, Node]
    ) -> validate.CompiledPolicy | None:
        """The named policy compiled as ``kind`` (once per load and kind)."""
        if (name, kind) in self.compiled:
            return self.compiled[(name, kind)]
        result: validate.CompiledPolicy | None = None
        src = self.policy_source(name)
        if src is not None:
            key = (
                (src.cache_key, kind, name, src.file, str(self.root))
                if src.cache_key is not None
                else None
            )
            result = _compiled_cache.get(key) if key is not None else None
            if result is None:
                try:
                    result = validate.compile_policy(
                        src.document,
                        kind,
                        name=name,
                        file=src.file,
                        line=src.line,
                        statement_lines=src.statement_lines,
                    )
                except model.PolicyInvalid as exc:
                    line, col = _node_loc(ref[1])
                    label = _KIND_LABEL[kind]
                    attached = f"{label} {name!r}, attached at {ref[0].display}:{line}:{col}"
                    for problem in exc.problems:
                        where = model.format_path(problem.path)
                        prefix = f"{src.note}{where}: " if where else src.note
                        self.err(
                            src.file,
                            src.locate(problem.path),
                            f"{prefix}{problem.message} ({attached})",
                        )
                    result = None
                else:
                    if key is not None:
                        _remember(_compiled_cache, key, result)
            if result is not None:
                self.infos.append(
                    model.PolicyInfo(name, result, model.SourceLoc(src.file, src.line, src.col))
                )
        self.compiled[(name, kind)] = result
        return result

    def policy_ref(
        self, f: _File, node: Node, kind: model.PolicyKind
    ) -> tuple[bool, validate.CompiledPolicy | None]:
        """Resolve one policy reference: (ok, compiled). ``ok`` is False when the reference
        itself is wrong or the policy is invalid (already reported)."""
        name = self.text(f, node, "a policy name")
        if name is None:
            return False, None
        if kind is model.PolicyKind.SCP and name == _PREDEFINED_SCP:
            return True, validate.FULL_AWS_ACCESS
        if kind is model.PolicyKind.RCP and name == _PREDEFINED_RCP:
            return True, None  # always implied
        if name in self.broken:
            return False, None
        if name not in self.names.policies:
            extra = [_PREDEFINED_SCP] if kind is model.PolicyKind.SCP else []
            self.unknown(f, node, "policy", name, [*self.names.policies, *extra])
            return False, None
        compiled = self.compile(name, kind, (f, node))
        return compiled is not None, compiled

    def policy_refs(
        self, f: _File, node: Node, kind: model.PolicyKind, many: str
    ) -> list[validate.CompiledPolicy] | None:
        names = self.name_list(f, node, "policy name", many)
        if names is None:
            return None
        out: list[validate.CompiledPolicy] = []
        ok = True
        for _name, item in names:
            good, compiled = self.policy_ref(f, item, kind)
            ok = ok and good
            if compiled is not None:
                out.append(compiled)
        return out if ok else None

    # -- principals, resources, organization

    def principal(self, name: str) -> model.Principal | None:
        if name not in self.principals:
            self.principals[name] = self._principal(self.names.principals[name])
        return self.principals[name]

    def _principal(self, d: _Def) -> model.Principal | None:
        f, node = d.file, d.value
        if isinstance(node, ScalarNode) and node.tag in _TEXT_TAGS:
            try:
                if node.value == "anonymous":
                    return model.anonymous_principal(d.name)
                return model.principal_from_arn(d.name, node.value)
            except model.ModelError as exc:
                self.err(f, node, str(exc))
                return None
        if not isinstance(node, MappingNode):
            self.err(
                f,
                node,
                "expected a principal: an ARN, 'anonymous', or a mapping with 'arn' or "
                f"'service', got {_describe(node)}",
            )
            return None
        items = self.mapping(f, node, "a principal")
        assert items is not None
        keys = self.keys(f, items, _PRINCIPAL_KEYS, "key", f" in principal {d.name!r}")
        ok = len(keys) == len(items)
        if "service" in keys:
            for other in keys:
                if other != "service":
                    self.err(
                        f,
                        keys[other][0],
                        f"a service principal has only 'service'; {other!r} does not apply",
                    )
                    ok = False
            service = self.text(
                f, keys["service"][1], "a service name such as codebuild.amazonaws.com"
            )
            if service is None or not ok:
                return None
            try:
                return model.service_principal(d.name, service)
            except model.ModelError as exc:
                self.err(f, keys["service"][1], str(exc))
                return None
        if "arn" not in keys:
            if ok:
                self.err(
                    f,
                    d.key,
                    f"principal {d.name!r} needs 'arn' (an IAM or STS ARN) or 'service' "
                    "(such as codebuild.amazonaws.com)",
                )
            return None
        arn = self.text(f, keys["arn"][1], "a principal ARN")
        if arn is None:
            return None
        try:
            bare = model.principal_from_arn(d.name, arn)
        except model.ModelError as exc:
            self.err(f, keys["arn"][1], str(exc))
            return None
        ptype = bare.type
        kind_text = _PRINCIPAL_TYPE_LABEL[ptype]
        session: str | None = None
        if "session" in keys:
            k, v = keys["session"]
            if ptype is not model.PrincipalType.ROLE_SESSION:
                self.err(
                    f,
                    k,
                    f"'session' is only for roles; principal {d.name!r} is {kind_text} ({arn})",
                )
                ok = False
            else:
                session = self.text(f, v, "a role session name")
                ok = ok and session is not None
        if "session-policy" in keys and ptype not in (
            model.PrincipalType.ROLE_SESSION,
            model.PrincipalType.FEDERATED_USER,
        ):
            self.err(
                f,
                keys["session-policy"][0],
                "'session-policy' is only for roles and federated users; principal "
                f"{d.name!r} is {kind_text} ({arn})",
            )
            ok = False
        if ptype is model.PrincipalType.ROOT:
            for attached in ("policies", "boundary", "session-policy"):
                if attached in keys:
                    self.err(
                        f,
                        keys[attached][0],
                        f"{attached!r} cannot be attached to the account root user ({arn}); "
                        "IAM policies and boundaries do not apply to it",
                    )
                    ok = False
        policies: list[validate.CompiledPolicy] = []
        if "policies" in keys and ok:
            got = self.policy_refs(
                f, keys["policies"][1], model.PolicyKind.IDENTITY, "a list of policy names"
            )
            ok = ok and got is not None
            policies = got or []
        boundary = session_policy = None
        if "boundary" in keys and ok:
            good, boundary = self.policy_ref(f, keys["boundary"][1], model.PolicyKind.BOUNDARY)
            ok = ok and good
        if "session-policy" in keys and ok:
            good, session_policy = self.policy_ref(
                f, keys["session-policy"][1], model.PolicyKind.SESSION
            )
            ok = ok and good
        tags: dict[str, str] | None = {}
        if "tags" in keys:
            tags = self.tags(f, keys["tags"][1])
            ok = ok and tags is not None
        if not ok:
            return None
        try:
            return model.principal_from_arn(
                d.name,
                arn,
                session=session,
                policies=policies,
                boundary=boundary,
                session_policy=session_policy,
                tags=tags,
            )
        except model.ModelError as exc:
            self.err(f, keys["session"][1] if "session" in keys else keys["arn"][1], str(exc))
            return None

    def resource(self, name: str) -> model.Resource | None:
        if name not in self.resources:
            self.resources[name] = self._resource(self.names.resources[name])
        return self.resources[name]

    def _resource(self, d: _Def) -> model.Resource | None:
        f, node = d.file, d.value
        if isinstance(node, ScalarNode) and node.tag in _TEXT_TAGS:
            try:
                return model.repository(d.name, node.value)
            except model.ModelError as exc:
                self.err(f, node, str(exc))
                return None
        items = self.mapping(
            f, node, "a repository: its ARN, or a mapping with 'arn', 'policy' and 'tags'"
        )
        if items is None:
            return None
        keys = self.keys(f, items, _RESOURCE_KEYS, "key", f" in resource {d.name!r}")
        ok = len(keys) == len(items)
        if "arn" not in keys:
            if ok:
                self.err(
                    f,
                    d.key,
                    f"resource {d.name!r} needs 'arn' (arn:aws:ecr:REGION:ACCOUNT:repository/NAME)",
                )
            return None
        arn = self.text(f, keys["arn"][1], "a repository ARN")
        ok = ok and arn is not None
        policy = None
        if "policy" in keys:
            good, policy = self.policy_ref(f, keys["policy"][1], model.PolicyKind.RESOURCE)
            ok = ok and good
        tags: dict[str, str] | None = {}
        if "tags" in keys:
            tags = self.tags(f, keys["tags"][1])
            ok = ok and tags is not None
        if not ok or arn is None:
            return None
        try:
            return model.repository(d.name, arn, policy=policy, tags=tags)
        except model.ModelError as exc:
            self.err(f, keys["arn"][1], str(exc))
            return None

    def organization(self) -> tuple[bool, model.Organization | None]:
        d = self.names.organization
        if d is None:
            return True, None
        f = d.file
        items = self.mapping(
            f, d.value, "a mapping with id, management-account, accounts, scps and rcps"
        )
        if items is None:
            return False, None
        keys = self.keys(f, items, _ORGANIZATION_KEYS, "key", " in organization")
        ok = len(keys) == len(items)
        org_id: str | None = None
        if "id" in keys:
            org_id = self.text(f, keys["id"][1], "an organization id such as o-a1b2c3d4e5")
            if org_id is not None and not _ORG_ID.match(org_id):
                self.err(
                    f,
                    keys["id"][1],
                    f"expected an organization id such as o-a1b2c3d4e5, got {org_id!r}",
                )
                org_id = None
            ok = ok and org_id is not None
        management: str | None = None
        if "management-account" in keys:
            management = self.account(f, keys["management-account"][1], "an account id")
            ok = ok and management is not None
        accounts: list[str] = []
        if "accounts" in keys:
            node = keys["accounts"][1]
            if isinstance(node, SequenceNode):
                for item in node.value:
                    acct = self.account(f, item, "an account id")
                    if acct is None:
                        ok = False
                    else:
                        accounts.append(acct)
            else:
                self.err(f, node, f"expected a list of account ids, got {_describe(node)}")
                ok = False
        scps: list[validate.CompiledPolicy] = [validate.FULL_AWS_ACCESS]
        if "scps" in keys:
            node = keys["scps"][1]
            if isinstance(node, SequenceNode) and not node.value:
                self.err(
                    f,
                    node,
                    "an account always has at least one SCP attached; list at least one "
                    "(FullAWSAccess is predefined)",
                )
                ok = False
            else:
                got = self.policy_refs(f, node, model.PolicyKind.SCP, "a list of SCP names")
                ok = ok and got is not None
                scps = got or []
        rcps: list[validate.CompiledPolicy] = []
        if "rcps" in keys:
            node = keys["rcps"][1]
            if not (isinstance(node, SequenceNode) and not node.value):
                got = self.policy_refs(f, node, model.PolicyKind.RCP, "a list of RCP names")
                ok = ok and got is not None
                rcps = got or []
        if not ok:
            return False, None
        return True, model.Organization(
            id=org_id,
            management_account=management,
            accounts=frozenset(accounts),
            scps=tuple(scps),
            rcps=tuple(rcps),
        )

    # -- cases

    def actions(
        self,
        f: _File,
        node: Node,
        expected: str,
        has_resource: bool,
        into: dict[str, tuple[str, tuple[str, ...], str, Node]],
    ) -> bool:
        """Resolve an allow/deny/action value into ``into`` (action -> (action, steps,
        expected, node)), keeping the first of identical entries."""
        names = self.name_list(f, node, "action", "a list of actions")
        if names is None:
            return False
        ok = True
        for text, item in names:
            entries: list[tuple[str, tuple[str, ...]]]
            if text.lower() in catalog.OPERATIONS:
                op = text.lower()
                entries = [(op, tuple(catalog.OPERATIONS[op]))]
                if not has_resource:
                    self.err(
                        f,
                        item,
                        f"{op} acts on a repository ({', '.join(catalog.OPERATIONS[op])}); "
                        "name a resource",
                    )
                    ok = False
                    continue
            else:
                resolved = _resolve_action(text)
                if isinstance(resolved, str):
                    bare = text.lower().removeprefix("ecr:")
                    near = difflib.get_close_matches(
                        bare, list(catalog.OPERATIONS), n=1, cutoff=0.6
                    )
                    if near:
                        ops = catalog.OPERATIONS[near[0]]
                        resolved = (
                            f"unknown action {text!r}; did you mean the operation {near[0]!r} "
                            f"(every action `docker {near[0]}` needs: {', '.join(ops)})?"
                        )
                    self.err(f, item, resolved)
                    ok = False
                    continue
                if not has_resource:
                    repo_level = [a for a in resolved if not catalog.is_account_level(a)]
                    if repo_level and len(resolved) == 1:
                        self.err(f, item, f"{repo_level[0]} acts on a repository; name a resource")
                        ok = False
                        continue
                    if repo_level:
                        shown = ", ".join(repo_level[:5]) + (", ..." if len(repo_level) > 5 else "")
                        self.err(
                            f,
                            item,
                            f"{text} matches actions that act on a repository ({shown}); "
                            "name a resource",
                        )
                        ok = False
                        continue
                entries = [(a, (a,)) for a in resolved]
            for action, steps in entries:
                prev = into.get(action)
                if prev is None:
                    into[action] = (action, steps, expected, item)
                elif prev[2] != expected:
                    pline, pcol = _node_loc(prev[3])
                    self.err(
                        f,
                        item,
                        f"{action} is expected to be {_EXPECT_WORDS[expected]} here but "
                        f"{_EXPECT_WORDS[prev[2]]} at {pline}:{pcol} of the same case",
                    )
                    ok = False
        return ok

    def case(
        self,
        f: _File,
        index: int,
        node: Node,
        organization: model.Organization | None,
        file_context: Mapping[str, tuple[str, ...]],
        labels: set[str],
        ids: set[str],
    ) -> list[model.Check] | None:
        items = self.mapping(f, node, "a case (a mapping with principal, resource, allow, ...)")
        if items is None:
            return None
        keys = self.keys(f, items, _CASE_KEYS, "key", " in a case")
        ok = len(keys) == len(items)
        name: str | None = None
        if "name" in keys:
            name = self.text(f, keys["name"][1], "a case name (text)")
            ok = ok and name is not None
        # principals
        principals: list[model.Principal] = []
        if "principal" not in keys:
            if ok:  # not when a key is misspelt: that message says it all
                self.err(f, node, "a case needs 'principal' (a principal name or a list of names)")
            ok = False
        else:
            refs = self.name_list(
                f, keys["principal"][1], "principal name", "a list of principal names"
            )
            if refs is None:
                ok = False
            seen: set[str] = set()
            for pname, pnode in refs or []:
                if pname in seen:
                    self.err(f, pnode, f"principal {pname!r} is listed twice in this case")
                    ok = False
                    continue
                seen.add(pname)
                if pname in self.broken:
                    ok = False
                    continue
                if pname not in self.names.principals:
                    self.unknown(f, pnode, "principal", pname, self.names.principals)
                    ok = False
                    continue
                p = self.principal(pname)
                if p is None:
                    ok = False  # already reported at its definition
                else:
                    principals.append(p)
        # resources
        resources: list[model.Resource | None] = [None]
        if "resource" in keys:
            resources = []
            refs = self.name_list(
                f, keys["resource"][1], "resource name", "a list of resource names"
            )
            if refs is None:
                ok = False
            seen = set()
            for rname, rnode in refs or []:
                if rname in seen:
                    self.err(f, rnode, f"resource {rname!r} is listed twice in this case")
                    ok = False
                    continue
                seen.add(rname)
                if rname in self.broken:
                    ok = False
                    continue
                if rname not in self.names.resources:
                    self.unknown(f, rnode, "resource", rname, self.names.resources)
                    ok = False
                    continue
                r = self.resource(rname)
                if r is None:
                    ok = False
                else:
                    resources.append(r)
        has_resource = "resource" in keys
        # actions, in the order the keys are written
        actions: dict[str, tuple[str, tuple[str, ...], str, Node]] = {}
        if "action" in keys and "expect" not in keys:
            self.err(
                f,
                keys["action"][0],
                "'action' needs 'expect' (allow, deny, explicit-deny or implicit-deny)",
            )
            ok = False
        if "expect" in keys and "action" not in keys:
            self.err(f, keys["expect"][0], "'expect' needs 'action' (the actions it is about)")
            ok = False
        expect: str | None = None
        if "expect" in keys:
            enode = keys["expect"][1]
            word = enode.value if isinstance(enode, ScalarNode) else None
            if word in model.EXPECTATIONS:
                expect = word
            else:
                best = _suggestion(word, model.EXPECTATIONS) if isinstance(word, str) else None
                hint = f"; did you mean {best!r}?" if best else ""
                self.err(
                    f,
                    enode,
                    "expected one of "
                    + ", ".join(model.EXPECTATIONS)
                    + f", got {_describe(enode)}{hint}",
                )
                ok = False
        if not any(k in keys for k in ("allow", "deny", "action")):
            if len(keys) == len(items):
                self.err(f, node, "a case needs 'allow', 'deny', or 'action' with 'expect'")
            ok = False
        for key, _pair in keys.items():
            if key == "allow":
                ok = self.actions(f, keys[key][1], "allow", has_resource, actions) and ok
            elif key == "deny":
                ok = self.actions(f, keys[key][1], "deny", has_resource, actions) and ok
            elif key == "action" and expect is not None:
                ok = self.actions(f, keys[key][1], expect, has_resource, actions) and ok
        # context
        context: dict[str, tuple[str, ...]] = dict(file_context)
        own_nodes: dict[str, ScalarNode] = {}
        if "context" in keys:
            own = self.context(f, keys["context"][1])
            own_nodes = {k.lower(): n for k, _v, n in own}
            context = {k: v for k, v in context.items() if k.lower() not in own_nodes}
            for k, v, _n in own:
                context[k] = v
        if not ok:
            return None
        case_steps = {a for _action, acts, _e, _i in actions.values() for a in acts}
        if not self.single_valued_keys(
            f, context, own_nodes, principals, resources, organization, case_steps
        ):
            return None
        if not self.unknowable_keys(
            f, node, context, principals, resources, organization, case_steps
        ):
            return None
        total = len(principals) * len(resources) * len(actions)
        if total > MAX_CHECKS:
            self.err(
                f, node, f"this case expands to {total} checks; at most {MAX_CHECKS} are allowed"
            )
            return None
        label = _slug(name) if name else ""
        if not label:
            label = f"case{index + 1}"
        if label in labels:
            n = 2
            while f"{label}-{n}" in labels:
                n += 1
            label = f"{label}-{n}"
        labels.add(label)
        line, col = _node_loc(node)
        loc = model.SourceLoc(f.display, line, col)
        case_name = name if name else f"case{index + 1}"
        out: list[model.Check] = []
        for p in principals:
            for r in resources:
                for action, steps, expected, _item in actions.values():
                    parts = [p.name, r.name, action] if r is not None else [p.name, action]
                    params = "-".join(parts)
                    test_id = f"{label}[{params}]"
                    n = 2
                    while test_id in ids:
                        test_id = f"{label}[{params}-{n}]"
                        n += 1
                    ids.add(test_id)
                    out.append(
                        model.Check(
                            file=f.display,
                            loc=loc,
                            case=case_name,
                            case_index=index,
                            test_id=test_id,
                            principal=p,
                            resource=r,
                            action=action,
                            steps=steps,
                            expected=expected,
                            context=context,
                            organization=organization,
                        )
                    )
        return out


def _case_policies(
    principals: Sequence[model.Principal],
    resources: Sequence[model.Resource | None],
    organization: model.Organization | None,
) -> list[validate.CompiledPolicy]:
    """Every policy that takes part in some check of a case, each once."""
    policies: dict[int, validate.CompiledPolicy] = {}
    for p in principals:
        for pol in (*p.policies, p.boundary, p.session_policy):
            if pol is not None:
                policies.setdefault(id(pol), pol)
    for r in resources:
        if r is not None and r.policy is not None:
            policies.setdefault(id(r.policy), r.policy)
    if organization is not None:
        for pol in (*organization.scps, *organization.rcps):
            policies.setdefault(id(pol), pol)
    return list(policies.values())


#: Keys that AWS puts in every request of a kind of principal, with values the tool cannot know
#: ("AWS global condition context keys": aws:userid, aws:PrincipalAccount and aws:PrincipalType
#: are "included in the request context for all requests"; "Policy variables", principal key
#: values: aws:userid of a user is its unique ID, of a role session ROLE-ID:SESSION-NAME).
#: Lowercased key -> (what its value is, an example).
_UNKNOWABLE: dict[model.PrincipalType, dict[str, tuple[str, str]]] = {
    model.PrincipalType.USER: {
        "aws:userid": ("the user's unique ID", "AIDAJQABLZS4A3QDU576Q"),
    },
    model.PrincipalType.ROLE_SESSION: {
        "aws:userid": (
            "the role's unique ID and the session name",
            "AROADBQP57FF2AEXAMPLE:session-name",
        ),
    },
    model.PrincipalType.SERVICE: {
        "aws:userid": ("not documented for service principals", "..."),
        "aws:principalaccount": ("not documented for service principals", "..."),
        "aws:principaltype": ("not documented for service principals", "..."),
    },
}
_KEY_NAMES = {
    "aws:userid": "aws:userid",
    "aws:principalaccount": "aws:PrincipalAccount",
    "aws:principaltype": "aws:PrincipalType",
}


_MULTIVALUED_DOC = (
    "AWS documents only ForAllValues: and ForAnyValue: for a key with several values "
    '("Multivalued context keys require a condition set operator")'
)


@functools.lru_cache(maxsize=4096)
def _resolve_action(text: str) -> tuple[str, ...] | str:
    """``catalog.resolve_action`` once per distinct text: the actions, or the error message."""
    try:
        return tuple(catalog.resolve_action(text))
    except catalog.UnknownAction as exc:
        return str(exc)


def _slug(name: str) -> str:
    """A case name as the label of its test ids: lowercase, spaces as '-', and only letters,
    digits, '-', '_' and '.' kept (so ids work with ``pytest -k`` and ``--lf``); runs of '-'
    become one. Empty when nothing is left (the caller then uses ``case<N>``)."""
    kept = "".join(ch for ch in name.lower().replace(" ", "-") if ch.isalnum() or ch in "-_.")
    slug = re.sub(r"-{2,}", "-", kept).strip("-")
    return slug if any(ch.isalnum() for ch in slug) else ""


# ---------------------------------------------------------------------------------------------
# Public API


def load_spec(path: str | os.PathLike[str], *, display_root: Path | None = None) -> model.Spec:
    """Load one spec file (and the files it includes and references) into a :class:`Spec`.

    Raises :class:`SpecError` carrying every problem found, each at ``file:line:col``; never
    any other exception. Paths are shown relative to ``display_root`` (default: the current
    directory) when inside it.
    """
    root = _resolved_root(str(display_root if display_root is not None else Path.cwd()))
    spec_path = Path(path).resolve()
    load = _Load(root)
    # Loading allocates many small, acyclic objects (YAML nodes, checks); the cyclic garbage
    # collector would rescan everything alive again and again (about a third of the time for
    # 800 spec files). It is paused for the load and restored afterwards.
    collecting = gc.isenabled()
    gc.disable()
    try:
        spec = _load(load, spec_path)
    finally:
        if collecting:
            gc.enable()
    if load.problems:
        raise SpecError(_unique(load.problems))
    assert spec is not None
    return spec


@functools.lru_cache(maxsize=64)
def _resolved_root(root: str) -> Path:
    return Path(root).resolve()


def _join(including: Path, relative: str) -> Path:
    """A path named in ``including`` (already absolute), relative to its folder; normalised
    without touching the disk (``..`` removed), as resolving every path costs a stat per
    component."""
    return Path(os.path.normpath(including.parent / relative))


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[object, str]] = set()
    out: list[Problem] = []
    for p in problems:
        key = (p.loc, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _load(load: _Load, spec_path: Path) -> model.Spec | None:
    f = load.open_file(spec_path, at=None)
    if f is None:
        return None
    top = load.gather(f, [])
    if load.fatal:
        # a misspelt section or an unreadable include: later messages would be nonsense
        return None
    # every definition is checked, used or not
    for name in load.names.policies:
        load.policy_source(name)
    ok, organization = load.organization()
    for name in load.names.principals:
        load.principal(name)
    for name in load.names.resources:
        load.resource(name)
    file_context = {key: values for key, values, _d, _n in load.names.context.values()}
    if "cases" not in top:
        load.err(
            f,
            f.root,
            "a spec needs 'cases' (a list of expectations); if this file only shares "
            "definitions, start its name with '_' and include it from a spec",
        )
        return None
    node = top["cases"][1]
    if not isinstance(node, SequenceNode) or not node.value:
        load.err(f, node, f"expected a list of cases, got {_describe(node)}")
        return None
    checks: list[model.Check] = []
    labels: set[str] = set()
    ids: set[str] = set()
    for index, case_node in enumerate(node.value):
        got = load.case(f, index, case_node, organization, file_context, labels, ids)
        if got is not None:
            checks.extend(got)
            if len(checks) > MAX_CHECKS:
                load.err(f, case_node, f"this spec expands to more than {MAX_CHECKS} checks")
                return None
    if load.problems or not ok:
        return None
    return model.Spec(
        path=f.display,
        description=load.descriptions.get(f.path),
        checks=tuple(checks),
        policies=tuple(load.infos),
    )


_SUFFIXES = (".yaml", ".yml")
_TOP_KEY_LINE = re.compile(
    r"""^(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"\-?:{}\[\]&*!|>%@`,][^:#\n]*?))\s*:(?:\s|$)"""
)
_SNIFF_BYTES = 256 * 1024
#: The longest problem message, in characters.
_MAX_MESSAGE = 2000
#: A top-level key is looked for in this much of a line: the pattern is quadratic in the
#: length of a line without a colon (a 256 KB one took a minute).
_KEY_LINE_CHARS = 256


def _near(key: str, vocabulary: Sequence[str]) -> bool:
    return any(difflib.SequenceMatcher(None, key, v).ratio() >= 0.8 for v in vocabulary)


_LEADING = re.compile(r"\A(?:\s+|#[^\n]*|---)*")


def _flow_mapping_keys(text: str) -> list[str]:
    """The top-level keys of a file written as one flow mapping (``{principals: ..., cases:
    [...]}``), which has no ``key:`` line at column 0; composed only (no YAML tag is ever
    interpreted). Empty for anything else."""
    lead = _LEADING.match(text)
    if not text[lead.end() if lead else 0 :].startswith("{"):
        return []
    try:
        root = yaml.compose(text, Loader=_YamlLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return []
    if not isinstance(root, MappingNode):
        return []
    return [k.value for k, _v in root.value if isinstance(k, ScalarNode)]


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
        if path.suffix not in _SUFFIXES or path.name.startswith("_") or not path.is_file():
            return False
        with path.open("rb") as fh:
            data = fh.read(_SNIFF_BYTES)
    except OSError:
        return False
    codec = "utf-16" if data[:2] in _UTF16_BOMS else "utf-8"
    text = data.decode(codec, errors="replace")
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
    vocabulary = SPEC_KEYS
    if "cases" in keys or any(_near(k.lower(), ("cases",)) for k in keys):
        return True
    for key in keys:
        if key in vocabulary:
            continue
        if key[:1].islower() and _near(key, vocabulary):
            continue
        return False
    return True
