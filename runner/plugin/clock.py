"""The run's one instant (``aws:CurrentTime``, ``aws:EpochTime``): every check of a pytest run
is evaluated at it, at ``-n N`` as in a serial run.

The controller (or the one process of a serial run) picks it: ``--policy-time``, or when the
run starts, in whole seconds as the engine's own clock gives it. It hands it to each xdist
worker in the worker's input (:data:`TIME_KEY`). The engine's clock is set to it in every
process that runs tests, in ``pytest_configure``, so that a Python test calling the engine
without ``now=`` sees it too, spec files or not; xdist's controller runs no test and does not
import the engine (0.04 s before it starts the workers).
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner.engine.context import Clock

#: The key of the run's instant (ISO 8601) in an xdist worker's input.
TIME_KEY = "policyspec_now"


def parse_time(text: str) -> _dt.datetime:
    """``--policy-time``'s value; a usage error names the option and what was expected."""
    from runner import engine

    try:
        return engine.parse_instant(text)
    except ValueError as exc:
        raise pytest.UsageError(f"--policy-time: {exc}") from None


def run_instant(config: pytest.Config) -> _dt.datetime:
    """The run's instant: the controller's (an xdist worker), ``--policy-time``, or now."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and TIME_KEY in workerinput:
        return _dt.datetime.fromisoformat(workerinput[TIME_KEY])
    given: _dt.datetime | None = config.getoption("policy_time")
    return given or _dt.datetime.fromtimestamp(int(time.time()), _dt.UTC)


def hand_to_worker(node: Any, now: _dt.datetime) -> None:
    """xdist, on the controller: the worker of ``node`` gets the run's instant."""
    node.workerinput[TIME_KEY] = now.isoformat()


def is_xdist_controller(config: pytest.Config) -> bool:
    """Whether this process is pytest-xdist's controller, which hands the tests to workers
    and runs none itself (xdist starts its distributed session exactly then)."""
    if hasattr(config, "workerinput"):
        return False
    option = config.option
    return (
        getattr(option, "dist", "no") != "no"
        and bool(getattr(option, "tx", None))
        and not option.collectonly
    )


def set_engine_clock(now: _dt.datetime) -> Clock:
    """The engine evaluates every later request at ``now``; returns the clock it had, to be
    given back with :func:`restore_engine_clock` after the session (an in-process
    ``pytest.main()`` inside another run leaves the outer run's instant in place)."""
    from runner import engine

    previous = engine.current_clock()
    engine.freeze_clock(now)
    return previous


def restore_engine_clock(previous: Clock) -> None:
    """Give the engine back the clock :func:`set_engine_clock` returned."""
    from runner import engine

    engine.set_clock(previous)
