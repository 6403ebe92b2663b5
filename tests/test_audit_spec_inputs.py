"""Hostile and mistaken spec input found by the input audit (/work/markers/audit-inputs.md):
each is refused or warned about at its place, with the words the user needs."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from textwrap import dedent

import pytest

from runner import model
from runner import spec as loader
from runner.errors import SpecError

ACCOUNT_LEVEL_CASE = """\
cases:
  - principal: u
    action: ecr:GetAuthorizationToken
    expect: allow
"""

IDENTITY = '{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ecr:*", Resource: "*"}]}'


def write(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")


def load(root: Path, text: str, **files: str) -> model.Spec:
    write(root, {"spec.yaml": text, **files})
    return loader.load_spec(root / "spec.yaml", display_root=root)


def errors(root: Path, text: str, **files: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(root, text, **files)
    return [str(p) for p in info.value.problems]


# ---------------------------------------------------------------------------------------------
# 1. Tag keys that differ only in case


def test_principal_tag_keys_differing_in_case_are_an_error_naming_both(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        dedent("""\
        principals:
          u:
            arn: arn:aws:iam::111122223333:user/a
            tags: {Team: a, team: b}
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        "spec.yaml:4:21: tag key 'team' is given twice (also 'Team' on line 4); "
        "condition keys ignore case (aws:PrincipalTag/..., aws:ResourceTag/...), "
        "so no policy can tell these tags apart"
    ]


