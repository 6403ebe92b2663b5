"""Safe YAML: the only module that imports ``yaml``.

Files are read with a size bound, decoded (UTF-8, or UTF-16 with a byte order mark) and
*composed*, never constructed: the result is a node tree whose nodes keep their line and
column (``start_mark``), so every later mistake can be reported as ``file:line:col``. A
composed document is checked before anyone reads it: only the standard tags (or, for
:func:`compose_text` with ``custom_tags=True``, local tags such as CloudFormation's ``!Ref``
kept on the nodes), no duplicate or non-text keys, no merge keys, bounded nesting, and no
anchors and aliases that expand the document beyond :data:`MAX_ALIAS_EXPANSION` nodes.

The node classes are re-exported here so that no other module imports ``yaml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "ALLOWED_TAGS",
    "BOOL",
    "FLOAT",
    "INT",
    "MAX_ALIAS_EXPANSION",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "NULL",
    "STR",
    "TEXT_TAGS",
    "Composed",
    "FileKey",
    "Located",
    "MappingNode",
    "Node",
    "Parsed",
    "ScalarNode",
    "SequenceNode",
    "TextProblem",
    "bool_text",
    "compose_quietly",
    "compose_text",
    "cut",
    "describe",
    "excerpt",
    "parse_file",
    "plain",
    "sniff_text",
    "text_key",
    "where",
]

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Files larger than this are refused (a spec or policy is a few kilobytes; AWS's largest policy
#: is 10,240 characters). Composing YAML costs up to ~150 bytes of memory per byte of a
#: hostile file (4 MB of "1," took 614 MB), so the bound is also a memory bound: ~300 MB.
MAX_FILE_BYTES = 2 * 1024 * 1024
#: Anchors and aliases may add at most this many nodes to a document ("billion laughs").
MAX_ALIAS_EXPANSION = 100_000
#: Deepest nesting accepted in a YAML or JSON file.
MAX_DEPTH = 64

_T = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, TIMESTAMP = (
    _T + "str",
    _T + "int",
    _T + "float",
    _T + "bool",
    _T + "null",
    _T + "timestamp",
)
_SEQ, _MAP, _MERGE = _T + "seq", _T + "map", _T + "merge"
#: The tags a spec or policy file may use: plain scalars, lists and mappings.
ALLOWED_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL, TIMESTAMP, _SEQ, _MAP})
#: Scalars read as text (numbers and dates stay the text they were written as).
TEXT_TAGS = frozenset({STR, INT, FLOAT, TIMESTAMP})
_TRUE = frozenset({"yes", "true", "on", "y"})

Located: TypeAlias = tuple[int, int]  # 1-based line and column


@dataclass(frozen=True, slots=True, order=True)
class TextProblem:
    """A problem found reading a file, at a 1-based line and column of it."""

    line: int
    col: int
    message: str


def where(node: Node) -> Located:
    """The 1-based line and column where ``node`` starts."""
    return node.start_mark.line + 1, node.start_mark.column + 1


#: How much of an input value a message quotes.
EXCERPT_CHARS = 60


def cut(text: str) -> str:
    """``text``, or its first characters and its length when it is long (for messages: a
    message quotes only a short excerpt of any input)."""
    if len(text) <= EXCERPT_CHARS:
        return text
    return f"{text[:EXCERPT_CHARS]}... ({len(text):,} characters)"


def excerpt(text: str) -> str:
    """``text`` quoted as Python quotes it (``repr``), or its first characters quoted and its
    length when it is long."""
    if len(text) <= EXCERPT_CHARS:
        return repr(text)
    return f"{text[:EXCERPT_CHARS]!r}... ({len(text):,} characters)"


def describe(node: Node) -> str:
    """What a node is, in words, for "expected X, got Y" messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list" if node.value else "an empty list"
    assert isinstance(node, ScalarNode)
    if node.tag == NULL:
        return "nothing (null)"
    if node.tag == BOOL:
        return f"a boolean ({cut(node.value)})"
    if node.tag in (INT, FLOAT):
        return f"a number ({cut(node.value)})"
    return f"the text {excerpt(node.value)}"


def bool_text(node: ScalarNode) -> str:
    """A YAML boolean as AWS writes it: ``true`` or ``false``."""
    return "true" if node.value.lower() in _TRUE else "false"


