"""The HTML report: one self-contained page from a results dict.

``render_report`` turns a results dict (the "Results file" of docs/internals.md) into one
self-contained HTML page: summary, collection errors, failed checks, decision matrices, statement
coverage and a filterable list of every check with its explanation. The page carries the check
data once, as JSON in a ``<script type="application/json">`` element, compacted (a string table
and a pool of shared explanation parts, see ``_Encoder``); small vanilla JavaScript draws the
matrices and the list from it, and a check's details only when asked for. This is the only
module that imports jinja2; the template autoescapes everything it prints.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from runner import results as results_format
from runner.model import Outcome, PolicyKind
from runner.speed import collector_paused
from runner.text import kind_label

__all__ = ["absent_keys", "check_anchor", "coverage", "render_report", "write_report"]

OUTCOMES = tuple(o.value for o in Outcome)
#: The outcomes listed under "Failed checks" (an accepted known exception is listed apart).
_BAD = (Outcome.FAILED.value, Outcome.ERROR.value)

#: Failed checks listed in the page itself (the interactive list holds all of them).
FAILED_LISTED = 50

_TEMPLATES = Path(__file__).parent / "templates"

#: Column order of a check row in the embedded data (the page's JavaScript reads it from there).
_CHECK_COLUMNS = (
    "id",
    "anchor",
    "file",
    "line",
    "case",
    "case_index",
    "principal",
    "principal_arn",
    "resource",
    "resource_arn",
    "action",
    "expected",
    "decision",
    "outcome",
    "context",
    "steps",
    "other",
    "registry",
    "universal",
)

#: Check fields the page shows in their own places (``passed`` through ``outcome``); any other
#: field is shown under "other" (a universal check's fields only when they have their form).
_CHECK_KEYS = frozenset(_CHECK_COLUMNS) - {"anchor", "other", "registry", "universal"} | {"passed"}

#: A universal check's fields (spec-format.md, "Outside pytest") and the type each must have to
#: be shown in the check's "Universal check" and "Witness" blocks.
_UNIVERSAL_FIELDS: dict[str, type] = {"universal": dict, "witness": dict, "witness_summary": str}

#: The end of the "who, with which context" part of a witness summary: "ACTION is VERDICT: ".
_SUMMARY_VERDICT = re.compile(r": \S+ is (?:allowed|explicitly denied|implicitly denied): ")
#: The last "KEY absent" item of that part (a condition key names its service: ``aws:...``).
_SUMMARY_ABSENT = re.compile(r", (with )?([A-Za-z0-9-]+:[^,=\s][^,=]*) absent$")


#: Check fields the list of failed checks prints (a missing one prints as nothing).
_SHOWN_FAILED = (
    "principal",
    "action",
    "resource",
    "expected",
    "decision",
    "outcome",
    "file",
    "line",
    "case",
)


# ---------------------------------------------------------------------------------------------
# Statement coverage


def _statement_keys(explanation: object) -> Iterable[tuple[Any, Any, Any]]:
    if isinstance(explanation, dict):
        for entry in explanation.get("decisive") or ():
            if isinstance(entry, dict):
                yield (entry.get("file"), entry.get("policy"), entry.get("index"))


def _decided_counts(checks: Iterable[Mapping[str, Any]]) -> dict[tuple[Any, Any, Any], int]:
    """How many checks each statement (file, policy name, index) decided."""
    counts: dict[tuple[Any, Any, Any], int] = {}
    for check in checks:
        keys: set[tuple[Any, Any, Any]] = set()
        for step in check.get("steps") or ():
            if isinstance(step, dict):
                keys.update(_statement_keys(step.get("explanation")))
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    return counts


def coverage(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Statement coverage: one entry per policy of ``results["policies"]`` (deduplicated by
    file and name), each statement with ``checks``, the number of checks it decided (it is in
    ``decisive`` of at least one step of the check). Ordered by file, name.

    After a partial run (``results["selection"]``: checks deselected by ``-k``, ``--lf``...),
    a policy used by a spec file that lost checks is ``partial``: its statements that decided
    nothing may be decided by the checks left out, so none of them counts as ``untested``."""
    return _coverage(results, _decided_counts(results.get("checks", [])))


