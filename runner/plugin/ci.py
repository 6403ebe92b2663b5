"""The plugin's CI outputs: ``--policy-sarif``, ``--policy-shard``, GitHub annotations, and
known exceptions (xfail until their date, a failure after it, a warning once not needed).

:mod:`runner.plugin.items` calls these at the points of a run they belong to; the findings,
the SARIF log, the workflow commands and the exception rules themselves live outside the
plugin (``runner.sarif``, ``runner.workflow``, ``runner.exceptions``, ``runner.shards``),
shared with ``python -m runner eval`` and ``report``. See docs/ci.md.
"""

from __future__ import annotations

import datetime as _dt
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from runner import exceptions, model, results, sarif, shards, workflow

_CI_KEY = pytest.StashKey["CiOutputs"]()


class KnownExceptionWarning(UserWarning):
    """A check passes although its case carries a known exception: remove the exception."""


class CiOutputs:
    """Per-run state: the results written at the end, for the terminal summary."""

    def __init__(self) -> None:
        self.results: dict[str, Any] | None = None
        self.sarif_path: Path | None = None


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--policy-sarif",
        metavar="PATH",
        default=None,
        help="also write the failures, errors and warnings as SARIF 2.1.0, for GitHub code "
        "scanning (written by the controller, also under -n N)",
    )
    group.addoption(
        "--policy-shard",
        metavar="K/N",
        default=None,
        type=_parse_shard,
        help="run only the spec files of shard K of N (each file's shard is a hash of its "
        "path under the rootdir); merge the shards' --policy-results with "
        "`python -m runner report`",
    )


def _parse_shard(text: str) -> shards.Shard:
    try:
        return shards.parse_shard(text)
    except ValueError as exc:
        raise pytest.UsageError(f"--policy-shard: {exc}") from None


def configure(config: pytest.Config) -> None:
    config.stash[_CI_KEY] = CiOutputs()


def _outputs(config: pytest.Config) -> CiOutputs:
    return config.stash[_CI_KEY]


def wanted(config: pytest.Config) -> bool:
    """Whether the results are needed for these outputs: a SARIF file, a shard (which always
    writes its results file), or the annotations of a run on GitHub Actions."""
    return (
        bool(config.getoption("policy_sarif"))
        or config.getoption("policy_shard") is not None
        or workflow.enabled()
    )


# ---------------------------------------------------------------------------------------------
# Shards


def in_shard(config: pytest.Config, file_path: Path) -> bool:
    """Whether the spec file at ``file_path`` is in this run's shard (always, without one)."""
    shard: shards.Shard | None = config.getoption("policy_shard")
    if shard is None:
        return True
    try:
        relative = file_path.resolve().relative_to(config.rootpath.resolve()).as_posix()
    except ValueError:  # outside the rootdir: its path as given
        relative = file_path.as_posix()
    return shard.includes(relative)


def sharded(config: pytest.Config) -> bool:
    return config.getoption("policy_shard") is not None


# ---------------------------------------------------------------------------------------------
# Known exceptions


def judge(check: model.Check, passed: bool, now: _dt.datetime) -> None:
    """During a check's call: an accepted failure becomes pytest's xfail with the exception's
    note; a pass under an exception warns that the exception is no longer needed. An expired
    exception changes nothing here (the failure says so, :func:`failure_note`)."""
    known = check.exception
    if known is None:
        return
    if passed:
        note = exceptions.exception_result(known, exceptions.ExceptionStatus.UNNEEDED)["note"]
        warnings.warn(
            KnownExceptionWarning(f"{check.file}:{known.loc.line}: {check.case}: {note}"),
            stacklevel=1,
        )
    elif not known.expired(now):
        note = exceptions.exception_result(known, exceptions.ExceptionStatus.ACCEPTED)["note"]
        pytest.xfail(note)


def failure_note(check: model.Check, now: _dt.datetime) -> str | None:
    """The first line of a failure whose case's exception has expired."""
    known = check.exception
    if known is None or not known.expired(now):
        return None
    return str(exceptions.exception_result(known, exceptions.ExceptionStatus.EXPIRED)["note"])


def with_exception(check: model.Check, result: dict[str, Any], now: _dt.datetime) -> dict[str, Any]:
    """A check's result dict with its case's exception applied (see ``exceptions.apply``)."""
    if check.exception is not None:
        exceptions.apply(result, check.exception, now)
    return result


# ---------------------------------------------------------------------------------------------
# The end of the session (controller only)


def finish(
    session: pytest.Session,
    assembled: dict[str, Any],
    write_errors: list[str],
    inputs: Sequence[Path] = (),
) -> None:
    """Write the SARIF file (never onto one of ``inputs``, the files the run read); an empty
    shard is no failure (pytest would exit 5)."""
    config = session.config
    outputs = _outputs(config)
    outputs.results = assembled
    option = config.getoption("policy_sarif")
    if option:
        path = Path(os.path.expanduser(option))
        path = path if path.is_absolute() else config.invocation_params.dir / path
        try:
            results.refuse_input(path, inputs)
            sarif.write_sarif(assembled, path)
            outputs.sarif_path = path
        except OSError as exc:
            write_errors.append(f"cannot write {path}: {exc.strerror or exc}")
    if sharded(config) and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK


def summary(terminalreporter: Any, config: pytest.Config) -> Path | None:
    """Print the workflow commands on GitHub Actions; the SARIF file written, if any."""
    outputs = _outputs(config)
    if outputs.results is not None and workflow.enabled():
        for line in workflow.lines(outputs.results):
            terminalreporter.write_line(line)
    return outputs.sarif_path
