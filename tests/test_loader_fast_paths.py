"""The loader's fast paths give what the slow paths give: the same nodes and tags, the same
problems at the same places, the same compiled policies placed where each copy is written."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import model
from runner import spec as loader
from runner.errors import SpecError
from runner.spec import yamlcheck, yamlsafe
from runner.spec.yamlsafe import MappingNode, Node, ScalarNode, SequenceNode

# ---------------------------------------------------------------------------------------------
# Composing: the memoised resolver gives PyYAML's nodes


def _shape(node: Node | None) -> object:
    """A node tree as comparable values: class, tag, value, style, start and end."""
    if node is None:
        return None
    where = (node.start_mark.index, node.start_mark.line, node.start_mark.column)
    end = (node.end_mark.index, node.end_mark.line, node.end_mark.column)
    if isinstance(node, ScalarNode):
        return ("scalar", node.tag, node.value, node.style, where, end)
    if isinstance(node, MappingNode):
        pairs = [(_shape(k), _shape(v)) for k, v in node.value]
        return ("map", node.tag, node.flow_style, pairs, where, end)
    assert isinstance(node, SequenceNode)
    return ("seq", node.tag, node.flow_style, [_shape(v) for v in node.value], where, end)


#: Plain scalars of every implicit type PyYAML resolves, and near misses.
PLAIN = [
    "yes", "No", "TRUE", "off", "y", "n", "~", "null", "Null", "NULL", "", "0", "012",
    "0o17", "0x1F", "0b101", "1_000", "190:20:30", "-1", "+7", "1.5", "1e3", "1.5e-3",
    ".inf", "-.Inf", ".nan", "6.8523015e+5", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5", "=", "<<", "ecr:*", "arn:aws:iam::111122223333:root",
    "10.0.0.1/24", "a b", "0.", "._", "1:2", "-", "1-2", "truely", "nulls",
]  # fmt: skip


def _scalar_text(text: str, style: str) -> str:
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    if style == "double":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text if text else "''"


scalars = st.builds(
    _scalar_text,
    st.one_of(st.sampled_from(PLAIN), st.text("abcxyz019.:-_ ", min_size=1, max_size=6)),
    st.sampled_from(["plain", "plain", "single", "double"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(scalars, min_size=1, max_size=4), min_size=1, max_size=6))
def test_nodes_and_tags_match_pyyaml(rows: list[list[str]]) -> None:
    text = "rows:\n" + "".join(f"  - [{', '.join(row)}]\n" for row in rows)
    text += "".join(f"k{i}: {row[-1]}\n" for i, row in enumerate(rows))
    try:
        expected = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        with pytest.raises(yaml.YAMLError):
            yamlsafe._compose(text)
        return
    for _ in range(2):  # the memo is filled by the first pass and read by the second
        assert _shape(yamlsafe._compose(text)[0]) == _shape(expected)


def test_an_odd_plain_scalar_is_noted() -> None:
    assert yamlsafe._compose("a: =\n")[1] is True
    assert yamlsafe._compose("a: '='\n")[1] is False
    assert yamlsafe._compose("{<<: {b: 1}}\n")[1] is True
    assert yamlsafe._compose("a: yes\n")[1] is False
    # remembered tags are only the allowed ones: the second '=' is noted again
    assert yamlsafe._compose("b: =\n")[1] is True


# ---------------------------------------------------------------------------------------------
# Checking: the quick check never hides a problem the full check finds

KEYS = ["a", "b", "c", "<<", "'<<'", "=", "1", "~", "yes", "[x]", "{y: 1}"]


def _render(value: object, indent: int, flow: bool) -> str:
    """``value`` (a nested list/tuple structure) as YAML: lists are sequences, tuples of
    pairs mappings (keys as written, so duplicates stay), strings scalars as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if flow or not value:
            return "[" + ", ".join(_render(v, indent, True) for v in value) + "]"
        pad = " " * indent
        return "".join(f"\n{pad}- {_render(v, indent + 2, flow)}" for v in value)
    assert isinstance(value, tuple)
    if flow or not value:
        return "{" + ", ".join(f"{k}: {_render(v, indent, True)}" for k, v in value) + "}"
    pad = " " * indent
    out = ""
    for k, v in value:
        key = f"? {k}\n{pad}" if k.startswith(("[", "{")) else k
        out += f"\n{pad}{key}: {_render(v, indent + 2, flow)}"
    return out


