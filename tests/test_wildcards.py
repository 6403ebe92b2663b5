"""Wildcard matching (runner/wildcards.py): the same answers as a backtracking regex written
from the rules, in every mode, and linear time on patterns that make that regex hang."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.wildcards import Mode, compile_pattern


def _reference(pattern: str, mode: Mode, ignore_case: bool = False) -> re.Pattern[str] | None:
    """The rules as a backtracking regex (fine for short texts). None: matches nothing.

    Plain text: ``*`` any run, ``?`` any character. ARN (condition operators): six components
    cut at the pattern's first five colons; in the first five, wildcards do not match ``:``;
    the sixth is the rest. Resource: as ARN, but a ``*`` that ends one of the first five
    segments may match ``:`` too ("IAM JSON policy elements: Resource")."""

    def piece(text: str, star: str, one: str) -> str:
        return "".join(star if c == "*" else one if c == "?" else re.escape(c) for c in text)

    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    if mode is Mode.TEXT:
        return re.compile(piece(pattern, ".*", "."), flags)
    components = pattern.split(":", 5)
    if len(components) < 6 and mode is Mode.ARN:
        return None
    out = []
    for index, component in enumerate(components):
        if index == 5:
            out.append(piece(component, ".*", "."))
        elif mode is Mode.RESOURCE and component.endswith("*"):
            out.append(piece(component[:-1], "[^:]*", "[^:]") + ".*")
        else:
            out.append(piece(component, "[^:]*", "[^:]"))
    return re.compile(":".join(out), flags)


def _agrees(pattern: str, texts: list[str], mode: Mode, ignore_case: bool = False) -> None:
    matcher = compile_pattern(pattern, mode, ignore_case=ignore_case)
    reference = _reference(pattern, mode, ignore_case)
    for text in texts:
        expected = reference is not None and reference.fullmatch(text) is not None
        assert bool(matcher.fullmatch(text)) is expected, (pattern, text, mode)


_PATTERNS = st.text(alphabet="ab:*?", max_size=16)
_TEXTS = st.lists(st.text(alphabet="ab:", max_size=16), min_size=1, max_size=6)


@settings(max_examples=200)
@given(pattern=_PATTERNS, texts=_TEXTS, mode=st.sampled_from(list(Mode)))
def test_every_mode_matches_as_the_rules_say(pattern: str, texts: list[str], mode: Mode) -> None:
    _agrees(pattern, texts, mode)


@settings(max_examples=200)
@given(
    pattern=st.text(alphabet="aAbBsSkK\u0131\u0130\u017f\u212a*?", max_size=12),
    texts=st.lists(st.text(alphabet="aAbBsSkKiI", max_size=12), min_size=1, max_size=6),
)
def test_ignoring_case_matches_as_re_ignorecase_on_ascii_text(
    pattern: str, texts: list[str]
) -> None:
    _agrees(pattern, texts, Mode.TEXT, ignore_case=True)


@st.composite
def _pattern_and_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A pattern and texts built from its own pieces, so that matches are common."""
    pieces = draw(st.lists(st.text(alphabet="ab:", max_size=4), min_size=1, max_size=6))
    size = len(pieces)
    wild = draw(st.lists(st.sampled_from(["*", "?", "**", "*?", ""]), min_size=size, max_size=size))
    pattern = "".join(p + w for p, w in zip(pieces, wild, strict=True))
    count = draw(st.integers(1, 4))
    fillers = draw(
        st.lists(st.sampled_from(["", "a", "b", ":", "ab", "a:"]), min_size=size * count)
    )
    texts = ["".join(p + fillers[t * size + i] for i, p in enumerate(pieces)) for t in range(count)]
    return pattern, texts


@settings(max_examples=200)
@given(case=_pattern_and_texts(), mode=st.sampled_from(list(Mode)))
def test_patterns_that_match_often_agree_too(case: tuple[str, list[str]], mode: Mode) -> None:
    pattern, texts = case
    _agrees(pattern, texts, mode)


# -- hostile patterns: these never finish with a backtracking regex or a set of states ---------

MEGABYTE = 1_000_000


def test_five_thousand_stars_against_a_megabyte_answer() -> None:
    pattern = "*a" * 5_000 + "*"
    matcher = compile_pattern(pattern)
    assert matcher.fullmatch("a" * MEGABYTE)
    assert not matcher.fullmatch("a" * 4_999 + "b" * MEGABYTE)
    assert not compile_pattern(pattern + "b").fullmatch("a" * MEGABYTE)


def test_question_marks_between_stars_against_a_megabyte_answer() -> None:
    matcher = compile_pattern("*a?a" * 2_000 + "*b")
    assert not matcher.fullmatch("a" * MEGABYTE)
    assert matcher.fullmatch("aaa" * 2_000 + "b")


def test_arn_components_against_a_megabyte_answer() -> None:
    matcher = compile_pattern("arn:aws:iam::" + "*1" * 2_000 + ":role/" + "*a" * 2_000, Mode.ARN)
    assert not matcher.fullmatch("arn:aws:iam::" + "1" * MEGABYTE + ":role/" + "b" * 1_000)
    assert matcher.fullmatch("arn:aws:iam::" + "1" * 2_000 + ":role/" + "a" * MEGABYTE)


def test_resource_segments_with_inner_stars_answer() -> None:
    region = "*-" * 2_000 + "1"
    matcher = compile_pattern(f"arn:aws:ecr:{region}:*:repository/" + "*a" * 2_000, Mode.RESOURCE)
    arn = "arn:aws:ecr:" + "us-" * 2_000 + "1:111122223333:repository/" + "a" * 100_000
    assert matcher.fullmatch(arn)
    assert not matcher.fullmatch(arn + "b")
