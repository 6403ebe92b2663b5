"""The HTML report and the results file: what a reader of the page and a CI job would notice."""

from __future__ import annotations

import copy
import html
import importlib.util
import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner import report
from runner import results as results_format
from runner.cli import report_main

ROOT = Path(__file__).resolve().parent.parent

HOSTILE_PRINCIPAL = "<script>alert(1)</script>"
HOSTILE_SID = "Deny\"Everything'</script><!--"
HOSTILE_POLICY = "repo '\"<b>policy</b>"
HOSTILE_VALUE = "</script><script>alert(2)</script>"
HOSTILE_CASE = 'case </SCRIPT ><!-- \u2028 & "quoted"'


def _decisive(policy: str, file: str, index: int, sid: str | None, effect: str) -> dict[str, Any]:
    kind = "resource" if file.startswith("policies/repo") else "identity"
    return {
        "policy": policy,
        "kind": kind,
        "file": file,
        "index": index,
        "sid": sid,
        "effect": effect,
    }


def _explanation(decision: str, action: str, decisive: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "decision": decision,
        "gate": "resource" if decision == "explicit-deny" else "identity",
        "reason": f"{decision} for {action}",
        "request": {
            "principal": "arn:aws:sts::111122223333:assumed-role/ci/ci",
            "principal_type": "AssumedRole",
            "action": action,
            "resource": "arn:aws:ecr:us-east-1:111122223333:repository/prod/app",
            "context": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5"], "aws:SourceIp": [HOSTILE_VALUE]},
        },
        "gates": [{"gate": "scp", "result": "allow", "note": "FullAWSAccess allows"}],
        "policies": [
            {
                "name": HOSTILE_POLICY,
                "kind": "resource",
                "file": "policies/repo.json",
                "line": 1,
                "statements": [
                    {
                        "index": 1,
                        "sid": HOSTILE_SID,
                        "effect": "Deny",
                        "line": 12,
                        "matched": decision == "explicit-deny",
                        "note": "conditions match",
                        "conditions": [
                            {
                                "operator": "StringNotEquals",
                                "key": "aws:PrincipalOrgID",
                                "expected": ["o-zzz"],
                                "actual": ["o-a1b2c3d4e5"],
                                "result": True,
                            }
                        ],
                    }
                ],
                "unmatched_by_action": 1,
            }
        ],
        "decisive": decisive,
    }


def _check(
    n: int,
    *,
    principal: str = "ci",
    action: str = "ecr:PutImage",
    expected: str = "allow",
    decision: str = "allow",
    steps: list[tuple[str, str, list[dict[str, Any]]]] | None = None,
    resource: str | None = "prod",
    outcome: str | None = None,
) -> dict[str, Any]:
    steps = steps if steps is not None else [(action, decision, [])]
    passed = expected == decision or (expected == "deny" and decision != "allow")
    return {
        "id": f"specs/prod.yaml::{HOSTILE_CASE}[{principal}-{n}]",
        "file": "specs/prod.yaml",
        "line": 10 + n,
        "case": HOSTILE_CASE,
        "case_index": n,
        "principal": principal,
        "principal_arn": "arn:aws:sts::111122223333:assumed-role/ci/ci",
        "resource": resource,
        "resource_arn": (
            "arn:aws:ecr:us-east-1:111122223333:repository/prod/app" if resource else None
        ),
        "action": action,
        "expected": expected,
        "decision": decision,
        "passed": passed,
        "outcome": outcome or ("passed" if passed else "failed"),
        "context": {"aws:SourceIp": [HOSTILE_VALUE]} if n % 2 else {},
        "steps": [
            {"action": a, "decision": d, "explanation": _explanation(d, a, dec)}
            for a, d, dec in steps
        ],
    }


ALLOW_PULL = _decisive("identity-ci", "policies/identity-ci.json", 0, "AllowPull", "Allow")
ALLOW_PUSH = _decisive("identity-ci", "policies/identity-ci.json", 1, "AllowPush", "Allow")
DENY_ALL = _decisive(HOSTILE_POLICY, "policies/repo.json", 1, HOSTILE_SID, "Deny")


