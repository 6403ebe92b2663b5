"""Documents nested far beyond MAX_DEPTH: PyYAML's C composer recurses once per level and ran
out of stack near 25,000 levels (60 KB of text), killing the interpreter with SIGSEGV and the
whole run with it (with a libyaml older than 0.2.5, which has no nesting limit of its own).
Each case runs in a process of its own, so that a regression shows as a failed test with its
exit status instead of crashing the test run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

OK = """\
principals:
  u: arn:aws:iam::111122223333:user/u
cases:
  - {principal: u, action: ecr:GetAuthorizationToken, expect: deny}
"""

N = 30_000
DEEP = {
    "flow": ("cases: " + "[" * N + "]" * N + "\n", "1:71"),
    # beyond the 1,000 levels libyaml 0.2.5 (PyYAML's wheels) refuses itself, with its own
    # words at another place: the same message at the same place with any libyaml
    "flow-1500": ("cases: " + "[" * 1500 + "]" * 1500 + "\n", "1:71"),
    "block": ("cases:\n" + "- " * N + "x\n", "2:127"),
    "mapping": ("cases:\n- a: " + "{b: " * N + "}" * N + "\n", "2:247"),
}


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_a_spec_nested_30000_levels_is_an_error_at_its_place_and_the_others_run(
    tmp_path: Path, shape: str
) -> None:
    text, place = DEEP[shape]
    (tmp_path / "deep.yaml").write_text(text)
    (tmp_path / "ok.yaml").write_text(OK)
    proc = _run(tmp_path, "-m", "runner", "eval", ".")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr == f"deep.yaml:{place}: values are nested more than 64 levels deep\n"
    assert proc.stdout.count("\n") == 1 and '"file":"ok.yaml"' in proc.stdout


def test_a_deep_file_that_is_not_a_spec_and_a_deep_policy_file(tmp_path: Path) -> None:
    """Discovery composes a ``{``-document to see whether it is a spec; a JSON policy file
    that json cannot read (too deep) is read as YAML: neither crashes."""
    (tmp_path / "notes.yaml").write_text('{"a": ' + "[" * N + "]" * N + "}\n")
    (tmp_path / "pol.json").write_text('{"Version": "2012-10-17", "X": ' + "[" * N + "]" * N + "}")
    (tmp_path / "uses.yaml").write_text(
        "policies:\n  p: {file: pol.json}\n"
        + OK.replace(
            "user/u\n", 'user/u\n  v: {arn: "arn:aws:iam::111122223333:user/v", policies: [p]}\n', 1
        )
    )
    (tmp_path / "ok.yaml").write_text(OK)
    proc = _run(tmp_path, "-m", "runner", "eval", ".")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr == "pol.json:1:1: the JSON is nested too deeply\n"
    assert proc.stdout.count("\n") == 1 and '"file":"ok.yaml"' in proc.stdout


def test_pytest_reports_the_deep_spec_as_an_error_item(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text(DEEP["flow"][0])
    (tmp_path / "ok.yaml").write_text(OK)
    proc = _run(tmp_path, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-policy-report", ".")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "deep.yaml:1:71: values are nested more than 64 levels deep" in proc.stdout
    assert "1 passed, 1 error" in proc.stdout