def plain(node: Node) -> Any:
    """A checked node tree as plain Python: mappings, lists, strings, booleans, None.
    Numbers and dates stay the text they were written as (policy values are text in IAM)."""
    if isinstance(node, MappingNode):
        return {k.value: plain(v) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [plain(v) for v in node.value]
    assert isinstance(node, ScalarNode)
    if node.tag == NULL:
        return None
    if node.tag == BOOL:
        return node.value.lower() in _TRUE
    return node.value


def text_key(text: str, node: Node) -> tuple[int, str] | None:
    """An exact identity of the value ``node`` of the document composed from ``text``, far
    cheaper than encoding it: the column it starts at and the text it spans. Two values with
    equal keys are the same nodes (tags, texts, shapes): composing reads the span alone, with
    the indentation that its start column and its own lines set (the text around it only
    decides where it ends, which the span records). None when an alias in the span could
    stand for a value written elsewhere (the document has an anchor), when the span writes a
    tag (whose meaning a ``%TAG`` directive outside it may change), or when the text starts
    with a byte order mark (which the parser does not count in its positions)."""
    if "&" in text or text[:1] == "\ufeff":
        return None
    span = text[node.start_mark.index : node.end_mark.index]
    if "!" in span:
        return None
    return node.start_mark.column, span


# ---------------------------------------------------------------------------------------------
# Reading and decoding


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


# ---------------------------------------------------------------------------------------------
# Composing and checking


def _yaml_error(exc: yaml.YAMLError, text: str) -> TextProblem:
    """A parser error in plain words at the parser's position."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        words = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            at = ""
            if exc.context_mark is not None and (
                mark is None or exc.context_mark.line != mark.line
            ):
                at = f" on line {exc.context_mark.line + 1}"
            words = f"{exc.problem} ({exc.context}{at})"
        if mark is None:
            return TextProblem(1, 1, f"invalid YAML: {words}")
        return TextProblem(mark.line + 1, mark.column + 1, f"invalid YAML: {words}")
    if isinstance(exc, yaml.reader.ReaderError):
        pos = min(max(exc.position, 0), len(text))
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        return TextProblem(
            line, col, f"invalid YAML: the character {shown} is not allowed in YAML text"
        )
    return TextProblem(1, 1, f"invalid YAML: {exc}")


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_T) :] if tag.startswith(_T) else tag


def _tag_problem(node: Node) -> TextProblem:
    line, col = where(node)
    return TextProblem(
        line,
        col,
        f"the YAML tag {excerpt(_show_tag(node.tag))} is not supported; only plain "
        "strings, numbers, booleans, lists and mappings are read "
        "(tags are never executed)",
    )


def _key_problems(node: MappingNode) -> list[TextProblem]:
    """Non-text, merge and duplicate keys of one mapping."""
    problems: list[TextProblem] = []
    seen: dict[str, int] = {}
    for knode, _vnode in node.value:
        line, col = where(knode)
        if not isinstance(knode, ScalarNode):
            problems.append(
                TextProblem(line, col, f"a mapping key must be plain text, not {describe(knode)}")
            )
        elif knode.tag == _MERGE:
            problems.append(
                TextProblem(
                    line,
                    col,
                    "merge keys ('<<') are not supported; write the keys out "
                    "(an alias may still stand for a whole value)",
                )
            )
        elif knode.value in seen:
            problems.append(
                TextProblem(
                    line,
                    col,
                    f"duplicate key {excerpt(knode.value)} (first defined on line "
                    f"{seen[knode.value]})",
                )
            )
        else:
            seen[knode.value] = line
    return problems


class _Tags:
    """Which tags a document may carry: the standard ones, and local ``!Name`` tags when a
    caller keeps them (a CloudFormation template's intrinsic functions)."""

    __slots__ = ("custom",)

    def __init__(self, custom: bool) -> None:
        self.custom = custom

    def allowed(self, tag: str) -> bool:
        return tag in ALLOWED_TAGS or (self.custom and tag.startswith("!"))


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


def _check_graph(root: Node, tags: _Tags) -> list[TextProblem]:
    """Structural problems of a composed document: tags other than the allowed ones,
    duplicate or non-text mapping keys, merge keys, recursive aliases, nesting deeper than
    MAX_DEPTH, and aliases that expand the document by more than MAX_ALIAS_EXPANSION nodes.
    Works on the node graph (an alias is the same node object), visiting each node once."""
    problems: list[TextProblem] = []
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
                line, col = where(node)
                return [
                    TextProblem(
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
            line, col = where(node)
            return [
                TextProblem(
                    line, col, "a recursive alias (a value that contains itself) is not allowed"
                )
            ]
        if depth > MAX_DEPTH:
            line, col = where(node)
            return [TextProblem(line, col, f"values are nested more than {MAX_DEPTH} levels deep")]
        if not tags.allowed(node.tag) and node.tag != _MERGE:
            problems.append(_tag_problem(node))
        if isinstance(node, MappingNode):
            problems.extend(_key_problems(node))
        active.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            stack.append((child, depth + 1, False))
    return sorted(set(problems))


def _check_tree(root: Node, tags: _Tags) -> list[TextProblem]:
    """:func:`_check_graph` for a document without aliases: the same problems, one pass."""
    problems: list[TextProblem] = []
    allowed = ALLOWED_TAGS if not tags.custom else None
    ok = allowed.__contains__ if allowed is not None else tags.allowed
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            line, col = where(node)
            return [TextProblem(line, col, f"values are nested more than {MAX_DEPTH} levels deep")]
        if not ok(node.tag):
            problems.append(_tag_problem(node))
        if isinstance(node, MappingNode):
            keys = set()
            for knode, _vnode in node.value:
                if type(knode) is not ScalarNode or not ok(knode.tag) or knode.value in keys:
                    problems.extend(_key_problems(node))
                    for k, _v in node.value:
                        if not ok(k.tag) and k.tag != _MERGE:
                            problems.append(_tag_problem(k))
                    break
                keys.add(knode.value)
            for knode, vnode in node.value:
                if type(vnode) is ScalarNode:
                    if not ok(vnode.tag):
                        problems.append(_tag_problem(vnode))
                else:
                    stack.append((vnode, depth + 1))
                if type(knode) is not ScalarNode:
                    stack.append((knode, depth + 1))
        elif isinstance(node, SequenceNode):
            for item in node.value:
                if type(item) is ScalarNode:
                    if not ok(item.tag):
                        problems.append(_tag_problem(item))
                else:
                    stack.append((item, depth + 1))
    return sorted(set(problems))


#: Plain scalar text -> its resolved tag, for the tags that :data:`ALLOWED_TAGS` holds.
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_LIMIT = 20_000
#: Longer plain scalars are resolved each time (the memo stays small).
_PLAIN_TAGS_TEXT = 256


class _Loader(_YamlLoader):  # type: ignore[misc]
    """The safe loader, with its implicit resolvers fixed when this module is imported and a
    memo of their answers; it also notes whether a plain scalar resolved to a tag outside
    :data:`ALLOWED_TAGS` (``odd_tag``).

    The composer asks ``resolve`` the tag of every node (140,800 times for the 800 files of
    benchmarks/bench_scale.py eval); the standard resolver tries its regular expressions each
    time. The tag of a plain scalar is a pure function of its text for fixed resolvers, and a
    quoted scalar, a list or a mapping without a tag always gets the default tag when there
    is no path resolver, so the memo is exact. With it and the descend/ascend below,
    composing those files takes 17% fewer instructions than with the standard loader.
    """

    # own copies, so that a resolver added to PyYAML's classes elsewhere in the process
    # cannot make the memo stale
    yaml_implicit_resolvers: ClassVar[dict[Any, list[Any]]] = {
        first: list(rules) for first, rules in _YamlLoader.yaml_implicit_resolvers.items()
    }
    yaml_path_resolvers: ClassVar[dict[Any, Any]] = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.odd_tag = False

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if not implicit[0]:  # quoted, or tagged '!'
                return STR
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = str(super().resolve(kind, value, implicit))
                if tag not in ALLOWED_TAGS:
                    self.odd_tag = True
                elif len(value) <= _PLAIN_TAGS_TEXT:
                    if len(_PLAIN_TAGS) >= _PLAIN_TAGS_LIMIT:
                        _PLAIN_TAGS.clear()
                    _PLAIN_TAGS[value] = tag
            return tag
        return _SEQ if kind is SequenceNode else _MAP

    # With no path resolver these two do nothing. The composer calls each once per node, and
    # a C function that ignores its arguments costs less than a Python method (4% of
    # composing bench_scale.py's files): an empty dict's get(node, index)
    # returns index, tuple() returns ().
    descend_resolver = dict[object, object]().get
    ascend_resolver = tuple


def _compose(text: str) -> tuple[Node | None, bool]:
    """The node tree of ``text`` (None when empty) and whether a plain scalar in it resolved
    to a tag outside :data:`ALLOWED_TAGS`. Raises what PyYAML raises."""
    loader = _Loader(text)
    try:
        return loader.get_single_node(), loader.odd_tag
    finally:
        loader.dispose()


def _keys_clean(maps: list[MappingNode]) -> bool:
    """Whether every key of these mappings is plain text, unique in its mapping."""
    # each key with its mapping: a duplicate key repeats a pair
    keys = [(id(m), k.value) for m in maps for k, _v in m.value]
    try:
        return len(set(keys)) == len(keys)
    except TypeError:  # a list or a mapping as a key: its value is a list
        return False


def _height(nodes: list[Node], limit: int) -> int | None:
    """How many levels of collections the trees of ``nodes`` have (0 for scalars only), when
    every mapping key in them is plain text, unique in its mapping, and there are at most
    ``limit`` levels; None otherwise. One pass per level, in comprehensions."""
    level = [n for n in nodes if type(n) is not ScalarNode]
    height = 0
    while level:
        height += 1
        if height > limit:
            return None
        maps = [n for n in level if type(n) is MappingNode]
        if not _keys_clean(maps):
            return None
        below = [v for m in maps for _k, v in m.value if type(v) is not ScalarNode]
        if len(maps) != len(level):
            seqs = [n for n in level if type(n) is not MappingNode]
            below += [v for n in seqs for v in n.value if type(v) is not ScalarNode]
        level = below
    return height


#: The height (:func:`_height`) of each large value found clean, by :func:`text_key`.
_clean_values: dict[tuple[int, str], int] = {}
_CLEAN_LIMIT = 512
#: Values spanning at least this many characters are remembered.
_CLEAN_SPAN = 256


def _plainly_clean(root: Node, text: str) -> bool:
    """Whether a document without tags written in it (no '!' in its text), anchors or odd
    plain scalars surely has none of the problems :func:`_check_tree` finds: every mapping
    key plain text and unique, collections nested at most MAX_DEPTH levels deep. False means
    "perhaps": the full check then finds the problems and their places.

    A large top-level value whose text was found clean before is not walked again (its
    nodes are the same, see :func:`text_key`): bench_scale.py's files, which repeat their
    policies, are checked in half the instructions of :func:`_check_tree`.
    """
    if type(root) is ScalarNode:
        return True
    top: list[Node] = []
    if type(root) is MappingNode:
        if not _keys_clean([root]):
            return False
        values = [v for _k, v in root.value]
    else:
        values = list(root.value)
    for value in values:
        if type(value) is ScalarNode:
            continue
        if value.end_mark.index - value.start_mark.index < _CLEAN_SPAN:
            top.append(value)
            continue
        key = text_key(text, value)
        height = _clean_values.get(key) if key is not None else None
        if height is None:
            height = _height([value], MAX_DEPTH - 1)
            if height is None:
                return False
            if key is not None:
                if len(_clean_values) >= _CLEAN_LIMIT:
                    _clean_values.pop(next(iter(_clean_values)))
                _clean_values[key] = height
    return _height(top, MAX_DEPTH - 1) is not None


@dataclass(frozen=True, slots=True)
class Composed:
    """A composed document and the ``problems`` its checks found: ``root`` is None when the
    text is empty or is not YAML."""

    root: Node | None
    problems: tuple[TextProblem, ...]


def compose_text(text: str, *, custom_tags: bool = False) -> Composed:
    """The checked node tree of ``text``, or its problems; never raises.

    With ``custom_tags`` a local tag (``!Ref``, ``!Sub``, ``!GetAtt`` ... of a CloudFormation
    template) is kept on its node (``node.tag``) instead of being refused; it is still never
    interpreted. Every other check applies either way.
    """
    try:
        root, odd_tag = _compose(text)
    except yaml.YAMLError as exc:
        return Composed(None, (_yaml_error(exc, text),))
    except RecursionError:
        return Composed(
            None, (TextProblem(1, 1, f"values are nested more than {MAX_DEPTH} levels deep"),)
        )
    if root is None:
        return Composed(None, ())
    if "&" in text:
        return Composed(root, tuple(_check_graph(root, _Tags(custom_tags))))
    # no anchor, so no alias: the document is a tree (the common case, checked faster); with
    # no tag written and none odd resolved, every tag is allowed and only keys and depth remain
    if "!" not in text and not odd_tag and _plainly_clean(root, text):
        return Composed(root, ())
    return Composed(root, tuple(_check_tree(root, _Tags(custom_tags))))


def compose_quietly(text: str) -> Node | None:
    """The node tree of ``text`` without any check, or None when it is not YAML; never
    raises. For guessing what a file is (no tag is ever interpreted)."""
    try:
        return _compose(text)[0]
    except (yaml.YAMLError, RecursionError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Files

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
        parsed = Parsed(key, text, composed.root, composed.problems)
    if key is not None:
        if len(_parse_cache) >= _CACHE_LIMIT:
            _parse_cache.pop(next(iter(_parse_cache)))
        _parse_cache[(key, custom_tags)] = parsed
    return parsed
