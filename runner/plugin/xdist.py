"""pytest-xdist: where checks run and how their reports travel.

- Scheduling: the checks of one spec file go to one worker (its policies are compiled once
  there), other tests are spread one by one, unless the user chose ``--dist``.
- Transport: a passing check's report crosses from worker to controller as one tuple instead
  of pytest's dict of eleven fields.

Anything that crosses (reports, their extra attributes) is plain built-in types: execnet
refuses dataclasses and enums.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

import pytest

from runner.plugin.items import is_spec_nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if _dist_chosen(config) or config.getvalue("dist") != "load":
        return None
    try:
        from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - an xdist without scope scheduling
        return None

    class SpecFileScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Checks of one spec file go to one worker; other tests are spread one by one.

        xdist's scope scheduler recounts every pending test of a worker after each test
        report and looks each test up by a linear search: quadratic in the number of checks
        (about 6 s of controller time at 20,000 checks, found with cProfile). This keeps a
        running count per workload and a position table per worker instead.
        """

        def __init__(self, config: pytest.Config, log: Any = None) -> None:
            super().__init__(config, log)
            self._pending: dict[int, int] = {}  # id(workload) -> tests not yet completed
            self._positions: dict[Any, dict[str, int]] = {}

        def _split_scope(self, nodeid: str) -> str:
            return nodeid.split("::", 1)[0] if is_spec_nodeid(nodeid) else nodeid

        def add_node(self, node: Any) -> None:
            super().add_node(node)
            self._pending[id(self.assigned_work[node])] = 0

        def _pending_of(self, workload: dict[str, dict[str, bool]]) -> int:
            return self._pending.get(id(workload), 0)

        def _assign_work_unit(self, node: Any) -> None:
            scope, work_unit = self.workqueue.popitem(last=False)
            workload = self.assigned_work.setdefault(node, {})
            workload[scope] = work_unit
            todo = [nodeid for nodeid, completed in work_unit.items() if not completed]
            self._pending[id(workload)] = self._pending.get(id(workload), 0) + len(todo)
            positions = self._positions.get(node)
            if positions is None:
                collection = self.registered_collections[node]
                positions = self._positions[node] = {n: i for i, n in enumerate(collection)}
            node.send_runtest_some([positions[nodeid] for nodeid in todo])

        def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
            nodeid = self.registered_collections[node][item_index]
            workload = self.assigned_work[node]
            unit = workload[self._split_scope(nodeid)]
            if not unit[nodeid]:
                unit[nodeid] = True
                self._pending[id(workload)] -= 1
            self._reschedule(node)

    return SpecFileScheduling(config, log)


def _dist_chosen(config: pytest.Config) -> bool:
    args = list(config.invocation_params.args)
    args += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    args += list(config.getini("addopts"))
    return any(a in ("--dist", "-d") or a.startswith("--dist=") for a in args)


# ---------------------------------------------------------------------------------------------
# A passing check's report crosses from worker to controller as one tuple.
#
# xdist sends three reports per item (setup, call, teardown) through execnet's pure-Python
# serializer; pytest's own form is a dict of eleven fields, built and parsed field by field on
# both sides. Sending the same values by position took 0.4 s off 8,000 checks at -n 2
# (bench_scale.py xdist). Anything unusual (a failure, captured output, user properties, a
# non-spec test) keeps pytest's form.

_COMPACT = "policyspec/report"
#: TestReport attributes carried by position (pytest 9 keeps the node id as "_id"); any other
#: attribute travels by name.
_REPORT_FIELDS = frozenset(
    {
        "nodeid", "_id", "location", "keywords", "outcome", "longrepr", "when",
        "user_properties", "sections", "duration", "start", "stop",
    }
)  # fmt: skip


def pytest_report_to_serializable(
    config: pytest.Config, report: pytest.CollectReport | pytest.TestReport
) -> dict[str, Any] | None:
    if (
        not hasattr(config, "workerinput")
        or type(report) is not pytest.TestReport
        or report.outcome != "passed"
        or report.longrepr is not None
        or report.sections
        or report.user_properties
        or not is_spec_nodeid(report.nodeid)
    ):
        return None
    # as pytest's own form does: paths as text, no collection result
    extra = {
        k: os.fspath(v) if isinstance(v, os.PathLike) else None if k == "result" else v
        for k, v in report.__dict__.items()
        if k not in _REPORT_FIELDS
    }
    values = (report.nodeid, report.location, dict(report.keywords), report.when)
    times = (report.duration, report.start, report.stop)
    return {_COMPACT: (values, times, extra)}


def pytest_report_from_serializable(
    config: pytest.Config, data: dict[str, Any]
) -> pytest.TestReport | None:
    compact = data.get(_COMPACT)
    if compact is None:
        return None
    (nodeid, location, keywords, when), (duration, start, stop), extra = compact
    extra.update((k, v) for k, v in data.items() if k != _COMPACT)  # xdist's item_index etc.
    extra["$report_type"] = "TestReport"  # as pytest's own form leaves it
    return pytest.TestReport(
        nodeid,
        (location[0], location[1], location[2]),
        keywords,
        "passed",
        None,
        when,
        [],
        duration,
        start,
        stop,
        [],
        **extra,
    )