def _coverage(
    results: Mapping[str, Any], counts: Mapping[tuple[Any, Any, Any], int]
) -> list[dict[str, Any]]:
    merged: dict[tuple[Any, Any], dict[str, Any]] = {}
    selection = results.get("selection")
    cut = selection.get("deselected_by_file") if isinstance(selection, dict) else None
    partial_files = set(cut) if isinstance(cut, dict) else set()
    for policy in results.get("policies", []):
        key = results_format.policy_key(policy)
        entry = merged.get(key)
        if entry is None:
            entry = merged[key] = {
                "name": policy.get("name"),
                "kind": policy.get("kind"),
                "file": policy.get("file"),
                "line": policy.get("line"),
                "specs": [],
                "statements": {},
            }
        for spec in results_format.specs_of(policy):
            if spec not in entry["specs"]:
                entry["specs"].append(spec)
        for stmt in policy.get("statements", []):
            if isinstance(stmt, dict) and stmt.get("index") not in entry["statements"]:
                entry["statements"][stmt.get("index")] = stmt
    out: list[dict[str, Any]] = []
    for (file, name), entry in sorted(
        merged.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))
    ):
        statements = []
        for index, stmt in sorted(entry["statements"].items(), key=lambda kv: _num(kv[0])):
            statements.append(
                {
                    "index": index,
                    "sid": stmt.get("sid"),
                    "effect": stmt.get("effect"),
                    "line": stmt.get("line"),
                    "checks": counts.get((file, name, index), 0),
                }
            )
        entry["statements"] = statements
        entry["specs"] = sorted(entry["specs"])  # the order results arrived in must not show
        entry["partial"] = any(spec in partial_files for spec in entry["specs"])
        entry["untested"] = 0 if entry["partial"] else sum(1 for s in statements if not s["checks"])
        entry["label"] = kind_label(entry["kind"])
        out.append(entry)
    return out


def _num(value: object) -> tuple[int, str]:
    return (value, "") if isinstance(value, int) else (1 << 30, str(value))


# ---------------------------------------------------------------------------------------------
# The embedded data


class _Encoder:
    """Compacts check results for the page.

    Repeated strings (file, principal, ARNs, actions, decisions) go to a string table ``S``;
    explanation parts that repeat across checks (request contexts, gate lists, policy entries,
    decisive lists, whole explanations without their request) go once to a pool ``P`` and are
    referred to by index. Nothing is dropped: the page's JavaScript puts every part back.
    """

    def __init__(self) -> None:
        self.strings: list[str] = []
        self._string_ids: dict[str, int] = {}
        self.pool: list[Any] = []
        self._pool_ids: dict[bytes | str, int] = {}
        self.decisive_keys: dict[int, list[tuple[Any, Any, Any]]] = {}
        self._json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def s(self, value: object) -> int | None:
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        sid = self._string_ids.get(text)
        if sid is None:
            sid = self._string_ids[text] = len(self.strings)
            self.strings.append(text)
        return sid

    def ref(self, value: object) -> int:
        key: bytes | str
        try:
            # marshal version 2 writes no references and no interning flags: equal JSON values
            # give equal bytes, and it is several times faster than json.dumps
            key = marshal.dumps(value, 2)  # type: ignore[arg-type]  # JSON values marshal
        except ValueError:  # not a built-in type; json.dumps copes (or fails loudly)
            key = self._json(value)
        pid = self._pool_ids.get(key)
        if pid is None:
            pid = self._pool_ids[key] = len(self.pool)
            self.pool.append(value)
        return pid

    def explanation(self, expl: object) -> tuple[list[Any] | None, int]:
        """``(request, core)``: the request as a row, the rest as a pool reference."""
        if not isinstance(expl, dict):
            return None, self.ref(expl)
        core = dict(expl)
        request_row: list[Any] | None = None
        request = core.pop("request", None)
        if isinstance(request, dict):
            ctx = request.get("context")
            request_row = [
                self.s(request.get("principal")),
                self.s(request.get("principal_type")),
                self.s(request.get("action")),
                self.s(request.get("resource")),
                self.ref(ctx) if ctx is not None else None,
            ]
            extra = {
                k: v
                for k, v in request.items()
                if k not in ("principal", "principal_type", "action", "resource", "context")
            }
            if extra:
                request_row.append(extra)
        elif request is not None:
            core["request"] = request
        gates = core.get("gates")
        if isinstance(gates, list):
            core["gates"] = self.ref(gates)
        policies = core.get("policies")
        if isinstance(policies, list):
            core["policies"] = [self.ref(p) for p in policies]
        decisive = core.get("decisive")
        if isinstance(decisive, list):
            did = self.ref(decisive)
            core["decisive"] = did
            if did not in self.decisive_keys:
                self.decisive_keys[did] = list(_statement_keys({"decisive": decisive}))
        return request_row, self.ref(core)

    def check(self, check: Mapping[str, Any], anchor: str) -> tuple[list[Any], set[int]]:
        """The check as a row of ``_CHECK_COLUMNS`` and the decisive lists its steps used."""
        steps: list[Any] = []
        decisive: set[int] = set()
        for step in check.get("steps") or ():
            if not isinstance(step, dict):
                steps.append([None, None, None, self.ref(step)])
                continue
            request_row, core = self.explanation(step.get("explanation"))
            row: list[Any] = [
                self.s(step.get("action")),
                self.s(step.get("decision")),
                request_row,
                core,
            ]
            extra = {
                k: v for k, v in step.items() if k not in ("action", "decision", "explanation")
            }
            if extra:
                row.append(extra)
            steps.append(row)
            pooled = self.pool[core]
            if isinstance(pooled, dict) and isinstance(pooled.get("decisive"), int):
                decisive.add(pooled["decisive"])
        context = check.get("context")
        universal = _universal_view(check)
        shown = _CHECK_KEYS | universal.keys() if universal else _CHECK_KEYS
        other = {k: v for k, v in check.items() if k not in shown}
        check_row: list[Any] = [
            check["id"],
            anchor,
            self.s(check.get("file")),
            check.get("line"),
            self.s(check.get("case")),
            check.get("case_index"),
            self.s(check.get("principal")),
            self.s(check.get("principal_arn")),
            self.s(check.get("resource")),
            self.s(check.get("resource_arn")),
            self.s(check.get("action")),
            self.s(check.get("expected")),
            self.s(check.get("decision")),
            self.s(check.get("outcome")),
            self.ref(context) if context else None,
            steps,
            other or None,
            # an account-level action: shown on the registry, not on the repository named
            results_format.on_registry(check),
            universal,
        ]
        return check_row, decisive