def sample_results() -> dict[str, Any]:
    """Four checks, one failed; statement AllowPull decides two checks (one of them in two
    steps), AllowPush one, the hostile Deny one; statement 2 of the repo policy none."""
    return {
        "format": "policyspec-results/1",
        "generated": "2026-11-30T04:10:00Z",
        "duration": 1.5,
        "command": "pytest specs/",
        "versions": {"policyspec": "0.1.0", "python": "3.11.7", "pytest": "9.2.0"},
        "checks": [
            _check(
                0,
                action="pull",
                steps=[
                    ("ecr:BatchGetImage", "allow", [ALLOW_PULL]),
                    ("ecr:GetDownloadUrlForLayer", "allow", [ALLOW_PULL]),
                ],
            ),
            _check(
                1, action="ecr:BatchGetImage", steps=[("ecr:BatchGetImage", "allow", [ALLOW_PULL])]
            ),
            _check(
                2,
                principal=HOSTILE_PRINCIPAL,
                action="ecr:PutImage",
                expected="allow",
                decision="explicit-deny",
                steps=[("ecr:PutImage", "explicit-deny", [DENY_ALL])],
            ),
            _check(3, action="ecr:PutImage", steps=[("ecr:PutImage", "allow", [ALLOW_PUSH])]),
            _check(
                4,
                action="ecr:GetAuthorizationToken",
                resource=None,
                expected="implicit-deny",
                decision="implicit-deny",
                steps=[("ecr:GetAuthorizationToken", "implicit-deny", [])],
            ),
        ],
        "errors": [
            {
                "file": "specs/bad.yaml",
                "line": 3,
                "col": 5,
                "message": "unknown key 'principles'; did you mean 'principals'? " + HOSTILE_VALUE,
            },
        ],
        "policies": [
            {
                "name": "identity-ci",
                "kind": "identity",
                "file": "policies/identity-ci.json",
                "line": 1,
                "spec": "specs/prod.yaml",
                "statements": [
                    {"index": 0, "sid": "AllowPull", "effect": "Allow", "line": 4},
                    {"index": 1, "sid": "AllowPush", "effect": "Allow", "line": 10},
                ],
            },
            {
                "name": HOSTILE_POLICY,
                "kind": "resource",
                "file": "policies/repo.json",
                "line": 1,
                "spec": "specs/prod.yaml",
                "statements": [
                    {"index": 0, "sid": "AllowOrg", "effect": "Allow", "line": 4},
                    {"index": 1, "sid": HOSTILE_SID, "effect": "Deny", "line": 12},
                    {"index": 2, "sid": "NeverUsedSid", "effect": "Allow", "line": 20},
                ],
            },
        ],
    }


def esc(text: str) -> str:
    """Text as the template's autoescaping writes it."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def embedded_data(page: str) -> dict[str, Any]:
    m = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', page, re.DOTALL
    )
    assert m, "no embedded data"
    data = json.loads(m.group(1))
    assert isinstance(data, dict)
    return data


def decode_checks(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rebuild the check result dicts from the compact page data, as the page's script does."""
    strings, pool, cols = data["S"], data["P"], data["columns"]

    def s(i: int | None) -> str | None:
        return None if i is None else strings[i]

    def explanation(req: list[Any] | None, core_ref: int) -> Any:
        core = pool[core_ref]
        if not isinstance(core, dict):
            return core
        out = dict(core)
        if req is not None:
            request = {
                "principal": s(req[0]),
                "principal_type": s(req[1]),
                "action": s(req[2]),
                "resource": s(req[3]),
            }
            if req[4] is not None:
                request["context"] = pool[req[4]]
            if len(req) > 5:
                request.update(req[5])
            out["request"] = request
        for key in ("gates", "decisive"):
            if isinstance(out.get(key), int):
                out[key] = pool[out[key]]
        if isinstance(out.get("policies"), list):
            out["policies"] = [pool[p] for p in out["policies"]]
        return out

    out = []
    for row in data["checks"]:
        r = dict(zip(cols, row, strict=True))
        check = {
            "id": r["id"],
            "file": s(r["file"]),
            "line": r["line"],
            "case": s(r["case"]),
            "case_index": r["case_index"],
            "principal": s(r["principal"]),
            "principal_arn": s(r["principal_arn"]),
            "resource": s(r["resource"]),
            "resource_arn": s(r["resource_arn"]),
            "action": s(r["action"]),
            "expected": s(r["expected"]),
            "decision": s(r["decision"]),
            "outcome": s(r["outcome"]),
            "context": pool[r["context"]] if r["context"] is not None else {},
            "steps": [
                {
                    "action": s(st[0]),
                    "decision": s(st[1]),
                    "explanation": explanation(st[2], st[3]),
                    **(st[4] if len(st) > 4 else {}),
                }
                for st in r["steps"]
            ],
        }
        check["passed"] = check["outcome"] == "passed"
        check.update(r["other"] or {})
        # a universal check's fields, shown in their own blocks (``absent`` is read from the
        # witness summary, not a field of the result)
        check.update({k: v for k, v in (r["universal"] or {}).items() if k != "absent"})
        out.append(check)
    return out


