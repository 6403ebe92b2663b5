"""Where the wall time of a pytest run goes, per process: with $POLICYSPEC_PHASE_PROBE naming a
file and $POLICYSPEC_PHASE_T0 the run's start (``time.time()``), each process (the xdist
controller and every worker, or the one process of a serial run) appends one line at the end:

    NAME configured=S collected=S first=S last=S busy=S tests=N

``configured``, ``collected`` (collection finished), ``first`` (first test started) and
``last`` (last test ended) are seconds since the start; ``busy`` adds up the time inside each
test's protocol (setup, call, teardown and the hooks that report them, xdist's messages
included). Used by bench_universal.py ``--xdist-only`` as ``-p phase_probe`` with this folder
on PYTHONPATH.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator

import pytest

_T0 = float(os.environ.get("POLICYSPEC_PHASE_T0", "0") or 0)
_seen: dict[str, float] = {}
_busy = [0.0, 0]


def _at(name: str) -> None:
    _seen.setdefault(name, time.time() - _T0)


def pytest_configure(config: pytest.Config) -> None:
    _at("configured")


def pytest_collection_finish(session: pytest.Session) -> None:
    _at("collected")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    _at("first")
    start = time.perf_counter()
    yield
    _busy[0] += time.perf_counter() - start
    _busy[1] += 1
    _seen["last"] = time.time() - _T0


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get("POLICYSPEC_PHASE_PROBE")
    if not path:
        return
    name = os.environ.get("PYTEST_XDIST_WORKER", "main")
    parts = " ".join(
        f"{k}={_seen[k]:.3f}" for k in ("configured", "collected", "first", "last") if k in _seen
    )
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{name} {parts} busy={_busy[0]:.3f} tests={_busy[1]}\n")
