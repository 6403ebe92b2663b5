"""Mutated spec files: the loader returns a Spec or raises SpecError, never anything else."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import model
from runner import spec as loader
from runner.errors import SpecError

DATA = Path(__file__).parent / "data" / "loader"

EXTRA_SPEC = """\
principals:
  ci:
    arn: arn:aws:iam::111122223333:role/ci
    session: build-1
    policies: [id]
    boundary: id
    session-policy: id
  fed: {arn: "arn:aws:sts::111122223333:federated-user/bob", session-policy: id}
  root: arn:aws:iam::111122223333:root
  anon: anonymous
resources:
  repo: {arn: "arn:aws:ecr:eu-west-1:111122223333:repository/a/b", policy: rp, tags: {x: 1}}
policies:
  id:
    document: {Version: "2012-10-17", Statement: {Effect: Allow, Action: "ecr:*", Resource: "*"}}
  rp: {file: ../policies/get-repository-policy.json}
  scp: {document: '{"Statement": {"Effect": "Deny", "Action": "ecr:Delete*", "Resource": "*"}}'}
organization: {id: o-a1b2c3d4e5, accounts: ["111122223333"], scps: [FullAWSAccess, scp], rcps: []}
context: {aws:SourceIp: [10.0.0.1], aws:SecureTransport: true}
cases:
  - {name: one, principal: [ci, fed], resource: repo, allow: [pull, "ecr:Describe*"]}
  - {principal: anon, resource: repo, action: push, expect: implicit-deny, context: {a:b: 1}}
  - {principal: root, action: [ecr:GetAuthorizationToken], expect: deny}
"""

SEEDS = [(DATA / "valid" / "prod.yaml").read_text(encoding="utf-8"), EXTRA_SPEC]
INCLUDE = (DATA / "valid" / "_org.yaml").read_text(encoding="utf-8")
POLICY = (DATA / "policies" / "prod-repo.json").read_text(encoding="utf-8")

TOKENS = [
    ":",
    "- ",
    "  ",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "!Ref ",
    "!!python/object:os.system ",
    "<<: ",
    '"',
    "'",
    "|",
    ">",
    "#",
    "\t",
    "~",
    "null",
    "true",
    "0123",
    "1e9",
    "2012-10-17",
    "ecr:*",
    "push",
    "cases",
    "principal",
    "resource",
    "include: [_org.yaml]",
    "include: [spec.yaml]",
    "file: ../policies/prod-repo.json",
    "document: {}",
    "arn:aws:iam::111122223333:user/x",
    "\u00e9",
    "\x00",
]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "char", "insert", "truncate"]))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "delete" and lines:
            del lines[i]
        elif op == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif op == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "char" and lines and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            new = draw(st.sampled_from(TOKENS) | st.characters(codec="utf-8"))
            lines[i] = lines[i][:k] + new + lines[i][k + 1 :]
        elif op == "insert":
            key = draw(st.sampled_from(TOKENS) | st.text(max_size=8))
            value = draw(st.sampled_from(TOKENS) | st.text(max_size=8))
            indent = draw(st.sampled_from(["", "  ", "    ", "      "]))
            lines.insert(i, f"{indent}{key}: {value}")
        elif op == "truncate":
            text = "\n".join(lines)
            lines = text[: draw(st.integers(0, len(text)))].split("\n")
        text = "\n".join(lines)
    return text


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(DATA / "valid", root / "valid")
        shutil.copytree(DATA / "policies", root / "policies")
        yield root


def _load(root: Path, spec: str, include: str, policy: str) -> None:
    (root / "valid" / "spec.yaml").write_bytes(spec.encode("utf-8", errors="surrogatepass"))
    (root / "valid" / "_org.yaml").write_text(include, encoding="utf-8")
    (root / "policies" / "prod-repo.json").write_text(policy, encoding="utf-8")
    try:
        got = loader.load_spec(root / "valid" / "spec.yaml", display_root=root)
    except SpecError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.message
            if problem.loc is not None:
                assert problem.loc.line >= 1 and problem.loc.col >= 1
        return
    assert isinstance(got, model.Spec)
    ids = [c.test_id for c in got.checks]
    assert len(ids) == len(set(ids))
    assert all(" " not in i and "::" not in i for i in ids)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=mutated(SEEDS))
def test_mutated_specs_raise_only_spec_error(workdir: Path, spec: str) -> None:
    _load(workdir, spec, INCLUDE, POLICY)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(include=mutated([INCLUDE]), policy=mutated([POLICY]))
def test_mutated_includes_and_policy_files_raise_only_spec_error(
    workdir: Path, include: str, policy: str
) -> None:
    _load(workdir, SEEDS[0], include, policy)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_raises_only_spec_error(workdir: Path, text: str) -> None:
    _load(workdir, text, INCLUDE, POLICY)
