"""The plugin keeps a run's live objects away from the cyclic garbage collector
(runner/plugin/gcfreeze.py) without changing what a user sees: garbage cycles are still
finalized while pytest can report their exceptions, and the collector is back as it was after
the session."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest

RunPytest = Callable[..., pytest.RunResult]
WriteProject = Callable[..., None]

#: A conftest whose garbage cycle is made when it is imported (so frozen with everything alive
#: after collection) and dies at the end of the session: only a collection of every object at
#: the end finds it. (Under xdist, what a worker's cleanup reports is not shown, with or
#: without the plugin.)
DYING_CYCLE = """\
class Boom:
    def __del__(self):
        raise ValueError("finalizer of a cycle that died at the end")


_held = [Boom()]
_held[0].me = _held[0]


def pytest_sessionfinish(session):
    _held.clear()
"""

#: A Python test whose garbage cycle dies during the run, collected in the test. (Left to a
#: later automatic collection, its finalizer may run inside the compiler, when pytest rewrites
#: a module imported at the end of the session, and CPython 3.11 then fails with "SystemError:
#: AST constructor recursion depth mismatch": seen once in CI, a CPython matter whatever the
#: plugin does.)
CYCLE_TEST = """\
import gc


class Boom:
    def __del__(self):
        raise ValueError("finalizer of a cycle that died in a test")


def test_makes_a_cycle():
    boom = Boom()
    boom.me = boom
    del boom
    gc.collect()
"""


def test_a_cycle_dying_at_the_end_is_finalized_and_reported(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path)
    pytester.makeconftest(DYING_CYCLE)
    result = run_pytest("-p", "no:cacheprovider", subprocess=True)
    result.assert_outcomes(passed=6)
    out = result.stdout.str() + result.stderr.str()
    assert "ValueError: finalizer of a cycle that died at the end" in out, out
    assert "PytestUnraisableExceptionWarning" in out, out


def test_a_cycle_dying_in_a_test_is_reported(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path)
    pytester.makepyfile(test_cycle=CYCLE_TEST)
    result = run_pytest("-p", "no:cacheprovider", subprocess=True)
    result.assert_outcomes(passed=7)
    out = result.stdout.str() + result.stderr.str()
    assert "ValueError: finalizer of a cycle that died in a test" in out, out
    assert "PytestUnraisableExceptionWarning" in out, out


def test_the_collector_is_as_it_was_after_an_in_process_run(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path, wrong=True, typo=True)  # passes, failures, a collection error
    assert gc.isenabled()
    result = run_pytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, failed=2, errors=1)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
