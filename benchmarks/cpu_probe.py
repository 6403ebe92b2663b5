"""Where the CPU of a pytest run goes, per process: at the end of the run each process (the
xdist controller and every worker, or the one process of a serial run) appends one line
``NAME USER_SECONDS SYS_SECONDS`` to the file named by $POLICYSPEC_CPU_PROBE.

Used by bench_scale.py as ``-p cpu_probe`` with this folder on PYTHONPATH.
"""

from __future__ import annotations

import os
import resource

import pytest


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get("POLICYSPEC_CPU_PROBE")
    if not path:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    name = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{name} {usage.ru_utime:.3f} {usage.ru_stime:.3f}\n")
