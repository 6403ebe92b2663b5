"""``runner eval`` builds a passing check's JSON line from parts (result_lines.PassedLines): the
same text as encoding its result dict, for every passing check of the example specs and of
a case with several principals, resources, actions and context keys."""

from __future__ import annotations

import json
from pathlib import Path

from runner import checks, result_lines
from runner.spec import find_spec_files, load_spec

ROOT = Path(__file__).resolve().parent.parent

CASE = """\
policies:
  identity:
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: Pull
          Effect: Allow
          Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
          Resource: "*"
        - Sid: NoProdPush
          Effect: Deny
          Action: ecr:PutImage
          Resource: "*"
          Condition: {StringEquals: {"aws:RequestTag/env": "prod"}}
principals:
  alice: {arn: "arn:aws:iam::111122223333:role/alice", policies: [identity]}
  bob: {arn: "arn:aws:iam::111122223333:user/bob", policies: [identity]}
resources:
  app: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/app"}
  web: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/web"}
cases:
  - name: "pull \\u00e9"
    principal: [alice, bob]
    resource: [app, web]
    allow: [pull, ecr:BatchGetImage]
    deny: [ecr:PutImage, push]
  - principal: alice
    resource: app
    context: {"aws:RequestTag/env": prod}
    deny: [ecr:PutImage]
"""


def _lines(paths: list[Path], root: Path) -> tuple[int, list[tuple[str, str]]]:
    encode = json.JSONEncoder(separators=(",", ":")).encode
    lines = result_lines.PassedLines(encode, json.encoder.encode_basestring_ascii)
    passed = 0
    out: list[tuple[str, str]] = []
    for run in checks.run_spec_files(paths, display_root=root):
        for check_run in run.runs:
            if not check_run.passed or check_run.check.exception is not None:
                continue
            line = check_run.passed_line(lines)
            if line is not None:
                passed += 1
                out.append((line, encode(check_run.to_result())))
    return passed, out


def test_passed_lines_are_the_encoded_results(tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(CASE, encoding="utf-8")
    spec = load_spec(tmp_path / "case.yaml", display_root=tmp_path)
    assert len(spec.checks) == 2 * 2 * 4 + 1
    passed, pairs = _lines([tmp_path / "case.yaml"], tmp_path)
    runs = [checks.evaluate_check(c) for c in spec.checks]
    assert passed == sum(r.passed for r in runs) >= 12
    for fast, slow in pairs:
        assert fast == slow


def test_passed_lines_of_the_example_specs() -> None:
    files, _problems = find_spec_files([str(ROOT / "specs")])
    passed, pairs = _lines(files, ROOT)
    assert passed > 100
    for fast, slow in pairs:
        assert fast == slow