def absent_keys(summary: str) -> list[str]:
    """The request context keys a witness summary lists as absent (``..., with aws:SourceIp =
    10.0.0.1, aws:PrincipalOrgID absent: ecr:BatchGetImage is allowed: ...``), in its order;
    none when the summary does not have that form. The ``witness`` field leaves them out."""
    verdict = _SUMMARY_VERDICT.search(summary)
    if verdict is None:
        return []
    head = summary[: verdict.start()]
    keys: list[str] = []
    while (item := _SUMMARY_ABSENT.search(head)) is not None:
        keys.insert(0, item.group(2))
        head = head[: item.start()]
        if item.group(1):  # the first item of the list
            return keys
    # after the keys shown with their values, or not the list that follows "with" at all
    return keys if ", with " in head else []


def _universal_view(check: Mapping[str, Any]) -> dict[str, Any] | None:
    """A universal check's fields for its blocks in the details (those of their form), and the
    keys its witness summary says are absent; None for an ordinary check."""
    view = {k: check[k] for k, kind in _UNIVERSAL_FIELDS.items() if isinstance(check.get(k), kind)}
    if not view:
        return None
    summary = view.get("witness_summary")
    if summary is not None:
        absent = absent_keys(summary)
        if absent:
            view["absent"] = absent
    return view


def _sort_key(check: Mapping[str, Any]) -> tuple[str, str]:
    # The id names the file first; ordering by id alone makes the page independent of the
    # order results arrived in (pytest -n N).
    return (str(check.get("id")), json.dumps(check, sort_keys=True, default=str))


def check_anchor(check_id: str) -> str:
    """The HTML id of a check's entry in the page: stable for a given check id."""
    digest = hashlib.sha1(check_id.encode("utf-8")).hexdigest()[:10]
    return f"check-{digest}"