def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_report", ROOT / "benchmarks" / "bench_report.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}"')
    return page[start : page.index("</section>", start)]


# ---------------------------------------------------------------------------------------------
# Escaping


def test_hostile_text_never_becomes_markup() -> None:
    page = report.render_report(sample_results())
    # the two script elements of the page, and no other
    assert len(re.findall(r"<script", page, re.IGNORECASE)) == 2
    assert len(re.findall(r"</script", page, re.IGNORECASE)) == 2
    assert "<!--" not in page
    assert "<b>policy</b>" not in page
    # the text is there, escaped, where the page prints it
    assert esc(HOSTILE_PRINCIPAL) in _section(page, "failed")
    coverage = _section(page, "coverage")
    assert esc(HOSTILE_POLICY) in coverage
    assert esc(HOSTILE_SID) in coverage
    assert esc(HOSTILE_VALUE) in _section(page, "errors")
    assert html.unescape(esc(HOSTILE_SID)) == HOSTILE_SID


def test_embedded_json_cannot_break_out_and_keeps_the_text() -> None:
    page = report.render_report(sample_results())
    start = page.index('<script type="application/json" id="report-data">')
    raw = page[start : page.index("</script>", start)]
    assert "<" not in raw.split(">", 1)[1]
    assert "\u2028" not in raw
    data = embedded_data(page)
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            found.update(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(data)
    for text in (HOSTILE_PRINCIPAL, HOSTILE_SID, HOSTILE_POLICY, HOSTILE_VALUE, HOSTILE_CASE):
        assert text in found


def test_page_data_keeps_every_field_of_every_check() -> None:
    results = sample_results()
    results["checks"][1]["message"] = "an extra field the plugin may add"
    results["checks"][1]["steps"][0]["note"] = "extra step field"
    page = report.render_report(results)
    decoded = decode_checks(embedded_data(page))
    expected = sorted(results["checks"], key=lambda c: c["id"])
    assert decoded == expected


def test_page_data_of_a_large_run_decodes_to_the_same_checks() -> None:
    results = _bench_module().make_results(400, seed=3, compact_passed=True)
    decoded = decode_checks(embedded_data(report.render_report(results)))
    assert decoded == sorted(results["checks"], key=lambda c: c["id"])


# ---------------------------------------------------------------------------------------------
# Content


def test_summary_failures_and_collection_errors_are_shown() -> None:
    results = sample_results()
    page = report.render_report(results)
    summary = _section(page, "summary")
    assert re.search(r"<b>4</b> passed", summary)
    assert re.search(r"<b>1</b> failed", summary)
    assert re.search(r"<b>0</b> errored", summary)
    assert re.search(r"<b>1</b> spec/policy error\b", summary)
    assert "pytest specs/" in page and "1.50 s" in page and "2026-11-30T04:10:00Z" in page
    assert "pytest 9.2.0" in page

    errors = _section(page, "errors")
    assert '<code class="loc">specs/bad.yaml:3:5</code>' in errors
    assert "unknown key &#39;principles&#39;; did you mean &#39;principals&#39;?" in errors

    failed = _section(page, "failed")
    hostile_id = results["checks"][2]["id"]
    assert f'href="#{report.check_anchor(hostile_id)}"' in failed
    assert (
        'expected <span class="d">allow</span>, got <span class="d">explicit-deny</span>' in failed
    )
    assert failed.count("<li>") == 1


def test_per_file_summary_counts_checks_and_spec_errors() -> None:
    page = report.render_report(sample_results())
    rows = re.findall(r"<tr class=\"(ok|bad)\">(.*?)</tr>", _section(page, "summary"), re.DOTALL)
    cells = {
        re.sub(r"<[^>]+>", "", r[1].split("</td>")[0]).strip(): re.findall(
            r'<td class="n">([^<]*)</td>', r[1]
        )
        for r in rows
    }
    assert cells == {
        "specs/bad.yaml": ["0", "0", "", "", "1"],
        "specs/prod.yaml": ["5", "4", "1", "", ""],
    }


def test_statement_coverage_counts_checks_not_steps() -> None:
    cov = report.coverage(sample_results())
    counts = {(p["name"], s["index"]): s["checks"] for p in cov for s in p["statements"]}
    assert counts == {
        ("identity-ci", 0): 2,  # decided the pull check (twice) and the BatchGetImage check
        ("identity-ci", 1): 1,
        (HOSTILE_POLICY, 0): 0,
        (HOSTILE_POLICY, 1): 1,
        (HOSTILE_POLICY, 2): 0,
    }
    assert [p["untested"] for p in cov] == [0, 2]


def test_unexercised_statements_are_listed() -> None:
    page = report.render_report(sample_results())
    untested = _section(page, "untested")
    assert "NeverUsedSid" in untested and "AllowOrg" in untested
    assert "AllowPull" not in untested and "AllowPush" not in untested
    assert "policies/repo.json:20" in untested
    assert re.search(r"<b>2</b> of 5 statements never decided a check", page)


def test_coverage_matches_statements_by_file_name_and_index() -> None:
    results = sample_results()
    # same name and index, another file: not the inventory's statement
    other = _decisive("identity-ci", "policies/elsewhere.json", 1, "AllowPush", "Allow")
    results["checks"][3]["steps"][0]["explanation"]["decisive"] = [other]
    counts = {
        (p["name"], s["index"]): s["checks"]
        for p in report.coverage(results)
        for s in p["statements"]
    }
    assert counts[("identity-ci", 1)] == 0


def test_no_network_assets() -> None:
    page = report.render_report(sample_results())
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page, re.IGNORECASE)
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"<script[^>]*\ssrc=", page)


