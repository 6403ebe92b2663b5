"""The import readers under hostile input (the bad-input audit): each refusal with its exact
text and place, and the other spec files still running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.errors import SpecError
from runner.model import Spec
from runner.spec import load_spec

SPEC_TAIL = """\
cases:
  - principal: arn:aws:iam::111122223333:user/nobody
    action: ecr:GetAuthorizationToken
    expect: implicit-deny
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def load(root: Path, name: str = "spec.yaml") -> Spec:
    return load_spec(root / name, display_root=root)


def errors(root: Path, name: str = "spec.yaml") -> list[str]:
    with pytest.raises(SpecError) as exc:
        load(root, name)
    return [str(p) for p in exc.value.problems]


# -- import files that are not regular files, or whose names the system refuses (items 8, 11)


@pytest.mark.parametrize(
    "source",
    ["terraform-plan", "cloudformation", "authorization-details", "organization-policy"],
)
def test_an_import_file_that_is_a_fifo_is_refused_unread(tmp_path: Path, source: str) -> None:
    os.mkfifo(tmp_path / "plan.json")  # reading it would block for ever: no writer
    write(tmp_path, {"spec.yaml": f"import:\n  - {source}: plan.json\n" + SPEC_TAIL})
    col = len(f"  - {source}: ") + 1
    assert errors(tmp_path) == [f"spec.yaml:2:{col}: cannot import plan.json: not a regular file"]


def test_an_import_name_too_long_for_the_system_is_located(tmp_path: Path) -> None:
    long = "a" * 300 + ".json"
    write(tmp_path, {"spec.yaml": f"import:\n  - terraform-plan: {long}\n" + SPEC_TAIL})
    assert errors(tmp_path) == [
        f"spec.yaml:2:21: cannot import {'a' * 60!r}... (305 characters): File name too long"
    ]


def test_an_import_that_is_a_directory_says_so(tmp_path: Path) -> None:
    (tmp_path / "plan.json").mkdir()
    write(tmp_path, {"spec.yaml": "import:\n  - terraform-plan: plan.json\n" + SPEC_TAIL})
    assert errors(tmp_path) == ["spec.yaml:2:21: cannot import plan.json: Is a directory"]
