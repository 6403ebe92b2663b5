"""Merging results files: the shards of one run, or several projects' runs, into one results
dict (docs/internals.md, "Results file"); each input is read and validated by
:mod:`runner.results.build`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.results.build import read_results
from runner.results.validate import RESULTS_FORMAT, ResultsError

# ---------------------------------------------------------------------------------------------
# Merging


def policy_key(policy: Mapping[str, Any]) -> tuple[Any, Any]:
    """What identifies a policy across spec files: its file and name."""
    return (policy.get("file"), policy.get("name"))


def specs_of(policy: Mapping[str, Any]) -> list[str]:
    """The spec files that use a policy entry (``specs``, or the one ``spec``)."""
    specs = policy.get("specs")
    if isinstance(specs, list):
        return [str(s) for s in specs]
    spec = policy.get("spec")
    return [str(spec)] if spec is not None else []


def _statement_indexes(policy: Mapping[str, Any]) -> list[Any]:
    return [s.get("index") for s in policy.get("statements", []) if isinstance(s, dict)]


@dataclass(frozen=True, slots=True)
class Source:
    """One input of a merge: a results file and, optionally, the project it comes from (it
    overrides the file's own ``project``)."""

    path: Path
    project: str | None = None


def load_results(paths: Sequence[Path | str | Source]) -> dict[str, Any]:
    """Read and validate results files and merge them into one results dict.

    Inputs of one project (the ``project`` a results file names, or a :class:`Source`'s) are
    shards of one run: their checks and errors are concatenated (an error reported identically
    by two files is kept once), their policy inventories united (a policy is identified by its
    file and name); a check id found in two inputs, or a policy whose statements differ, is an
    error: the same results given twice, or results of different projects under one name.
    Inputs of several projects stay apart: each one's spec files, policy files and check ids
    are written under its project's name (``repo-a/specs/prod.yaml``).

    ``generated`` is the latest date, ``duration`` the sum, ``command`` and ``versions`` are
    kept when they agree and joined with ``" | "`` otherwise; ``sources`` lists the files read,
    ``projects`` the projects when there are several. Raises :class:`ResultsError` for a
    missing, invalid or repeated input.
    """
    sources = [p if isinstance(p, Source) else Source(Path(p)) for p in paths]
    if not sources:
        raise ResultsError("no results file given")
    loaded: list[tuple[str, str | None, dict[str, Any]]] = []
    given: dict[str, str] = {}
    for source in sources:
        real = os.path.realpath(source.path)
        if real in given:
            raise ResultsError(f"{source.path}: given twice (as {given[real]} too)")
        given[real] = str(source.path)
        data = read_results(Path(source.path))
        project = source.project or data.get("project")
        loaded.append((str(source.path), project if isinstance(project, str) else None, data))
    if len(loaded) == 1:
        single = dict(loaded[0][2])
        single.setdefault("sources", [loaded[0][0]])
        return single
    _refuse_duplicates(loaded)
    projects = list(dict.fromkeys(project for _, project, _ in loaded))
    if len(projects) > 1:
        loaded = [
            (source, project, _in_project(data, project or "unnamed"))
            for source, project, data in loaded
        ]
    merged = _merge((source, data) for source, _, data in loaded)
    if len(projects) > 1:
        merged["projects"] = [p or "unnamed" for p in projects]
    return merged


def _refuse_duplicates(loaded: Sequence[tuple[str, str | None, dict[str, Any]]]) -> None:
    """Within one project: no check id twice, no policy with two different statement lists."""
    check_at: dict[tuple[str | None, str], str] = {}
    policy_at: dict[tuple[str | None, Any, Any], tuple[str, str]] = {}
    advice = (
        "the same results given twice? Results of different projects stay apart when "
        "each is named: python -m runner report NAME=RESULTS.json ..."
    )
    for source, project, data in loaded:
        for check in data.get("checks", []):
            key = (project, check["id"])
            other = check_at.setdefault(key, source)
            if other != source:
                raise ResultsError(f"{source}: check {check['id']} is also in {other}: {advice}")
        for policy in data.get("policies", []):
            pkey = (project, *policy_key(policy))
            statements = json.dumps(policy.get("statements", []), sort_keys=True)
            first = policy_at.setdefault(pkey, (source, statements))
            if first[1] != statements:
                raise ResultsError(
                    f"{source}: policy {policy.get('name')} ({policy.get('file')}) has other "
                    f"statements than in {first[0]}: {advice}"
                )


def _under(project: str, value: object) -> object:
    return f"{project}/{value}" if isinstance(value, str) else value


def _in_project(data: Mapping[str, Any], project: str) -> dict[str, Any]:
    """``data`` with every spec file, policy file and check id under ``project``'s name (and
    the statements that checks point at, so that statement coverage stays per project)."""

    def placed(entry: Mapping[str, Any], *keys: str) -> dict[str, Any]:
        out = dict(entry)
        for key in keys:
            if key in out:
                out[key] = _under(project, out[key])
        return out

    def step(entry: Any) -> Any:
        if not isinstance(entry, dict) or not isinstance(entry.get("explanation"), dict):
            return entry
        explanation = dict(entry["explanation"])
        for key in ("decisive", "policies"):
            if isinstance(explanation.get(key), list):
                explanation[key] = [
                    placed(e, "file") if isinstance(e, dict) else e for e in explanation[key]
                ]
        return {**entry, "explanation": explanation}

    out = dict(data)
    out["checks"] = [
        {**placed(c, "id", "file"), "steps": [step(s) for s in c.get("steps") or []]}
        for c in data.get("checks", [])
    ]
    for key in ("errors", "warnings"):
        if key in data:
            out[key] = [placed(e, "file") for e in data[key]]
    out["policies"] = [
        {
            **placed(p, "file", "spec"),
            **(
                {"specs": [_under(project, s) for s in p["specs"]]}
                if isinstance(p.get("specs"), list)
                else {}
            ),
        }
        for p in data.get("policies", [])
    ]
    selection = data.get("selection")
    if isinstance(selection, dict) and isinstance(selection.get("deselected_by_file"), dict):
        by_file = {str(_under(project, f)): n for f, n in selection["deselected_by_file"].items()}
        out["selection"] = {**selection, "deselected_by_file": by_file}
    return out


def _merge(loaded: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    checks: list[Any] = []
    errors: list[Any] = []
    warnings: list[Any] = []
    seen: set[str] = set()
    policies: dict[tuple[Any, Any, str], dict[str, Any]] = {}
    generated: list[str] = []
    duration = 0.0
    evaluated_at: list[str] = []
    commands: list[str] = []
    versions: dict[str, list[str]] = {}
    sources: list[str] = []
    selections: list[Mapping[str, Any]] = []
    for source, data in loaded:
        sources.extend(data.get("sources") or [source])
        if isinstance(data.get("selection"), dict):
            selections.append(data["selection"])
        checks.extend(data.get("checks", []))
        for key, into in (("errors", errors), ("warnings", warnings)):
            for entry in data.get(key, []):
                entry_key = key + json.dumps(entry, sort_keys=True)
                if entry_key not in seen:
                    seen.add(entry_key)
                    into.append(entry)
        for policy in data.get("policies", []):
            # statements are identified by (file, name, index): one entry per such policy
            pkey = (*policy_key(policy), json.dumps(_statement_indexes(policy)))
            if pkey in policies:
                merged = policies[pkey]
                specs = merged.setdefault("specs", specs_of(merged))
                for spec in specs_of(policy):
                    if spec not in specs:
                        specs.append(spec)
            else:
                policies[pkey] = dict(policy)
        if isinstance(data.get("generated"), str):
            generated.append(data["generated"])
        if isinstance(data.get("duration"), int | float):
            duration += float(data["duration"])
        at = data.get("evaluated_at")
        if isinstance(at, str) and at not in evaluated_at:
            evaluated_at.append(at)
        if isinstance(data.get("command"), str) and data["command"] not in commands:
            commands.append(data["command"])
        for name, version in (data.get("versions") or {}).items():
            known = versions.setdefault(str(name), [])
            if str(version) not in known:
                known.append(str(version))
    merged_results: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "generated": max(generated) if generated else None,
        "duration": duration,
        "evaluated_at": " | ".join(evaluated_at) if evaluated_at else None,
        "command": " | ".join(commands) if commands else None,
        "versions": {name: " | ".join(v) for name, v in versions.items()},
        "sources": sources,
        "checks": checks,
        "errors": errors,
        "policies": list(policies.values()),
    }
    if warnings:
        merged_results["warnings"] = warnings
    if selections:
        merged_results["selection"] = merge_selections(selections)
    return merged_results


def merge_selections(selections: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One ``selection`` for several partial runs: the deselected checks added up, by file."""
    by_file: dict[str, int] = {}
    how: list[str] = []
    for selection in selections:
        for file, n in (selection.get("deselected_by_file") or {}).items():
            by_file[str(file)] = by_file.get(str(file), 0) + int(n)
        how.extend(h for h in selection.get("how") or () if h not in how)
    return {"deselected": sum(by_file.values()), "deselected_by_file": by_file, "how": how}