def test_render_is_independent_of_input_order() -> None:
    results = sample_results()
    shuffled = copy.deepcopy(results)
    random.Random(7).shuffle(shuffled["checks"])
    shuffled["errors"].reverse()
    shuffled["policies"].reverse()
    assert report.render_report(shuffled) == report.render_report(results)


def test_empty_run_renders() -> None:
    page = report.render_report(
        {"format": "policyspec-results/1", "checks": [], "errors": [], "policies": []}
    )
    assert "No spec file was collected." in page
    assert "No policy was loaded." in page


def test_twenty_thousand_checks_fit_in_twenty_megabytes(tmp_path: Path) -> None:
    results = _bench_module().make_results(20_000)
    path = tmp_path / "big.html"
    report.write_report(results, path)
    assert path.stat().st_size <= 20_000_000
    data = embedded_data(path.read_text(encoding="utf-8"))
    assert len(data["checks"]) == 20_000


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_page_script_is_valid_javascript(tmp_path: Path) -> None:
    page = report.render_report(sample_results())
    script = page[page.rindex("<script>") + len("<script>") : page.rindex("</script>")]
    path = tmp_path / "page.js"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------------------------
# Results files: write, load, merge


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    results = sample_results()
    path = tmp_path / "out" / "results.json"
    results_format.write_results(results, path)
    loaded = results_format.load_results([path])
    assert loaded["checks"] == results["checks"]
    assert loaded["sources"] == [str(path)]


def test_load_results_merges_shards(tmp_path: Path) -> None:
    first, second = sample_results(), sample_results()
    first["checks"], second["checks"] = first["checks"][:2], first["checks"][2:]
    second["generated"] = "2026-11-30T05:00:00Z"
    second["duration"] = 2.25
    second["versions"] = {"policyspec": "0.1.0", "python": "3.12.1", "pytest": "9.2.0"}
    second["policies"][1] = dict(second["policies"][1], spec="specs/other.yaml")
    second["errors"].append({"file": "specs/worse.yaml", "line": 1, "col": 1, "message": "boom"})
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    results_format.write_results(first, a)
    results_format.write_results(second, b)

    merged = results_format.load_results([a, b])
    assert [c["id"] for c in merged["checks"]] == [c["id"] for c in sample_results()["checks"]]
    assert merged["errors"] == [first["errors"][0], second["errors"][1]]
    assert [(p["file"], p["name"]) for p in merged["policies"]] == [
        ("policies/identity-ci.json", "identity-ci"),
        ("policies/repo.json", HOSTILE_POLICY),
    ]
    assert merged["policies"][1]["specs"] == ["specs/prod.yaml", "specs/other.yaml"]
    assert merged["generated"] == "2026-11-30T05:00:00Z"
    assert merged["duration"] == 3.75
    assert merged["command"] == "pytest specs/"
    assert merged["versions"] == {
        "policyspec": "0.1.0",
        "python": "3.11.7 | 3.12.1",
        "pytest": "9.2.0",
    }
    assert merged["sources"] == [str(a), str(b)]
    # the merged report counts statements across both shards
    counts = {
        (p["name"], s["index"]): s["checks"]
        for p in report.coverage(merged)
        for s in p["statements"]
    }
    assert counts[("identity-ci", 0)] == 2 and counts[(HOSTILE_POLICY, 1)] == 1
    page = report.render_report(merged)
    assert "Merged from 2 results files" in page
    assert "used by specs/other.yaml, specs/prod.yaml" in page or (
        "used by specs/prod.yaml, specs/other.yaml" in page
    )


