"""Lets `pytest specs/` work in a source checkout: registers the policyspec plugin unless it
is already loaded (by the installed package's ``pytest11`` entry point, or ``-p runner.plugin``).
"""

from __future__ import annotations

import sys

if "runner.plugin" not in sys.modules:
    pytest_plugins = ["runner.plugin"]