values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=3).map(tuple),
    ),
    max_leaves=12,
)


def _full_check(text: str) -> tuple[yamlsafe.TextProblem, ...]:
    root = yamlsafe._compose(text)[0]
    assert root is not None
    return tuple(yamlcheck._check_tree(root, yamlcheck._Tags(False)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=4), st.booleans())
def test_quick_check_agrees_with_the_full_check(top: list[tuple[str, object]], flow: bool) -> None:
    text = _render(tuple(top), 0, flow).lstrip("\n") + "\n"
    try:
        yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return
    for _ in range(2):  # the second time, large values found clean are remembered
        assert yamlcheck.compose_text(text).problems == _full_check(text)


def test_a_remembered_section_does_not_hide_a_problem_elsewhere() -> None:
    section = "policies:\n" + "".join(f"  p{i}: {{a: {i}, b: [x, y]}}\n" for i in range(20))
    assert yamlcheck.compose_text(section + "cases: [1]\n").problems == ()
    problems = yamlcheck.compose_text(section + "cases: {a: 1, a: 2}\n").problems
    assert [p.message for p in problems] == ["duplicate key 'a' (first defined on line 22)"]
    assert (problems[0].line, problems[0].col) == (22, 15)
    # the same section text after a different first line: same text, same verdict
    problems = yamlcheck.compose_text("x: 1\nx: 2\n" + section).problems
    assert [(p.line, p.message) for p in problems] == [
        (2, "duplicate key 'x' (first defined on line 1)")
    ]


def _nested(depth: int) -> str:
    """A document whose deepest collection is at ``depth`` (the root at depth 1), in block
    style, with a large top-level value (remembered once found clean)."""
    text = "big:\n"
    for level in range(1, depth - 1):
        text += "  " * level + f"k{level}:\n"
    return text + "  " * (depth - 1) + "leaf: " + "v" * 300 + "\n"


def test_depth_limit_with_and_without_the_memo() -> None:
    for _ in range(2):
        assert yamlcheck.compose_text(_nested(64)).problems == ()
        problems = yamlcheck.compose_text(_nested(65)).problems
        assert [(p.line, p.col, p.message) for p in problems] == [
            (65, 129, "values are nested more than 64 levels deep")
        ]


def test_problems_found_by_the_full_check_in_a_tag_free_spec(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(
        textwrap.dedent(
            """\
            policies:
              p: {document: {Statement: {Effect: Allow, Effect: Deny}}}
            principals:
              ci: {<<: {arn: "arn:aws:iam::111122223333:role/ci"}}
              x: =
              ? [a]
              : b
            cases: [{principal: ci, allow: ecr:GetAuthorizationToken}]
            """
        )
    )
    with pytest.raises(SpecError) as info:
        loader.load_spec(tmp_path / "spec.yaml", display_root=tmp_path)
    assert [str(p) for p in info.value.problems] == [
        "spec.yaml:2:45: duplicate key 'Effect' (first defined on line 2)",
        "spec.yaml:4:8: merge keys ('<<') are not supported; write the keys out (an alias may "
        "still stand for a whole value)",
        "spec.yaml:5:6: the YAML tag '!!value' is not supported; only plain strings, numbers, "
        "booleans, lists and mappings are read (tags are never executed)",
        "spec.yaml:6:5: a mapping key must be plain text, not a list",
    ]


# ---------------------------------------------------------------------------------------------
# text_key: the span of a value, or None where the span may not say it all


def _value(text: str, *path: str) -> Node:
    node = yamlsafe._compose(text)[0]
    for part in path:
        assert isinstance(node, MappingNode)
        node = next(v for k, v in node.value if k.value == part)
    assert node is not None
    return node


def test_text_key_is_the_written_text_and_column() -> None:
    text = 'a:\r\n  b: {x: "ü😀", y: [1, 2]}\r\n  c: 2\r\nd: 1\r\n'
    assert yamlsafe.text_key(text, _value(text, "a", "b")) == (5, '{x: "ü😀", y: [1, 2]}')
    block = 'b: {x: "ü😀", y: [1, 2]}\r\n  c: 2\r\n'  # up to the next key, as written
    assert yamlsafe.text_key(text, _value(text, "a")) == (2, block)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {b: 1}\nc: {d: 2}\n",  # an anchor anywhere: an alias may stand for it
        "a: 1\nc: {d: !!str 2}\n",  # a tag in the span
        "\ufeffa: 1\nc: {d: 2}\n",  # a byte order mark the parser does not count
    ],
)
def test_text_key_refuses_what_the_span_may_not_say(text: str) -> None:
    assert yamlsafe.text_key(text, _value(text, "c")) is None