def test_load_results_rejects_another_format(tmp_path: Path) -> None:
    path = tmp_path / "junit.json"
    path.write_text(json.dumps({"format": "something/2", "checks": []}), encoding="utf-8")
    with pytest.raises(results_format.ResultsError) as info:
        results_format.load_results([path])
    assert str(info.value) == (
        f'{path}: not a policyspec results file: "format" is "something/2", '
        'expected "policyspec-results/1"'
    )


def test_load_results_names_a_bad_check(tmp_path: Path) -> None:
    results = sample_results()
    results["checks"][1]["outcome"] = "maybe"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results), encoding="utf-8")
    with pytest.raises(results_format.ResultsError) as info:
        results_format.load_results([path])
    assert str(info.value) == (
        f'{path}: checks[1] ({results["checks"][1]["id"]}): "outcome" is "maybe", '
        "expected one of passed, failed, error, xfail"
    )


def test_load_results_reports_broken_json_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"format": "policyspec-results/1",\n  "checks": [}', encoding="utf-8")
    with pytest.raises(results_format.ResultsError) as info:
        results_format.load_results([path])
    assert str(info.value).startswith(f"{path}:2:14: not valid JSON: ")


def test_load_results_refuses_a_file_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b"{\xff\xfe}")
    with pytest.raises(results_format.ResultsError) as info:
        results_format.load_results([path])
    assert str(info.value) == (
        f"{path}: not UTF-8 text (byte 1); expected a results file written by --policy-results "
        "or eval --results, or eval's output"
    )


def test_render_report_rejects_a_dict_without_format() -> None:
    with pytest.raises(
        results_format.ResultsError, match=r'"format" is null, expected "policyspec-results/1"'
    ):
        report.render_report({"checks": []})


# ---------------------------------------------------------------------------------------------
# python -m runner report


def test_main_writes_one_report_from_several_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = sample_results(), sample_results()
    first["checks"], second["checks"] = first["checks"][:3], first["checks"][3:]
    second["errors"] = []
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    results_format.write_results(first, a)
    results_format.write_results(second, b)
    out = tmp_path / "site" / "report.html"
    assert report_main(["report", str(a), str(b), "-o", str(out)]) == 0
    assert capsys.readouterr().out == (
        f"wrote {out}: 5 checks (1 failed or errored), 1 collection errors, "
        "from 2 results file(s)\n"
    )
    assert len(embedded_data(out.read_text(encoding="utf-8"))["checks"]) == 5


