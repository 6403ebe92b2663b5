"""Templates and wildcards: policy text with wildcards and policy variables
(runner/policy/variables.py, runner/wildcards.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.errors import Undecided
from runner.model import RequestContext
from runner.policy.variables import TemplateError, compile_template, token_regex, wildcard_regex

V12 = "2012-10-17"
V08 = "2008-10-17"


def ctx(**values: str | list[str]) -> RequestContext:
    """Context keys written with ``__`` for ``:`` and ``_`` kept, e.g. aws__username."""
    out: dict[str, list[str]] = {}
    for key, value in values.items():
        out[key.replace("__", ":")] = [value] if isinstance(value, str) else value
    return RequestContext(out)


# --- render ---------------------------------------------------------------------------------


def test_render_substitutes_variables() -> None:
    t = compile_template("home/${aws:username}/*", version=V12)
    assert t.has_variables is True
    assert t.text == "home/${aws:username}/*"
    assert t.render(ctx(aws__username="alice")) == "home/alice/*"


def test_render_without_variables_is_the_text() -> None:
    t = compile_template("arn:aws:ecr:*:111122223333:repository/app", version=V12)
    assert t.has_variables is False
    assert t.render(RequestContext()) == "arn:aws:ecr:*:111122223333:repository/app"


def test_render_variable_lookup_ignores_case() -> None:
    t = compile_template("${AWS:PrincipalTag/Team}", version=V12)
    assert t.render(RequestContext({"aws:principaltag/team": ["ops"]})) == "ops"


def test_render_missing_variable_without_default_is_none() -> None:
    t = compile_template("team/${aws:PrincipalTag/team}", version=V12)
    assert t.render(RequestContext()) is None


def test_render_default_when_missing_and_value_when_present() -> None:
    t = compile_template("team/${aws:PrincipalTag/team, 'shared'}", version=V12)
    assert t.render(RequestContext()) == "team/shared"
    assert t.render(RequestContext({"aws:PrincipalTag/team": ["ops"]})) == "team/ops"


def test_render_default_may_be_empty_and_blanks_are_allowed() -> None:
    t = compile_template("x${ aws:PrincipalTag/team ,'' }y", version=V12)
    assert t.render(RequestContext()) == "xy"


def test_render_a_key_with_several_values_or_none_has_no_value() -> None:
    t = compile_template("${aws:PrincipalTag/team}", version=V12)
    assert t.render(RequestContext({"aws:PrincipalTag/team": ["a", "b"]})) is None
    assert t.render(RequestContext({"aws:PrincipalTag/team": []})) is None
    assert t.render(RequestContext({"aws:PrincipalTag/team": ["a"]})) == "a"
    with_default = compile_template("${aws:PrincipalTag/team, 'none'}", version=V12)
    assert with_default.render(RequestContext({"aws:PrincipalTag/team": ["a", "b"]})) == "none"


@pytest.mark.parametrize(
    "key",
    ["aws:TagKeys", "AWS:tagkeys", "aws:CalledVia", "aws:PrincipalOrgPaths",
     "aws:ResourceOrgPaths", "aws:PrincipalServiceNamesList"],
)  # fmt: skip
def test_a_multivalued_key_is_no_policy_variable(key: str) -> None:
    text = f"x-${{{key}, 'none'}}"
    with pytest.raises(TemplateError) as info:
        compile_template(text, version=V12)
    assert str(info.value) == (
        f"policy variable '${{{key}, 'none'}}' in {text!r} names {key}, a multivalued condition "
        'key: AWS says "You can\'t use a multivalued condition key as a variable" (IAM policy '
        "elements: Variables and tags) and does not say what the text becomes; test the key "
        "with ForAnyValue or ForAllValues instead"
    )


def test_render_escapes() -> None:
    t = compile_template("a${*}b${?}c${$}d", version=V12)
    assert t.has_variables is False
    assert t.render(RequestContext()) == "a*b?c$d"


def test_lone_dollar_and_braces_are_plain_text() -> None:
    t = compile_template("cost $5 {x} }", version=V12)
    assert t.render(RequestContext()) == "cost $5 {x} }"


def test_version_2008_keeps_variables_as_text() -> None:
    t = compile_template("home/${aws:username}/${", version=V08)
    assert t.has_variables is False
    assert t.render(ctx(aws__username="alice")) == "home/${aws:username}/${"
    pattern = t.regex(ctx(aws__username="alice"))
    assert pattern is not None
    assert pattern.fullmatch("home/${aws:username}/${")
    assert not pattern.fullmatch("home/alice/${")


def test_any_version_but_2012_keeps_variables_as_text() -> None:
    assert compile_template("${aws:username}", version="").has_variables is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "home/${aws:username",
            "unclosed policy variable in 'home/${aws:username': '${' at position 5 has no "
            "closing '}'; write ${$} for a literal '$'",
        ),
        (
            "${}",
            "invalid policy variable '${}' in '${}': expected ${service:key} (such as "
            "${aws:username}), ${service:key, 'default'}, ${*}, ${?} or ${$}",
        ),
        (
            "${username}",
            "invalid policy variable '${username}' in '${username}': expected ${service:key} "
            "(such as ${aws:username}), ${service:key, 'default'}, ${*}, ${?} or ${$}",
        ),
        (
            '${aws:PrincipalTag/team, "x"}',
            "invalid policy variable '${aws:PrincipalTag/team, \"x\"}' in "
            "'${aws:PrincipalTag/team, \"x\"}': expected ${service:key} (such as "
            "${aws:username}), ${service:key, 'default'}, ${*}, ${?} or ${$}",
        ),
        (
            "${a:b${c:d}}",
            "invalid policy variable '${a:b${c:d}' in '${a:b${c:d}}': expected ${service:key} "
            "(such as ${aws:username}), ${service:key, 'default'}, ${*}, ${?} or ${$}",
        ),
    ],
)
def test_malformed_variables_raise_template_error(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_template(text, version=V12)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


# --- regex ----------------------------------------------------------------------------------


def test_regex_wildcards_fullmatch() -> None:
    pattern = compile_template("repo/*-v?", version=V12).regex(RequestContext())
    assert pattern is not None
    assert pattern.fullmatch("repo/app-v1")
    assert pattern.fullmatch("repo/-v1")  # * may match nothing
    assert pattern.fullmatch("repo/a/b-v2")  # * crosses /
    assert not pattern.fullmatch("repo/app-v10")
    assert not pattern.fullmatch("xrepo/app-v1")
    assert not pattern.fullmatch("repo/app-v1x")


def test_regex_text_from_variables_is_literal() -> None:
    t = compile_template("repo/${aws:username}/*", version=V12)
    pattern = t.regex(ctx(aws__username="a.+"))
    assert pattern is not None
    assert pattern.fullmatch("repo/a.+/x")
    assert not pattern.fullmatch("repo/abc/x")


def test_regex_of_a_wildcard_from_a_variable_is_undecided() -> None:
    t = compile_template("repo/${aws:username}/*", version=V12)
    with pytest.raises(Undecided) as info:
        t.regex(ctx(aws__username="a*"))
    assert str(info.value) == (
        "the policy variable ${aws:username} in 'repo/${aws:username}/*' is 'a*' for this "
        "request, and AWS does not document whether a '*' that comes from a variable's value "
        "is a wildcard (only that ${*} and ${?} are literal)"
    )
    assert t.render(ctx(aws__username="a*")) == "repo/a*/*"  # compared whole: a character


def test_regex_escapes_are_literal() -> None:
    pattern = compile_template("a${*}${?}", version=V12).regex(RequestContext())
    assert pattern is not None
    assert pattern.fullmatch("a*?")
    assert not pattern.fullmatch("abc")


def test_regex_missing_variable_is_none() -> None:
    t = compile_template("repo/${aws:PrincipalTag/team}", version=V12)
    assert t.regex(RequestContext()) is None
    assert t.regex(RequestContext(), arn_components=True) is None


def test_regex_default_is_literal() -> None:
    t = compile_template("repo/${aws:PrincipalTag/team, 'a.b'}", version=V12)
    pattern = t.regex(RequestContext())
    assert pattern is not None
    assert pattern.fullmatch("repo/a.b")
    assert not pattern.fullmatch("repo/axb")
    with pytest.raises(Undecided):
        compile_template("repo/${aws:PrincipalTag/team, 'a*'}", version=V12).regex(RequestContext())


def test_regex_is_cached_without_variables_and_follows_values_with_them() -> None:
    static = compile_template("repo/*", version=V12)
    assert static.regex(RequestContext()) is static.regex(ctx(aws__username="x"))
    dynamic = compile_template("repo/${aws:username}", version=V12)
    first = dynamic.regex(ctx(aws__username="alice"))
    second = dynamic.regex(ctx(aws__username="bob"))
    assert first is not None and second is not None
    assert first.fullmatch("repo/alice") and not first.fullmatch("repo/bob")
    assert second.fullmatch("repo/bob") and not second.fullmatch("repo/alice")
    assert dynamic.regex(ctx(aws__username="alice")) is first


def test_regex_arn_components_star_stays_inside_a_component() -> None:
    t = compile_template("arn:aws:ecr:*:111122223333:repository/*", version=V12)
    plain = t.regex(RequestContext())
    arn = t.regex(RequestContext(), arn_components=True)
    assert plain is not None and arn is not None
    request = "arn:aws:ecr:us-east-1:extra:111122223333:repository/app"
    assert plain.fullmatch(request)  # plain wildcards cross ':'
    assert not arn.fullmatch(request)
    assert arn.fullmatch("arn:aws:ecr:us-east-1:111122223333:repository/app")


def test_regex_arn_components_resource_part_may_hold_colons() -> None:
    arn = wildcard_regex("arn:aws:logs:*:*:log-group:*", arn_components=True)
    assert arn.fullmatch("arn:aws:logs:eu-west-1:111122223333:log-group:app:log-stream:1")
    assert not arn.fullmatch("arn:aws:logs:eu-west-1:111122223333")


def test_regex_arn_components_question_mark_is_not_a_colon() -> None:
    arn = wildcard_regex("arn:aws:s3:?::b", arn_components=True)
    assert arn.fullmatch("arn:aws:s3:x::b")
    assert not arn.fullmatch("arn:aws:s3:::b")


def test_regex_arn_components_colons_from_variables_split_components() -> None:
    t = compile_template("${aws:PrincipalArn}", version=V12)
    arn = t.regex(ctx(aws__PrincipalArn="arn:aws:iam::111122223333:role/ci"), arn_components=True)
    assert arn is not None
    assert arn.fullmatch("arn:aws:iam::111122223333:role/ci")
    assert not arn.fullmatch("arn:aws:iam::111122223333:role/cx")


def test_regex_arn_components_text_that_is_not_an_arn_matches_nothing() -> None:
    arn = wildcard_regex("*", arn_components=True)
    assert not arn.fullmatch("*")
    assert not arn.fullmatch("arn:aws:iam::111122223333:role/ci")


def test_wildcard_regex_is_cached_and_plain() -> None:
    first = wildcard_regex("ecr:Batch*")
    assert first is wildcard_regex("ecr:Batch*")
    assert first.fullmatch("ecr:BatchGetImage")
    assert not first.fullmatch("ecr:batchGetImage")
    assert wildcard_regex("${aws:username}").fullmatch("${aws:username}")
    assert wildcard_regex("").fullmatch("")


def _reference(matcher: object) -> re.Pattern[str]:
    """The backtracking regex that a linear matcher stands for, from its tokens."""
    return token_regex(matcher._tokens)  # type: ignore[attr-defined]


@given(
    pattern=st.text(alphabet="ab:*?", min_size=2, max_size=12).filter(lambda p: p.count("*") > 1),
    texts=st.lists(st.text(alphabet="ab:", max_size=12), min_size=1, max_size=5),
    mode=st.sampled_from(["text", "arn", "resource"]),
)
def test_patterns_with_several_stars_match_as_the_regex_would(
    pattern: str, texts: list[str], mode: str
) -> None:
    tpl = compile_template(pattern, version="2012-10-17")
    matcher = tpl.regex(RequestContext(), arn_components=mode == "arn", resource=mode == "resource")
    assert matcher is not None
    if isinstance(matcher, re.Pattern):  # an ARN pattern of fewer than six parts: never
        return
    reference = _reference(matcher)
    for text in texts:
        assert bool(matcher.fullmatch(text)) is (reference.fullmatch(text) is not None), text


def test_many_stars_against_a_long_text_answer_at_once() -> None:
    """Backtracking regexes take hours on this (exponential in the number of stars)."""
    tpl = compile_template("arn:aws:ecr:*:*:repository/" + "*a" * 12 + "*b", version="2012-10-17")
    matcher = tpl.regex(RequestContext(), resource=True)
    assert matcher is not None
    arn = "arn:aws:ecr:us-east-1:111122223333:repository/" + "a" * 80
    assert not matcher.fullmatch(arn)
    assert matcher.fullmatch(arn + "b")