# ---------------------------------------------------------------------------------------------
# Compiled policies found again by their text, placed where each copy is written

DOC_FLOW = (
    '{"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "ecr:*", '
    '"Resource": "*"}, {"Sid": "D", "Effect": "Deny", "Action": "ecr:DeleteRegistryPolicy", '
    '"Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}'
)
DOC_BLOCK = """\
    Version: "2012-10-17"
    Statement:
      - Sid: A
        Effect: Allow
        Action: "ecr:*"
        Resource: "*"
      - Sid: D
        Effect: Deny
        Action: ecr:DeleteRegistryPolicy
        Resource: "*"
        Condition: {Bool: {aws:SecureTransport: "false"}}
"""


def _spec(doc: str, blank_lines: int, block: bool) -> str:
    policy = "\n" + textwrap.indent(textwrap.dedent(doc), " " * 6) if block else " " + doc
    return (
        "\n" * blank_lines
        + "policies:\n  id:\n    document:"
        + policy.rstrip("\n")
        + "\nprincipals:\n  ci: {arn: 'arn:aws:iam::111122223333:role/ci', policies: [id]}\n"
        + "cases:\n  - {principal: ci, allow: ecr:GetAuthorizationToken, deny: "
        + "ecr:DeleteRegistryPolicy, context: {aws:SecureTransport: false}}\n"
    )


def _placement(spec: model.Spec) -> tuple[object, ...]:
    (info,) = spec.policies
    pol = info.policy
    return (
        pol.name,
        pol.file,
        pol.line,
        info.loc,
        [(s.sid, s.line) for s in pol.statements],
        {a: [s.sid for s in found] for a, found in pol.by_action.items()},
    )


@pytest.mark.parametrize("block", [False, True])
def test_each_copy_of_a_document_is_placed_where_it_is_written(tmp_path: Path, block: bool) -> None:
    doc = DOC_BLOCK if block else DOC_FLOW
    specs = []
    for i, blank in enumerate([0, 3, 0]):
        path = tmp_path / f"s{i}.yaml"
        path.write_text(_spec(doc, blank, block))
        specs.append(loader.load_spec(path, display_root=tmp_path))
    first, moved, again = (_placement(s) for s in specs)
    line = 4 if block else 3
    stmt_lines = [6, 10] if block else [3, 3]
    start = model.SourceLoc("s0.yaml", line, 7 if block else 15)
    assert first[:4] == ("id", "s0.yaml", line, start)
    assert first[4] == list(zip(["A", "D"], stmt_lines, strict=True))
    assert moved[:3] == ("id", "s1.yaml", line + 3)
    assert moved[4] == [("A", stmt_lines[0] + 3), ("D", stmt_lines[1] + 3)]
    assert again[1:3] == ("s2.yaml", line)
    assert first[5] == moved[5] == again[5]
    assert first[5]["ecr:DeleteRegistryPolicy"] == ["A", "D"]
    # the compiled matchers are shared, the places are each file's own
    pols = [s.policies[0].policy for s in specs]
    assert pols[0].statements[1].conditions is pols[1].statements[1].conditions
    for spec in specs:
        assert [c.expected for c in spec.checks] == ["allow", "deny"]