def test_resource_tag_keys_differing_in_case_are_an_error(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        dedent("""\
        principals:
          u: arn:aws:iam::111122223333:user/a
        resources:
          r:
            arn: arn:aws:ecr:us-east-1:111122223333:repository/app
            tags:
              Env: prod
              ENV: dev
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        "spec.yaml:8:7: tag key 'ENV' is given twice (also 'Env' on line 7); "
        "condition keys ignore case (aws:PrincipalTag/..., aws:ResourceTag/...), "
        "so no policy can tell these tags apart"
    ]


# ---------------------------------------------------------------------------------------------
# 4. YAML boolean words as tag values


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "NO", "On", "OFF"])
def test_a_yaml_boolean_word_as_a_tag_value_asks_for_quotes(tmp_path: Path, word: str) -> None:
    got = errors(
        tmp_path,
        dedent(f"""\
        principals:
          u: {{arn: "arn:aws:iam::111122223333:user/a", tags: {{gate: {word}}}}}
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        f"spec.yaml:2:61: {word!r} is a YAML boolean, not text; quote it "
        f'("{word}") if the tag value is the text {word}'
    ]


def test_quoted_words_and_true_false_are_tag_text_and_context_keeps_yes(tmp_path: Path) -> None:
    spec = load(
        tmp_path / "ok",
        dedent("""\
        principals:
          u:
            arn: arn:aws:iam::111122223333:user/a
            tags: {a: true, b: False, c: "on", d: 'no', e: y, f: n}
        context: {aws:SecureTransport: yes}
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    tags = dict(spec.checks[0].principal.tags)
    assert tags == {"a": "true", "b": "false", "c": "on", "d": "no", "e": "y", "f": "n"}
    # context values keep their documented conversion
    assert spec.checks[0].context["aws:SecureTransport"] == ("true",)
    # ... while the same word as a tag value is refused
    got = errors(
        tmp_path / "bad",
        dedent("""\
        principals:
          u: {arn: "arn:aws:iam::111122223333:user/a", tags: {oncall: yes}}
        context: {aws:SecureTransport: yes}
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        "spec.yaml:2:63: 'yes' is a YAML boolean, not text; quote it "
        '("yes") if the tag value is the text yes'
    ]


# ---------------------------------------------------------------------------------------------
# 5. A defined policy named like a shipped AWS managed policy


def test_a_policy_named_like_a_shipped_aws_managed_policy_is_refused(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        dedent(f"""\
        policies:
          AmazonEC2ContainerRegistryReadOnly:
            document: {IDENTITY}
        principals:
          u:
            arn: arn:aws:iam::111122223333:user/a
            policies: [AmazonEC2ContainerRegistryReadOnly]
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    # the reference is quiet: the definition is the mistake
    assert got == [
        "spec.yaml:2:3: 'AmazonEC2ContainerRegistryReadOnly' is a predefined policy name (an AWS "
        "managed policy); choose another name"
    ]
    spec = load(
        tmp_path / "ok",
        dedent("""\
        principals:
          u:
            arn: arn:aws:iam::111122223333:user/a
            policies: [AmazonEC2ContainerRegistryReadOnly]
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert [p.name for p in spec.checks[0].principal.policies] == [
        "AmazonEC2ContainerRegistryReadOnly"
    ]


# ---------------------------------------------------------------------------------------------
# 6a. Resource ARNs with fewer than six parts


@pytest.mark.parametrize(
    ("arn", "parts"),
    [("arn:aws:ecr:us-east-1", 4), ("arn:aws:ecr:us-east-1:111122223333", 5)],
)
def test_a_truncated_resource_arn_is_refused(tmp_path: Path, arn: str, parts: int) -> None:
    got = errors(
        tmp_path,
        dedent(f"""\
        policies:
          p:
            document: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "ecr:*", Resource: "{arn}"}}]}}
        principals:
          u: {{arn: "arn:aws:iam::111122223333:user/a", policies: [p]}}
        """)  # noqa: E501
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        f'spec.yaml:3:84: Statement[0].Resource: {arn!r} is not a resource ARN: expected "*" or '
        "arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (six parts separated by colons; this has "
        f"{parts}, so it would match no resource) (identity policy 'p', attached at "
        "spec.yaml:5:59)"
    ]
    # "If the * wildcard is the last character of a resource ARN segment, it can expand to
    # match beyond the colon boundaries" ("IAM JSON policy elements: Resource")
    spec = load(
        tmp_path / "ok",
        dedent("""\
        policies:
          p:
            document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ecr:*", Resource: "arn:aws:ecr:*"}]}
        principals:
          u: {arn: "arn:aws:iam::111122223333:user/a", policies: [p]}
        """)  # noqa: E501
        + ACCOUNT_LEVEL_CASE,
    )
    assert len(spec.checks) == 1


# ---------------------------------------------------------------------------------------------
# 6c. A policy that nothing attaches


def test_an_unattached_policy_is_checked_for_what_is_wrong_in_every_kind(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        dedent("""\
        policies:
          unused:
            document:
              Version: "2012-10-17"
              Statement:
                - Effect: Alow
                  Action: "ecr:*"
                  Resource: "*"
                  Condition: {StringEqual: {aws:username: a}}
        principals:
          u: arn:aws:iam::111122223333:user/a
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        'spec.yaml:6:11: Statement[0].Effect: Effect must be exactly "Allow" or "Deny", not '
        "'Alow' (policy 'unused', attached nowhere: wrong for every kind of policy)",
        "spec.yaml:9:23: Statement[0].Condition.StringEqual: unknown condition operator "
        "'StringEqual'; did you mean 'StringEquals'? (policy 'unused', attached nowhere: wrong "
        "for every kind of policy)",
    ]
    # a repository policy (Principal, no Resource) and an identity policy: each is wrong as
    # the other kind, right as its own
    spec = load(
        tmp_path / "ok",
        dedent(f"""\
        policies:
          repo:
            document: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Principal: "*", Action: "ecr:*"}}]}}
          ident:
            document: {IDENTITY}
        principals:
          u: arn:aws:iam::111122223333:user/a
        """)  # noqa: E501
        + ACCOUNT_LEVEL_CASE,
    )
    assert len(spec.checks) == 1
    assert spec.policies == ()  # unattached policies are not in the report's coverage


# ---------------------------------------------------------------------------------------------
# 3. Unknown condition keys in context


def test_a_misspelt_context_key_of_a_case_is_a_located_warning(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """\
        principals:
          u: arn:aws:iam::111122223333:user/a
        cases:
          - principal: u
            action: ecr:GetAuthorizationToken
            expect: deny
            context: {aws:SoruceIp: 8.8.8.8}
        """,
    )
    assert list(spec.warnings) == [
        "spec.yaml:7:15: unknown condition key aws:SoruceIp; did you mean aws:SourceIp? AWS "
        "never sends this key, so the policies see the request without the key meant"
    ]


def test_a_misspelt_file_context_key_is_a_located_warning(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        dedent("""\
        principals:
          u: arn:aws:iam::111122223333:user/a
        context:
          aws:SourceIp: 10.0.0.1
          ecr:ResourceTagg/team: a
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert list(spec.warnings) == [
        "spec.yaml:5:3: unknown condition key ecr:ResourceTagg/team; did you mean "
        "ecr:ResourceTag/team? AWS never sends this key, so the policies see the request "
        "without the key meant"
    ]
    spec = load(
        tmp_path / "ok",
        dedent("""\
        principals:
          u: arn:aws:iam::111122223333:user/a
        context:
          aws:sourceip: 10.0.0.1
          aws:PrincipalTag/team: a
          s3:prefix: x
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert spec.warnings == ()


# ---------------------------------------------------------------------------------------------
# 11. File names too long for the system


def test_an_include_name_too_long_is_a_located_error(tmp_path: Path) -> None:
    name = "a" * 300 + ".yaml"
    got = errors(
        tmp_path,
        dedent(f"""\
        include: [{name}]
        principals:
          u: arn:aws:iam::111122223333:user/a
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        f"spec.yaml:1:11: cannot include {'a' * 60!r}... (305 characters): File name too long"
    ]
    # the other reasons keep their words and the path
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "_dir.yaml").mkdir()
    got = errors(
        tmp_path / "other",
        dedent("""\
        include: [_missing.yaml, _dir.yaml]
        principals:
          u: arn:aws:iam::111122223333:user/a
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        "spec.yaml:1:11: cannot include '_missing.yaml': no such file (_missing.yaml)",
        "spec.yaml:1:26: cannot include '_dir.yaml': not a regular file (_dir.yaml)",
    ]


def test_an_include_with_a_directory_name_too_long_is_a_located_error(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        dedent(f"""\
        include: [{"d" * 300}/_x.yaml]
        principals:
          u: arn:aws:iam::111122223333:user/a
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        f"spec.yaml:1:11: cannot include {'d' * 60!r}... (308 characters): File name too long"
    ]


def test_a_policy_file_name_too_long_is_a_located_error(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        dedent(f"""\
        policies:
          p: {{file: {"p" * 300}.json}}
        principals:
          u: {{arn: "arn:aws:iam::111122223333:user/a", policies: [p]}}
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        f"spec.yaml:2:13: cannot read policy file {'p' * 60!r}... (305 characters): "
        "File name too long"
    ]


# ---------------------------------------------------------------------------------------------
# 17. Spec paths that are not regular files


def test_a_fifo_or_a_device_named_as_a_spec_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)
    zero = tmp_path / "z.yaml"
    zero.symlink_to("/dev/zero")
    missing = tmp_path / "m.yaml"
    found, problems = loader.find_spec_files([fifo, zero, missing])
    assert found == []
    assert [str(p) for p in problems] == [
        f"{fifo}: not a regular file (a named pipe)",
        f"{zero}: not a regular file (a device)",
        f"{missing}: no such file or directory",
    ]


# ---------------------------------------------------------------------------------------------
# 18. Classes of callers


def test_anyone_beside_other_principal_keys_says_a_class_has_the_single_key(
    tmp_path: Path,
) -> None:
    got = errors(
        tmp_path,
        dedent("""\
        principals:
          u: arn:aws:iam::111122223333:user/a
          c:
            anyone: {organization: outside}
            arn: arn:aws:iam::111122223333:user/c
        """)
        + ACCOUNT_LEVEL_CASE,
    )
    assert got == [
        "spec.yaml:4:5: a class of callers has the single key 'anyone' (its conditions go under "
        "it); principal 'c' also has 'arn': define the class and the principal as two entries"
    ]


def test_except_naming_a_class_says_it_takes_defined_principals(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        """\
        principals:
          u: arn:aws:iam::111122223333:user/a
          outsiders: {anyone: {organization: outside}}
          others: {anyone: {except: [u, outsiders, anyone, nobody]}}
        resources:
          r: arn:aws:ecr:us-east-1:111122223333:repository/app
        cases:
          - principal: others
            resource: r
            action: ecr:BatchGetImage
            expect: deny
        """,
    )
    assert got == [
        "spec.yaml:4:33: 'outsiders' is a class of callers; 'except' takes defined principals, "
        "not classes",
        "spec.yaml:4:44: 'anyone' is a class of callers; 'except' takes defined principals, "
        "not classes",
        "spec.yaml:4:52: unknown principal 'nobody'; defined principals: u",
    ]


# ---------------------------------------------------------------------------------------------
# 15. Keys longer than YAML reads


def test_a_key_longer_than_yaml_allows_is_explained_at_the_key(tmp_path: Path) -> None:
    key = "k" * 2000
    got = errors(tmp_path, f"principals:\n  {key}: arn:aws:iam::111122223333:user/a\n")
    assert got == [
        "spec.yaml:2:3: invalid YAML: this key is 2,000 characters long; YAML limits a key "
        "written without '?' to 1024 characters on one line, so the ':' after it is not read "
        "as the key's"
    ]
    got = errors(tmp_path, f'context: {{a: 1, "aws:{key}": x}}\n')
    assert got == [
        "spec.yaml:1:17: invalid YAML: this key is 2,006 characters long; YAML limits a key "
        "written without '?' to 1024 characters on one line, so the ':' after it is not read "
        "as the key's"
    ]
    # a short key keeps libyaml's words
    got = errors(tmp_path, "a: b: c\n")
    assert got == ["spec.yaml:1:5: invalid YAML: mapping values are not allowed in this context"]