def _sorted_checks(checks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    ids = [c["id"] for c in checks]
    if len(set(ids)) == len(ids):
        return sorted(checks, key=lambda c: str(c["id"]))
    return sorted(checks, key=_sort_key)


def _fmt_duration(value: object) -> str | None:
    if not isinstance(value, int | float):
        return None
    seconds = float(value)
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, sec = divmod(seconds, 60)
    return f"{int(minutes)} min {sec:.0f} s"


def _json_for_script(value: object) -> str:
    """JSON that can sit inside ``<script type="application/json">``: no ``<`` at all, so
    neither ``</script>`` nor ``<!--`` can appear; ``>`` and ``&`` escaped as well."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _located(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``errors`` or ``warnings`` entries in file order."""
    return sorted(
        ({k: e.get(k) for k in ("file", "line", "col", "message")} for e in entries),
        key=lambda e: (str(e["file"]), _num(e["line"]), _num(e["col"])),
    )


def _page_data(results: Mapping[str, Any]) -> dict[str, Any]:
    checks = _sorted_checks(results.get("checks", []))
    enc = _Encoder()
    rows: list[list[Any]] = []
    counts: dict[tuple[Any, Any, Any], int] = {}
    used: dict[str, int] = {}
    by_file: dict[str, dict[str, Any]] = {}
    failed: list[dict[str, Any]] = []
    exceptions: list[dict[str, Any]] = []  # checks whose case carries a known exception
    totals = dict.fromkeys(OUTCOMES, 0)
    for check in checks:
        anchor = check_anchor(check["id"])
        n = used.get(anchor, 0)
        used[anchor] = n + 1
        if n:
            anchor = f"{anchor}-{n + 1}"
        row, decisive = enc.check(check, anchor)
        rows.append(row)
        keys = {k for d in decisive for k in enc.decisive_keys.get(d, ())}
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        outcome = check["outcome"]
        totals[outcome] += 1
        file = str(check.get("file"))
        stats = by_file.get(file)
        if stats is None:
            stats = by_file[file] = {"file": file, **dict.fromkeys(OUTCOMES, 0)}
        stats[outcome] += 1
        if isinstance(check.get("exception"), dict):
            exceptions.append({"check": check["id"], "anchor": anchor, **check["exception"]})
        if outcome in _BAD:
            shown = {k: check.get(k) for k in _SHOWN_FAILED}
            shown["registry"] = results_format.on_registry(check)
            failed.append({"check": shown, "anchor": anchor, "id": check["id"]})
    # in file order, as a person reads the specs (the list of all checks is by id)
    failed.sort(key=lambda f: (str(f["check"]["file"]), _num(f["check"]["line"]), str(f["id"])))
    del failed[FAILED_LISTED:]
    errors = _located(results.get("errors", []))
    warnings = _located(results.get("warnings", []))
    for error in errors:
        file = str(error.get("file"))
        stats = by_file.setdefault(file, {"file": file, **dict.fromkeys(OUTCOMES, 0)})
        stats["collection"] = stats.get("collection", 0) + 1
    cov = _coverage(results, counts)
    files = [by_file[f] for f in sorted(by_file)]
    for i, stats in enumerate(files):
        stats["total"] = sum(stats[o] for o in OUTCOMES)
        stats["collection"] = stats.get("collection", 0)
        stats["section"] = f"file-{i}"
    data = {
        "format": "policyspec-report/1",
        "columns": list(_CHECK_COLUMNS),
        "kinds": {kind.value: kind.label for kind in PolicyKind},
        "files": [f["file"] for f in files],
        "S": enc.strings,
        "P": enc.pool,
        "checks": rows,
    }
    statements = sum(len(p["statements"]) for p in cov if not p["partial"])
    untested = [
        {"policy": p, "statement": s}
        for p in cov
        if not p["partial"]
        for s in p["statements"]
        if not s["checks"]
    ]
    selection = results.get("selection")
    deselected = selection.get("deselected") if isinstance(selection, dict) else None
    versions = results.get("versions")
    return {
        "generated": results.get("generated"),
        "duration": _fmt_duration(results.get("duration")),
        "evaluated_at": results.get("evaluated_at"),
        "command": results.get("command"),
        "versions": sorted(versions.items()) if isinstance(versions, dict) else [],
        "sources": results.get("sources") or [],
        "totals": totals,
        "total": len(checks),
        "files": files,
        "errors": errors,
        "warnings": warnings,
        "deselected": deselected if isinstance(deselected, int) and deselected > 0 else 0,
        "selected_by": (selection.get("how") or []) if isinstance(selection, dict) else [],
        "partial_policies": sum(1 for p in cov if p["partial"]),
        "projects": results.get("projects") or [],
        "failed": failed,
        "failed_more": totals["failed"] + totals["error"] - len(failed),
        "exceptions": sorted(exceptions, key=lambda e: str(e["check"])),
        "coverage": cov,
        "statements": statements,
        "untested": untested,
        "data_json": Markup(_json_for_script(data)),
    }


# ---------------------------------------------------------------------------------------------
# Rendering


_env: jinja2.Environment | None = None
_assets: dict[str, Markup] = {}


def _environment() -> jinja2.Environment:
    global _env
    if _env is None:
        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        for name in ("report.css", "report.js"):
            # trusted files of this package, inlined as they are
            _assets[name] = Markup((_TEMPLATES / name).read_text(encoding="utf-8"))
    return _env


def render_report(results: dict[str, Any]) -> str:
    """The report page for ``results`` (a results dict), as HTML text. Deterministic: the same
    checks, errors and policies in any order give the same page."""
    results_format.validate_results(results)
    template = _environment().get_template("report.html.j2")
    # Encoding allocates a great many small containers and frees none of them: the cyclic
    # collector would only walk them again and again (it doubled the time for 20,000 checks).
    with collector_paused():
        page = _page_data(results)
    return template.render(css=_assets["report.css"], js=_assets["report.js"], **page)


def write_report(results: dict[str, Any], path: Path) -> None:
    """Write the report page for ``results`` to ``path`` as ``results.write_text`` writes an
    output file (parent folders are created; a pipe or device is written to, not replaced)."""
    results_format.write_text(Path(path), render_report(results))