def test_a_document_with_an_anchor_is_found_by_its_content(tmp_path: Path) -> None:
    anchored = _spec(DOC_FLOW, 0, False).replace("document: {", "document: &d {")
    (tmp_path / "a.yaml").write_text(anchored)
    (tmp_path / "b.yaml").write_text(_spec(DOC_FLOW, 1, False))
    a = loader.load_spec(tmp_path / "a.yaml", display_root=tmp_path)
    b = loader.load_spec(tmp_path / "b.yaml", display_root=tmp_path)
    assert _placement(a)[1:3] == ("a.yaml", 3)
    assert _placement(b)[1:3] == ("b.yaml", 4)
    assert _placement(a)[5] == _placement(b)[5]


def test_an_invalid_copy_is_reported_in_each_file(tmp_path: Path) -> None:
    bad = DOC_FLOW.replace('"Effect": "Deny"', '"Effect": "Denied"')
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(_spec(bad, 0, False))
        with pytest.raises(SpecError) as info:
            loader.load_spec(tmp_path / name, display_root=tmp_path)
        assert [str(p).split(": Statement")[0] for p in info.value.problems] == [f"{name}:3:137"]


# ---------------------------------------------------------------------------------------------
# The type of a principal ARN, without building the principal


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::111122223333:user/a/b",
        "arn:aws:iam::111122223333:role/ci",
        "arn:aws:iam::111122223333:role/x",  # a one-letter role: its session name is given
        "arn:aws:iam::111122223333:root",
        "arn:aws:sts::111122223333:assumed-role/ci/build",
        "arn:aws:sts::111122223333:federated-user/bob",
        "arn:aws:iam::111122223333:group/g",
        "arn:aws:iam::11112222333:root",
        "not an arn",
    ],
)
def test_principal_type_is_the_type_principal_from_arn_builds(arn: str) -> None:
    try:
        expected = model.principal_from_arn("probe-name", arn).type
    except model.ModelError as exc:
        with pytest.raises(model.ModelError) as info:
            model.principal_type(arn)
        assert str(info.value) == str(exc)
        return
    assert model.principal_type(arn) is expected


def test_check_fields_in_the_order_cases_builds_them() -> None:
    """runner.spec.cases builds each Check positionally (a fifth fewer instructions than by
    keyword): a field added or moved must be added or moved there too."""
    assert [f.name for f in dataclasses.fields(model.Check)] == [
        "file",
        "loc",
        "case",
        "case_index",
        "test_id",
        "principal",
        "resource",
        "action",
        "steps",
        "expected",
        "context",
        "organization",
        "error",
        "exception",
        "universal",
    ]


def test_check_init_sets_every_field_from_its_parameter() -> None:
    """Check's own __init__ (slots set through their descriptors) does what a frozen
    dataclass's would: each field from the parameter of its name, positionally or by keyword,
    the same defaults, and the check stays frozen."""
    names = [f.name for f in dataclasses.fields(model.Check)]
    values = [object() for _ in names]
    for check in (model.Check(*values), model.Check(**dict(zip(names, values, strict=True)))):
        assert [getattr(check, n) for n in names] == values
    short = model.Check(*values[:12])
    assert (short.error, short.exception, short.universal) == (None, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        short.error = "x"  # type: ignore[misc]
    assert dataclasses.replace(short, error="e") == model.Check(*values[:12], error="e")


def test_request_init_sets_every_field_from_its_parameter() -> None:
    """Request's own __init__ (as Check's): each field from the parameter of its name, the
    same defaults (a new empty context for each request), and the request stays frozen."""
    names = [f.name for f in dataclasses.fields(model.Request)]
    assert names == ["principal", "action", "resource", "context", "organization"]
    values = [object() for _ in names]
    for request in (
        model.Request(*values),
        model.Request(**dict(zip(names, values, strict=True))),
    ):
        assert [getattr(request, n) for n in names] == values
    first = model.Request(values[0], "ecr:BatchGetImage")
    second = model.Request(values[0], "ecr:BatchGetImage")
    assert (first.resource, first.context, first.organization) == (None, {}, None)
    assert type(first.context) is dict and first.context is not second.context
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.action = "x"  # type: ignore[misc]
    assert dataclasses.replace(first, action="ecr:PutImage") == model.Request(
        values[0],
        "ecr:PutImage",
    )
