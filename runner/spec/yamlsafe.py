"""Safe YAML: the only module that imports ``yaml``.

Text is *composed*, never constructed: the result is a node tree whose nodes keep their line
and column (``start_mark``), so every later mistake can be reported as ``file:line:col``. This
module holds the loader (the safe loader with a memo of its implicit resolvers), the tag
names, the node classes (re-exported here so that no other module imports ``yaml``), parser
errors in plain words, and the small readers of nodes every step shares (:func:`where`,
:func:`describe`, :func:`plain` ...). The checks of a composed document are in
:mod:`runner.spec.yamlcheck` (:func:`~runner.spec.yamlcheck.compose_text`), reading and
decoding files in :mod:`runner.spec.yamlfiles` (:func:`~runner.spec.yamlfiles.parse_file`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "ALLOWED_TAGS",
    "BOOL",
    "FLOAT",
    "INT",
    "MAP",
    "MAX_DEPTH",
    "MERGE",
    "NULL",
    "SEQ",
    "STR",
    "TAG_PREFIX",
    "TEXT_TAGS",
    "Located",
    "MappingNode",
    "Node",
    "ScalarNode",
    "SequenceNode",
    "TextProblem",
    "bool_text",
    "compose_quietly",
    "compose_raw",
    "cut",
    "describe",
    "excerpt",
    "plain",
    "text_key",
    "where",
]

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Deepest nesting accepted in a YAML or JSON file.
MAX_DEPTH = 64

#: The prefix of the standard tags (``!!str`` is ``tag:yaml.org,2002:str``).
TAG_PREFIX = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, TIMESTAMP = (
    TAG_PREFIX + "str",
    TAG_PREFIX + "int",
    TAG_PREFIX + "float",
    TAG_PREFIX + "bool",
    TAG_PREFIX + "null",
    TAG_PREFIX + "timestamp",
)
SEQ, MAP, MERGE = TAG_PREFIX + "seq", TAG_PREFIX + "map", TAG_PREFIX + "merge"
#: The tags a spec or policy file may use: plain scalars, lists and mappings.
ALLOWED_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL, TIMESTAMP, SEQ, MAP})
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
# Composing


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
        return SEQ if kind is SequenceNode else MAP

    # With no path resolver these two do nothing. The composer calls each once per node, and
    # a C function that ignores its arguments costs less than a Python method (4% of
    # composing bench_scale.py's files): an empty dict's get(node, index)
    # returns index, tuple() returns ().
    descend_resolver = dict[object, object]().get
    ascend_resolver = tuple


#: PyYAML's C composer builds a node tree by recursion in C: a document nested some 25,000
#: levels deep (60 KB of ``[``) ran it out of stack and crashed the interpreter (SIGSEGV, no
#: message, the whole run lost). Text that may nest deeper than this is first measured by
#: its parse events, which the C parser produces without recursion.
_SAFE_NESTING = 2_000
_LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")


def _may_nest_deeply(text: str) -> bool:
    """Whether ``text`` could nest more than :data:`_SAFE_NESTING` levels: every level opens
    with ``[`` or ``{``, with a ``-`` or ``?`` entry (which may also open a mapping on its
    line), or on a new line (a block mapping's value), so their count bounds the depth."""
    if 2 * len(text) < _SAFE_NESTING:
        return False
    bound = text.count("[") + text.count("{") + 2 * (text.count("-") + text.count("?"))
    return bound + sum(map(text.count, _LINE_BREAKS)) >= _SAFE_NESTING


def _too_deep(text: str) -> TextProblem | None:
    """The first value of ``text`` nested more than :data:`MAX_DEPTH` levels deep (the root
    is level 1), found from the parse events; None when there is none, or when the text is
    not YAML before such a value (composing then reports the parser's error, where the
    recursion is still shallow)."""
    try:
        return _first_too_deep(_Loader(text))
    except yaml.YAMLError as exc:
        return _beyond_libyaml(exc, text)


#: libyaml 0.2.5 (in PyYAML's wheels) refuses more than 1,000 levels itself, with this
#: problem, and its scanner reads a run of '[' ahead of the events
_LIBYAML_NESTING = "exceeded maximum nesting depth"


def _beyond_libyaml(exc: yaml.YAMLError, text: str) -> TextProblem | None:
    """For libyaml's own refusal of deep nesting, the first value deeper than
    :data:`MAX_DEPTH`, as a libyaml without that limit lets the checks find it, found by the
    pure-Python parser (which does not recurse either; in this rare text only); else None."""
    if getattr(exc, "problem", None) != _LIBYAML_NESTING:
        return None
    try:
        return _first_too_deep(yaml.SafeLoader(text))
    except yaml.YAMLError:
        return None


def _first_too_deep(loader: Any) -> TextProblem | None:
    depth = 0
    try:
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.StreamEndEvent:
                return None
            if kind in (yaml.SequenceEndEvent, yaml.MappingEndEvent):
                depth -= 1
                continue
            if kind in (yaml.ScalarEvent, yaml.AliasEvent) and depth + 1 > MAX_DEPTH:
                break
            if kind in (yaml.SequenceStartEvent, yaml.MappingStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    break
    finally:
        loader.dispose()
    mark = event.start_mark
    return TextProblem(
        mark.line + 1, mark.column + 1, f"values are nested more than {MAX_DEPTH} levels deep"
    )


class _TooDeep(Exception):
    """Raised by :func:`_compose` instead of composing a document that nests too deeply."""

    def __init__(self, problem: TextProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _compose(text: str) -> tuple[Node | None, bool]:
    """The node tree of ``text`` (None when empty) and whether a plain scalar in it resolved
    to a tag outside :data:`ALLOWED_TAGS`. Raises what PyYAML raises, and :class:`_TooDeep`
    for a document nested too deeply to compose safely."""
    if _may_nest_deeply(text):
        deep = _too_deep(text)
        if deep is not None:
            raise _TooDeep(deep)
    loader = _Loader(text)
    try:
        return loader.get_single_node(), loader.odd_tag
    finally:
        loader.dispose()


def compose_raw(text: str) -> tuple[Node | None, bool] | TextProblem:
    """The node tree of ``text`` (None when empty), unchecked, and whether a plain scalar in it
    resolved to a tag outside :data:`ALLOWED_TAGS`; or the problem, located, when ``text`` is
    not YAML or nests too deeply for the parser. Anything else PyYAML raises propagates."""
    try:
        return _compose(text)
    except yaml.YAMLError as exc:
        return _beyond_libyaml(exc, text) or _yaml_error(exc, text)
    except _TooDeep as exc:
        return exc.problem
    except RecursionError:
        return TextProblem(1, 1, f"values are nested more than {MAX_DEPTH} levels deep")


def compose_quietly(text: str) -> Node | None:
    """The node tree of ``text`` without any check, or None when it is not YAML; never
    raises. For guessing what a file is (no tag is ever interpreted)."""
    try:
        return _compose(text)[0]
    except (yaml.YAMLError, RecursionError, ValueError, _TooDeep):
        return None