def test_main_exit_2_on_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    out = tmp_path / "report.html"
    assert report_main([str(missing), "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {missing}: no such file\n"
    assert not out.exists()


def test_main_exit_2_on_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    assert report_main([str(bad), "-o", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err == f"error: {bad}: expected a JSON object, got list\n"


def test_main_exit_2_without_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main([]) == 2
    assert "RESULTS.json" in capsys.readouterr().err


def test_sparse_results_render() -> None:
    """Only the keys validation requires: nothing crashes, the gaps show as nothing."""
    page = report.render_report(
        {
            "format": "policyspec-results/1",
            "checks": [{"id": "specs/a.yaml::x[1]", "outcome": "error"}],
            "errors": [{"message": "something broke"}],
        }
    )
    assert "<b>1</b> errored" in page
    assert '<span class="msg">something broke</span>' in page
    assert 'got <span class="d">no decision</span>' in page
    assert "None" not in _section(page, "failed")


def test_spec_warnings_are_shown_near_the_errors_and_kept_in_the_results_file(
    tmp_path: Path,
) -> None:
    results = sample_results()
    results["warnings"] = [
        {
            "file": "specs/prod.yaml",
            "line": 12,
            "col": 9,
            "message": "unknown condition key 'aws:PrincipleOrgID'; did you mean "
            "'aws:PrincipalOrgID'? " + HOSTILE_VALUE,
        }
    ]
    page = report.render_report(results)
    assert re.search(r'<a class="counter warn" href="#warnings"><b>1</b> warning</a>', page)
    warnings = _section(page, "warnings")
    assert '<code class="loc">specs/prod.yaml:12:9</code>' in warnings
    assert esc("unknown condition key 'aws:PrincipleOrgID'; did you mean") in warnings
    assert esc(HOSTILE_VALUE) in warnings
    assert page.index('<section id="errors"') < page.index('<section id="warnings"')
    assert page.index('<section id="warnings"') < page.index('<section id="failed"')

    path = tmp_path / "r.json"
    results_format.write_results(results, path)
    assert results_format.load_results([path])["warnings"] == results["warnings"]


# ---------------------------------------------------------------------------------------------
# Merging results of several projects, and partial runs


def _project(name: str | None, *, statements: int = 2) -> dict[str, Any]:
    """The sample results as another repository could write them: same spec path, same check
    ids, a policy file of the same path with its own statements."""
    results = sample_results()
    if name is not None:
        results["project"] = name
    results["policies"][0]["statements"] = results["policies"][0]["statements"][:statements]
    return results


def test_results_of_two_projects_stay_apart(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    results_format.write_results(_project("repo-a"), a)
    results_format.write_results(_project("repo-b", statements=1), b)
    merged = results_format.load_results([a, b])
    assert merged["projects"] == ["repo-a", "repo-b"]
    ids = [c["id"] for c in merged["checks"]]
    assert len(ids) == len(set(ids)) == 10
    assert ids[0] == "repo-a/" + sample_results()["checks"][0]["id"]
    assert {c["file"] for c in merged["checks"]} == {
        "repo-a/specs/prod.yaml",
        "repo-b/specs/prod.yaml",
    }
    cov = {(p["file"], p["name"]): p for p in report.coverage(merged)}
    identity_a = cov[("repo-a/policies/identity-ci.json", "identity-ci")]
    identity_b = cov[("repo-b/policies/identity-ci.json", "identity-ci")]
    # each project's statements, decided by its own checks: nothing added across projects
    assert [(s["index"], s["checks"]) for s in identity_a["statements"]] == [(0, 2), (1, 1)]
    assert [(s["index"], s["checks"]) for s in identity_b["statements"]] == [(0, 2)]
    assert identity_a["specs"] == ["repo-a/specs/prod.yaml"]
    page = report.render_report(merged)
    summary = _section(page, "summary")
    assert "repo-a/specs/prod.yaml" in summary and "repo-b/specs/prod.yaml" in summary
    assert "Results of 2 projects, kept apart" in page


def test_a_name_on_the_command_line_keeps_unnamed_results_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    results_format.write_results(_project(None), a)
    results_format.write_results(_project(None, statements=1), b)
    out = tmp_path / "report.html"
    assert report_main([f"api={a}", f"web={b}", "-o", str(out)]) == 0
    capsys.readouterr()
    data = decode_checks(embedded_data(out.read_text(encoding="utf-8")))
    assert {c["file"] for c in data} == {"api/specs/prod.yaml", "web/specs/prod.yaml"}


def test_the_same_results_twice_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    results_format.write_results(_project(None), a)
    results_format.write_results(_project(None), b)
    out = tmp_path / "report.html"
    assert report_main([str(a), str(a), "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {a}: given twice (as {a} too)\n"
    assert report_main([str(a), str(b), "-o", str(out)]) == 2
    first = sample_results()["checks"][0]["id"]
    assert capsys.readouterr().err == (
        f"error: {b}: check {first} is also in {a}: the same results given twice? Results of "
        "different projects stay apart when each is named: python -m runner report "
        "NAME=RESULTS.json ...\n"
    )
    assert not out.exists()


def test_shards_of_one_project_that_disagree_on_a_policy_are_refused(tmp_path: Path) -> None:
    first, second = _project("repo"), _project("repo", statements=1)
    first["checks"], second["checks"] = first["checks"][:2], second["checks"][2:]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    results_format.write_results(first, a)
    results_format.write_results(second, b)
    with pytest.raises(results_format.ResultsError) as info:
        results_format.load_results([a, b])
    assert str(info.value).startswith(
        f"{b}: policy identity-ci (policies/identity-ci.json) has other statements than in {a}: "
    )


def test_a_partial_run_does_not_call_the_statements_it_left_out_untested() -> None:
    results = sample_results()
    results["selection"] = {
        "deselected": 7,
        "deselected_by_file": {"specs/prod.yaml": 7},
        "how": ["-k 'ci and push'"],
    }
    cov = report.coverage(results)
    assert [(p["name"], p["partial"], p["untested"]) for p in cov] == [
        ("identity-ci", True, 0),
        (HOSTILE_POLICY, True, 0),
    ]
    page = report.render_report(results)
    assert "NeverUsedSid" not in _section(page, "untested")
    assert re.search(r"<b>0</b> of 0 statements never decided a check", page)
    assert re.search(r'<a class="counter zero" href="#partial"><b>7</b> deselected</a>', page)
    assert "A partial run: 7 checks deselected (-k &#39;ci and push&#39;)." in page
    assert "2 policies are left out" in _section(page, "untested")


def test_an_account_level_action_is_shown_on_the_registry_not_on_the_repository() -> None:
    results = sample_results()
    registry = _check(
        9,
        action="ecr:DescribeRegistry",
        expected="deny",
        decision="allow",
        steps=[("ecr:DescribeRegistry", "allow", [ALLOW_PULL])],
    )
    results["checks"].append(registry)
    page = report.render_report(results)
    data = embedded_data(page)
    rows = {row[0]: dict(zip(data["columns"], row, strict=True)) for row in data["checks"]}
    assert rows[registry["id"]]["registry"] is True
    assert rows[results["checks"][0]["id"]]["registry"] is False  # pull acts on the repository
    failed = _section(page, "failed")
    item = next(li for li in failed.split("<li>") if "DescribeRegistry" in li)
    assert "on the registry" in item and "the case names prod" in item
    assert "on <b>prod</b>" not in item
    # the data still decodes to the same checks
    assert decode_checks(data) == sorted(results["checks"], key=lambda c: c["id"])


def test_failed_checks_are_listed_in_file_order() -> None:
    results = sample_results()
    late = _check(7, expected="deny", decision="allow")
    late["file"], late["line"], late["id"] = "specs/a.yaml", 90, "specs/a.yaml::z-late[ci-7]"
    early = _check(8, expected="deny", decision="allow")
    early["file"], early["line"], early["id"] = "specs/a.yaml", 9, "specs/a.yaml::zz-early[ci-8]"
    results["checks"] += [late, early]
    failed = _section(report.render_report(results), "failed")
    assert [m for m in re.findall(r"(specs/\w+\.yaml:\d+)", failed)] == [
        "specs/a.yaml:9",
        "specs/a.yaml:90",
        "specs/prod.yaml:12",
    ]


def test_policy_kinds_are_named_as_the_command_line_names_them() -> None:
    page = report.render_report(sample_results())
    assert embedded_data(page)["kinds"] == {
        "identity": "identity policy",
        "boundary": "permissions boundary",
        "session": "session policy",
        "resource": "repository policy",
        "scp": "SCP",
        "rcp": "RCP",
    }
    untested = _section(page, "untested")
    assert "<td>repository policy</td>" in untested and "<td>resource</td>" not in untested
    coverage = _section(page, "coverage")
    assert '<span class="kind">identity policy</span>' in coverage
    assert '<span class="kind">resource</span>' not in coverage


LEAKY_SUMMARY = (
    "an unmodelled IAM user arn:aws:iam::777777777777:user/q (account 777777777777, outside the "
    "organization) tagged team=web, with aws:SourceIp = 203.0.113.9, aws:PrincipalOrgID absent: "
    "ecr:BatchGetImage is allowed: allowed across accounts by statement AllowOrg of repository "
    "policy leaky, because StringEqualsIfExists holds when aws:PrincipalOrgID is absent"
)
UNIVERSAL = {
    "class": "every caller outside the organization",
    "considered": [
        "1 unmodelled user caller in accounts 777777777777",
        "anonymous (unsigned) requests",
    ],
    "evaluated": 3,
}


def _universal_check(n: int, *, witness: bool) -> dict[str, Any]:
    check = _check(
        n,
        principal="outsiders",
        action="ecr:BatchGetImage",
        expected="deny",
        decision="allow" if witness else "deny",
        steps=[
            ("ecr:BatchGetImage", "allow" if witness else "deny", [ALLOW_PULL] if witness else [])
        ],
    )
    check["principal_arn"] = UNIVERSAL["class"]
    check["universal"] = dict(UNIVERSAL)
    if witness:
        check["witness"] = {
            "principal": "arn:aws:iam::777777777777:user/q",
            "principal_arn": "arn:aws:iam::777777777777:user/q",
            "name": None,
            "tags": {"team": "web"},
            "context": {"aws:SourceIp": "203.0.113.9"},
        }
        check["witness_summary"] = LEAKY_SUMMARY
    return check


def test_a_universal_checks_witness_has_its_own_place_in_the_details() -> None:
    results = sample_results()
    failed, proven = _universal_check(7, witness=True), _universal_check(8, witness=False)
    results["checks"] += [failed, proven]
    page = report.render_report(results)
    data = embedded_data(page)
    rows = {row[0]: dict(zip(data["columns"], row, strict=True)) for row in data["checks"]}
    shown = rows[failed["id"]]["universal"]
    assert shown["witness_summary"] == LEAKY_SUMMARY
    assert shown["witness"]["principal"] == "arn:aws:iam::777777777777:user/q"
    assert shown["witness"]["tags"] == {"team": "web"}
    assert shown["witness"]["context"] == {"aws:SourceIp": "203.0.113.9"}
    # the key the summary says is absent, which the witness field leaves out
    assert shown["absent"] == ["aws:PrincipalOrgID"]
    assert shown["universal"] == UNIVERSAL
    # what the blocks show is no longer among the "other" fields
    assert rows[failed["id"]]["other"] is None
    assert rows[proven["id"]]["universal"] == {"universal": UNIVERSAL}
    assert rows[proven["id"]]["other"] is None
    assert rows[results["checks"][0]["id"]]["universal"] is None  # an ordinary check
    # the script draws the blocks from those fields
    script = page[page.rindex("<script>") : page.rindex("</script>")]
    assert '"Witness "' in script and "Proven" in script and '"absent"' in script
    # and nothing is lost
    assert decode_checks(data) == sorted(results["checks"], key=lambda c: c["id"])


def test_a_universal_field_of_another_form_stays_among_the_other_fields() -> None:
    results = sample_results()
    odd = _universal_check(7, witness=True)
    odd["witness"] = "not a mapping"
    results["checks"].append(odd)
    data = embedded_data(report.render_report(results))
    row = next(
        dict(zip(data["columns"], r, strict=True)) for r in data["checks"] if r[0] == odd["id"]
    )
    assert row["other"] == {"witness": "not a mapping"}
    assert "witness" not in row["universal"]
    assert row["universal"]["witness_summary"] == LEAKY_SUMMARY


@pytest.mark.parametrize(
    ("summary", "absent"),
    [
        (LEAKY_SUMMARY, ["aws:PrincipalOrgID"]),
        (
            "the defined principal ci, with aws:SourceVpc absent, ecr:ResourceTag/team absent: "
            "ecr:PutImage is implicitly denied: no statement allows it",
            ["aws:SourceVpc", "ecr:ResourceTag/team"],
        ),
        (
            "the defined principal ci, with aws:SourceIp = [10.0.0.1, 10.0.0.2]: ecr:PutImage is "
            "explicitly denied: statement Deny denies it",
            [],
        ),
        ("anonymous (unsigned) requests: ecr:PutImage is allowed: the policy allows it", []),
        ("not a witness summary, with aws:SourceIp absent", []),
    ],
)
def test_the_keys_a_witness_summary_lists_as_absent(summary: str, absent: list[str]) -> None:
    assert report.absent_keys(summary) == absent


def _browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_browser() is None, reason="chromium is not installed")
def test_the_witness_block_is_drawn_in_a_browser(tmp_path: Path) -> None:
    results = sample_results()
    failed = _universal_check(7, witness=True)
    results["checks"].append(failed)
    page = tmp_path / "r.html"
    page.write_text(report.render_report(results), encoding="utf-8")
    anchor = report.check_anchor(failed["id"])
    done = subprocess.run(
        [
            str(_browser()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=2000",
            "--dump-dom",
            f"{page.as_uri()}#{anchor}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = done.stdout
    start = dom.find(f'<div class="witness" id="{anchor}-witness">')
    assert start >= 0, done.stderr[-2000:]
    block = dom[start : dom.index('<div class="step"', start)]
    text = html.unescape(re.sub(r"<[^>]+>", " ", block))
    words = " ".join(text.split())
    assert " ".join(LEAKY_SUMMARY.split()) in words
    assert "Caller arn:aws:iam::777777777777:user/q (not defined by the spec)" in words
    assert "Principal tags team=web" in words
    assert "aws:SourceIp 203.0.113.9" in words
    assert "aws:PrincipalOrgID absent" in words
    # the witness fields are not repeated among the other fields
    details = dom[dom.index(f'id="{anchor}"') : start]
    assert "witness_summary" not in details and 'class="kv other"' not in details
