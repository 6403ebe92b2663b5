"""The checks of a composed YAML document, before anyone reads it: only the standard tags (or,
for :func:`compose_text` with ``custom_tags=True``, local tags such as CloudFormation's
``!Ref`` kept on the nodes), no duplicate or non-text keys, no merge keys, bounded nesting, and
no anchors and aliases that expand the document beyond :data:`MAX_ALIAS_EXPANSION` nodes.

Three checks find the same problems: :func:`_check_graph` for a document with anchors (an
alias is the same node object twice), :func:`_check_tree` for one without, and
:func:`_plainly_clean`, which answers "surely clean" for the common document (no tag written,
no anchor) in comprehensions, and leaves the rest to :func:`_check_tree`.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.spec.yamlsafe import (
    ALLOWED_TAGS,
    MAX_DEPTH,
    MERGE,
    TAG_PREFIX,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    TextProblem,
    compose_raw,
    describe,
    excerpt,
    text_key,
    where,
)

__all__ = ["MAX_ALIAS_EXPANSION", "Composed", "compose_text"]

#: Anchors and aliases may add at most this many nodes to a document ("billion laughs").
MAX_ALIAS_EXPANSION = 100_000


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(TAG_PREFIX) :] if tag.startswith(TAG_PREFIX) else tag


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
        elif knode.tag == MERGE:
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
        if not tags.allowed(node.tag) and node.tag != MERGE:
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
                        if not ok(k.tag) and k.tag != MERGE:
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
    raw = compose_raw(text)
    if isinstance(raw, TextProblem):
        return Composed(None, (raw,))
    root, odd_tag = raw
    if root is None:
        return Composed(None, ())
    if "&" in text:
        return Composed(root, tuple(_check_graph(root, _Tags(custom_tags))))
    # no anchor, so no alias: the document is a tree (the common case, checked faster); with
    # no tag written and none odd resolved, every tag is allowed and only keys and depth remain
    if "!" not in text and not odd_tag and _plainly_clean(root, text):
        return Composed(root, ())
    return Composed(root, tuple(_check_tree(root, _Tags(custom_tags))))
