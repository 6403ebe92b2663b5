"""What importing the loader costs: modules that only some spec files need are imported when
one needs them (their import time is paid by every run otherwise)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _imported_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("statement", ["import runner.spec", "import runner.cli, runner.spec"])
def test_rarely_needed_modules_are_imported_on_first_use(statement: str) -> None:
    loaded = _imported_after(statement)
    assert "runner.spec.loader" in loaded
    lazy = {
        "runner.spec.imports.entries",
        "runner.spec.imports.common",
        "runner.spec.imports.terraform",
        "runner.spec.imports.tfplan",
        "runner.spec.imports.cloudformation",
        "runner.spec.imports.cfn_template",
        "runner.spec.imports.cfn_parameters",
        "runner.spec.imports.authdetails",
        "runner.spec.imports.orgpolicy",
        "runner.exceptions",  # read for a case's exception key (runner.spec.exception_key)
    }
    assert loaded & lazy == set()
