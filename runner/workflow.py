"""GitHub Actions workflow commands: each finding of a run as an annotation on its line.

When ``GITHUB_ACTIONS=true`` (set by GitHub on every Actions runner), the pytest plugin (at the
end of the run, on the controller) and ``python -m runner eval`` print one line per finding of
:func:`runner.sarif.findings`: ``::error file=...,line=...,col=...,title=...::message``
(``::warning`` for warnings and exceptions no longer needed, ``::notice`` for a failure that a
known exception accepts). The values are escaped as the workflow command syntax requires:
in the message ``%``, CR and LF; in a property also ``:`` and ``,``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner.sarif import Finding

# runner.sarif (with hashlib) is imported where findings are made: `runner eval` and the
# plugin ask enabled() in every run, outside GitHub Actions too (about 23M instructions,
# callgrind).

#: The workflow command for each SARIF level (runner.sarif.Level, a StrEnum, by its value).
COMMANDS = {"error": "error", "warning": "warning", "note": "notice"}


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs in a GitHub Actions job."""
    env = os.environ if environ is None else environ
    return env.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """A command's message: ``%`` first, then CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value: as the message, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(
    name: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> str:
    """One workflow command line, e.g. ``::error file=a.yaml,line=3,title=x::message``."""
    props: list[str] = []
    if file:
        props.append(f"file={escape_property(file.replace(os.sep, '/'))}")
        if line:
            props.append(f"line={line}")
            if col:
                props.append(f"col={col}")
    if title:
        props.append(f"title={escape_property(title)}")
    head = f"::{name} {','.join(props)}" if props else f"::{name}"
    return f"{head}::{escape_data(message)}"


def finding_command(finding: Finding) -> str:
    """The workflow command of one finding, at its primary place (the deciding statement or
    the spec case); the message names the spec case when the place is elsewhere."""
    if finding.suppressed is not None:
        name = COMMANDS["note"]
        title = f"policyspec: {finding.rule.info.title} (accepted)"
        message = f"{finding.message} ({finding.suppressed})"
    else:
        name = COMMANDS[finding.level.value]
        title = f"policyspec: {finding.rule.info.title}"
        message = finding.message
    if finding.case_place is not None:
        message += f" [case at {finding.case_place}]"
    place = finding.place
    return command(
        name, message, file=place.file or None, line=place.line, col=place.col, title=title
    )


def lines(results: Mapping[str, Any]) -> list[str]:
    """Every finding of a results dict as a workflow command, in the order of the SARIF log."""
    from runner.sarif import findings

    return [finding_command(f) for f in findings(results)]


def write(out: TextIO, commands: Iterable[str]) -> None:
    """Print workflow commands to ``out`` (a text stream), one per line."""
    for line in commands:
        out.write(line + "\n")
