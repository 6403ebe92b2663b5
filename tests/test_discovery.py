"""Which files are spec files (runner/spec/discovery.py): a file written as one JSON object
is read as JSON when YAML would read the same keys, and composed as YAML otherwise; either way
the answer is the one composing it gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.spec import discovery, yamlsafe


def _composed(text: str) -> list[str]:
    """The rule before JSON was read as JSON: a file starting with '{' is composed."""
    lead = discovery._LEADING.match(text)
    start = lead.end() if lead else 0
    return discovery._composed_keys(text) if text[start:].startswith("{") else []


SPEC = {
    "principals": {"ci": "arn:aws:iam::111122223333:role/ci"},
    "cases": [{"principal": "ci", "action": "ecr:GetAuthorizationToken", "expect": "allow"}],
}

# JSON texts that JSON and YAML read differently, or only one of them reads
AWKWARD = {
    "tab before the object": '\t{"cases": []}',
    "tab indentation": '{\n\t"cases": []\n}',
    "escaped slash and quotes": '{"ca\\/ses": [], "a\\"b\\\\c\\b\\f\\n\\r\\t": 1}',
    "escaped letters": '{"\\u0063ases": 1}',
    "escaped surrogate pair": '{"\\ud83d\\ude00": 1, "cases": []}',
    "escaped lone low surrogate": '{"b\\"ud83d\\ude00": 1, "cases": []}',
    "DEL in a key": '{"a\x7f": 1, "cases": []}',
    "C1 control in a key": '{"a\x85": 1, "cases": []}',
    "line separator in a key": '{"a\u2028": 1, "cases": []}',
    "non-ASCII key": '{"cäses": 1}',
    "line break before the colon": '{"cases"\n: 1}',
    "blanks and a line break before the colon": '{"cases" \n : []}',
    "key of 1030 characters": '{"' + "k" * 1030 + '": 1, "cases": []}',
    "key of 101 characters": '{"' + "k" * 101 + '": 1, "cases": []}',
    "800 blanks before the colon": '{"cases"' + " " * 800 + ": []}",
    "nested 3000 deep": '{"cases": ' + "[" * 3000 + "]" * 3000 + "}",
    "duplicate keys": '{"cases": 1, "cases": 2, "principals": {}}',
    "duplicate nested keys": '{"a": {"b": 1, "b": 2}}',
    "byte order mark": '\ufeff{"cases": []}',
    "not JSON: a YAML escape": '{"a\\x41": 1}',
    "not JSON: trailing comma": '{"cases": [],}',
    "not JSON: comment": '# spec\n{"cases": []}',
    "not JSON: YAML flow mapping": "{principals: {}, cases: []}",
    "not JSON: truncated": '{"cases": [',
    "not JSON: two documents": '{"cases": []}\n---\n{"a": 1}',
    "CR line ends": '{\r "cases": []\r}',
    "NaN and big numbers": '{"cases": NaN, "b": 123456789012345678901234567890, "c": -1.5e+10}',
    "empty key": '{"": 1}',
    "empty object": "{}",
    "colons and hashes in strings": '{"a:b #c": "d: e #f", "cases": []}',
}


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_the_keys_are_the_ones_composing_gives(name: str) -> None:
    text = AWKWARD[name]
    assert discovery._flow_mapping_keys(text) == _composed(text)


def test_plain_json_is_not_composed(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps(SPEC, indent=2)

    def refuse(text: str) -> None:
        raise AssertionError("composed")

    monkeypatch.setattr(discovery, "compose_quietly", refuse)
    assert discovery._flow_mapping_keys(text) == ["principals", "cases"]


def test_awkward_json_is_composed(monkeypatch: pytest.MonkeyPatch) -> None:
    composed: list[str] = []

    def compose(text: str) -> yamlsafe.Node | None:
        composed.append(text)
        return yamlsafe.compose_quietly(text)

    monkeypatch.setattr(discovery, "compose_quietly", compose)
    text = '{"cases": [], "note": "caf\u00e9"}'
    assert discovery._flow_mapping_keys(text) == ["cases", "note"]
    assert composed == [text]


@pytest.mark.parametrize(
    ("name", "text", "collected"),
    [
        ("spec.yaml", json.dumps(SPEC, indent=1), True),
        ("minified.yaml", json.dumps(SPEC, separators=(",", ":")), True),
        ("flow.yaml", "{principals: {ci: 'arn:aws:iam::111122223333:role/ci'}, cases: []}", True),
        ("broken.yaml", json.dumps(SPEC)[:-3], False),
        ("duplicate.yaml", '{"principals": {}, "cases": [], "cases": []}', True),
        ("misspelt.yaml", '{"principals": {}, "case": []}', True),
        ("package.yaml", '{"name": "x", "version": "1.0.0", "dependencies": {}}', False),
        ("tabs.yaml", '{\n\t"principals": {},\n\t"cases": []\n}', True),
        ("escaped.yaml", '{"principals": {}, "\\u0063ases": []}', True),
        ("surrogates.yaml", '{"principals": {}, "cases": [], "\\ud83d\\ude00": 1}', False),
    ],
)
def test_collection_of_json_files(tmp_path: Path, name: str, text: str, collected: bool) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert discovery.looks_like_spec(path) is collected
    assert bool(discovery._flow_mapping_keys(text)) == bool(_composed(text))


_KEYS = st.lists(
    st.sampled_from(
        [
            *("a", "cases", "principals", '"', "\\", " ", ":", "#", "{", "[", ",", "-", "?", "&"),
            *("!", "'", "\t", "\n", "\x00", "\x1f", "\x7f", "\x85", "\u2028", "é", "\ud83d"),
            *("😀", "k" * 120, " " * 150),
        ]
    ),
    max_size=4,
).map("".join)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _KEYS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=8,
)
_INSERTS = st.sampled_from(
    [
        *("\n", "\t", " ", "\r\n", "\\u00e9", "\\/", "\\ud800", "\\ude00", '"', ",", "\n:"),
        *(" " * 300, "\u00a0", "#x\n", "\ufeff"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    keys=st.lists(st.tuples(_KEYS, _VALUES), max_size=4),
    indent=st.sampled_from([None, 0, 1, 2, "\t", " \t"]),
    separators=st.sampled_from([(",", ":"), (", ", ": "), (",", " : "), (" ,", ":  ")]),
    ascii_only=st.booleans(),
    inserts=st.lists(st.tuples(st.floats(0, 1), _INSERTS), max_size=2),
)
def test_json_and_yaml_agree_on_generated_objects(
    keys: list[tuple[str, object]],
    indent: int | str | None,
    separators: tuple[str, str],
    ascii_only: bool,
    inserts: list[tuple[float, str]],
) -> None:
    items = [
        json.dumps(k, ensure_ascii=ascii_only)
        + separators[1]
        + json.dumps(v, indent=indent, separators=separators, ensure_ascii=ascii_only)
        for k, v in keys
    ]
    text = "{" + ",".join(items) + "}"
    for where, insert in inserts:
        at = int(where * len(text))
        text = text[:at] + insert + text[at:]
    assert discovery._flow_mapping_keys(text) == _composed(text)


@pytest.mark.parametrize("reported", [0, 10, None])
def test_sniff_reads_a_grown_file_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reported: int | None
) -> None:
    """The sniff reads with a buffer of the size the file had when opened, and on to
    _SNIFF_BYTES when the file is longer by then: the keys are those of the first
    _SNIFF_BYTES bytes either way (a size reported smaller than the file stands for a file
    that grew; None reports the true size)."""
    monkeypatch.setattr(discovery, "_SNIFF_BYTES", 64)
    cases_late = tmp_path / "late.yaml"  # 'cases' starts past the 64 bytes sniffed
    cases_late.write_text("notes: " + "x" * 60 + "\ncases: []\n")
    cases_early = tmp_path / "early.yaml"
    cases_early.write_text("notes: x\ncases: []\n" + "# padding\n" * 20)
    real_fstat = discovery.os.fstat

    class _Stat:
        def __init__(self, size: int) -> None:
            self.st_size = size

    def fstat(fd: int) -> object:
        return real_fstat(fd) if reported is None else _Stat(reported)

    monkeypatch.setattr(discovery.os, "fstat", fstat)
    assert discovery.looks_like_spec(cases_early)
    assert not discovery.looks_like_spec(cases_late)
