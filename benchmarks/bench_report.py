"""Benchmark of the HTML report: render + write for 20,000 checks, and the page's size.

Run:  cd /work/main && /work/venv/bin/python benchmarks/bench_report.py [--checks 20000] [--out DIR]

The results are synthetic but shaped like the engine's (``docs/internals.md``, "Explanation"):
full request contexts, gates, identity and repository policies with statements and condition
evaluations, decisive statements; some failures, some collection errors and hostile names.
The script then builds 20,000 real checks (``corpus.matrix``, loaded and evaluated by the
project) and gives the report's cost as a share of the cost of producing those checks.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import report
from runner.results import RESULTS_FORMAT

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
ORG = "o-a1b2c3d4e5"
PULL = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
)
PUSH = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
)
ACTIONS = (
    "ecr:DescribeImages",
    "ecr:ListImages",
    "ecr:DeleteRepository",
    "ecr:BatchDeleteImage",
    "ecr:SetRepositoryPolicy",
    "ecr:PutLifecyclePolicy",
    "ecr:TagResource",
    "ecr:DescribeRepositories",
    "ecr:StartImageScan",
)
HOSTILE = ("<script>alert(1)</script>", "O\"Brien's </script><!-- role", "a&b <b>bold</b>")


def _principals(n: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        name = f"role-{i:03d}" if i >= len(HOSTILE) else HOSTILE[i]
        account = ACCOUNT if i % 5 else OTHER_ACCOUNT
        role = f"team{i % 7}-deployer-{i}"
        out.append(
            {
                "name": name,
                "role_arn": f"arn:aws:iam::{account}:role/{role}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{role}",
                "account": account,
                "team": f"team{i % 7}",
                "policy": f"identity-{i % 11}",
                "ip": f"203.0.113.{rng.randint(1, 254)}",
            }
        )
    return out


def _resources(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"repo-{i:03d}" if i else "prod <img src=x onerror=alert(2)>",
            "arn": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app/service-{i:03d}",
            "policy": f"repo-policy-{i % 17}",
            "env": ("prod", "staging", "dev")[i % 3],
        }
        for i in range(n)
    ]


def _policies(specs: list[str]) -> list[dict[str, Any]]:
    out = []
    for i in range(11):
        out.append(
            {
                "name": f"identity-{i}",
                "kind": "identity",
                "file": f"policies/identity-{i}.json",
                "line": 1,
                "spec": specs[i % len(specs)],
                "statements": [
                    {"index": 0, "sid": "AllowAuth", "effect": "Allow", "line": 4},
                    {"index": 1, "sid": "AllowPullAll", "effect": "Allow", "line": 9},
                    {"index": 2, "sid": f"AllowPushTeam{i}", "effect": "Allow", "line": 16},
                    {"index": 3, "sid": None, "effect": "Deny", "line": 27},
                ],
            }
        )
    for i in range(17):
        out.append(
            {
                "name": f"repo-policy-{i}" if i else 'repo "policy" <script>x</script>',
                "kind": "resource",
                "file": f"policies/repo-{i}.json",
                "line": 1,
                "spec": specs[i % len(specs)],
                "statements": [
                    {"index": 0, "sid": "AllowOrgPull", "effect": "Allow", "line": 5},
                    {
                        "index": 1,
                        "sid": "DenyDeleteOutsideCI</script>",
                        "effect": "Deny",
                        "line": 18,
                    },
                    {"index": 2, "sid": "NeverUsed", "effect": "Allow", "line": 31},
                ],
            }
        )
    return out


def _context(p: dict[str, Any], r: dict[str, Any] | None) -> dict[str, list[str]]:
    ctx = {
        "aws:PrincipalArn": [p["role_arn"]],
        "aws:PrincipalAccount": [p["account"]],
        "aws:PrincipalType": ["AssumedRole"],
        "aws:userid": [f"AROAEXAMPLE{p['team'].upper()}:{p['name']}"],
        "aws:PrincipalTag/team": [p["team"]],
        "aws:PrincipalOrgID": [ORG],
        "aws:PrincipalIsAWSService": ["false"],
        "aws:RequestedRegion": ["us-east-1"],
        "aws:SecureTransport": ["true"],
        "aws:CurrentTime": ["2026-11-30T04:10:00Z"],
        "aws:EpochTime": ["1795925400"],
        "aws:SourceIp": [p["ip"]],
    }
    if r is not None:
        ctx["aws:ResourceAccount"] = [ACCOUNT]
        ctx["aws:ResourceTag/env"] = [r["env"]]
        ctx["ecr:ResourceTag/env"] = [r["env"]]
    return ctx


def _explanation(
    p: dict[str, Any], r: dict[str, Any] | None, action: str, decision: str
) -> dict[str, Any]:
    ident = p["policy"]
    org_cond = {
        "operator": "StringEquals",
        "key": "aws:PrincipalOrgID",
        "expected": [ORG],
        "actual": [ORG],
        "result": True,
    }
    team_cond = {
        "operator": "StringLike",
        "key": "aws:PrincipalTag/team",
        "expected": ["team1", "team2", 'te"am<3>'],
        "actual": [p["team"]],
        "result": p["team"] in ("team1", "team2"),
    }
    policies: list[dict[str, Any]] = [
        {
            "name": ident,
            "kind": "identity",
            "file": f"policies/{ident}.json",
            "line": 1,
            "statements": [
                {
                    "index": 1,
                    "sid": "AllowPullAll",
                    "effect": "Allow",
                    "line": 9,
                    "matched": decision == "allow",
                    "note": "action and resource match",
                    "conditions": [],
                },
                {
                    "index": 2,
                    "sid": "AllowPushTeam",
                    "effect": "Allow",
                    "line": 16,
                    "matched": False,
                    "note": "condition not met",
                    "conditions": [team_cond],
                },
            ],
            "unmatched_by_action": 2,
        }
    ]
    decisive: list[dict[str, Any]] = []
    gate = "identity"
    reason = f"implicitly denied: no identity policy of {p['name']} allows {action}"
    if decision == "allow":
        decisive.append(
            {
                "policy": ident,
                "kind": "identity",
                "file": f"policies/{ident}.json",
                "index": 1,
                "sid": "AllowPullAll",
                "effect": "Allow",
            }
        )
        reason = f"allowed by statement AllowPullAll of identity policy {ident}"
    if r is not None:
        rp = r["policy"]
        deny = decision == "explicit-deny"
        policies.append(
            {
                "name": rp,
                "kind": "resource",
                "file": f"policies/repo-{rp.rsplit('-', 1)[-1]}.json",
                "line": 1,
                "statements": [
                    {
                        "index": 0,
                        "sid": "AllowOrgPull",
                        "effect": "Allow",
                        "line": 5,
                        "matched": not deny,
                        "note": "principal and conditions match",
                        "conditions": [org_cond],
                    },
                    {
                        "index": 1,
                        "sid": "DenyDeleteOutsideCI</script>",
                        "effect": "Deny",
                        "line": 18,
                        "matched": deny,
                        "note": "action, principal and conditions match"
                        if deny
                        else "action does not match",
                        "conditions": [
                            {
                                "operator": "ArnNotLike",
                                "key": "aws:PrincipalArn",
                                "expected": [f"arn:aws:iam::{ACCOUNT}:role/ci-*"],
                                "actual": [p["role_arn"]],
                                "result": True,
                            }
                        ]
                        if deny
                        else [],
                    },
                ],
                "unmatched_by_action": 1,
            }
        )
        if deny:
            gate = "resource"
            decisive = [
                {
                    "policy": rp,
                    "kind": "resource",
                    "file": policies[-1]["file"],
                    "index": 1,
                    "sid": "DenyDeleteOutsideCI</script>",
                    "effect": "Deny",
                }
            ]
            reason = (
                "explicitly denied by statement DenyDeleteOutsideCI</script> "
                f"of repository policy {rp}"
            )
    return {
        "decision": decision,
        "gate": gate,
        "reason": reason,
        "request": {
            "principal": p["arn"],
            "principal_type": "AssumedRole",
            "action": action,
            "resource": r["arn"] if r is not None else "*",
            "context": _context(p, r),
        },
        "gates": [
            {"gate": "scp", "result": "allow", "note": "FullAWSAccess allows"},
            {"gate": "rcp", "result": "not-applicable", "note": "no RCP denies; RCPFullAWSAccess"},
            {
                "gate": "identity",
                "result": "allow" if decision == "allow" else "implicit-deny",
                "note": "identity policies",
            },
            {
                "gate": "resource",
                "result": "deny" if decision == "explicit-deny" else "no-match",
                "note": "repository policy",
            },
        ],
        "policies": policies,
        "decisive": decisive,
    }


def make_results(
    n_checks: int = 200, *, seed: int = 0, compact_passed: bool = False
) -> dict[str, Any]:
    """A results dict of ``n_checks`` checks of realistic shape (see module docstring).

    ``compact_passed`` gives passed checks the compact explanation (decision, gate, reason,
    decisive) that ``checks.CheckRun.to_result`` writes by default."""
    rng = random.Random(seed)
    n_files = max(1, min(40, n_checks // 500))
    specs = [f"specs/team-{i:02d}.yaml" for i in range(n_files)]
    principals = _principals(max(4, min(60, n_checks // 300)), rng)
    resources = _resources(max(2, min(40, n_checks // 400)))
    kinds = ["pull", "push", *ACTIONS, "ecr:GetAuthorizationToken"]
    checks: list[dict[str, Any]] = []
    i = 0
    while len(checks) < n_checks:
        # every principal x resource x action once: one matrix per resource, spec files
        # holding a few resources each
        n_p, n_r = len(principals), len(resources)
        p = principals[i % n_p]
        r_index = (i // n_p) % n_r
        k = (i // (n_p * n_r)) % len(kinds)
        act = kinds[k]
        spec = specs[r_index % n_files]
        r = None if act == "ecr:GetAuthorizationToken" else resources[r_index]
        steps_actions = PULL if act == "pull" else PUSH if act == "push" else (act,)
        steps = []
        for a in steps_actions:
            roll = rng.random()
            d = "allow" if roll < 0.6 else "explicit-deny" if roll < 0.75 else "implicit-deny"
            if a == "ecr:GetAuthorizationToken":
                d = "allow"
            steps.append({"action": a, "decision": d, "explanation": _explanation(p, r, a, d)})
        decisions = [s["decision"] for s in steps]
        decision = (
            "explicit-deny"
            if "explicit-deny" in decisions
            else "implicit-deny"
            if "implicit-deny" in decisions
            else "allow"
        )
        expected = decision if rng.random() < 0.97 else ("allow" if decision != "allow" else "deny")
        passed = expected == decision or (expected == "deny" and decision != "allow")
        case = f"{act} on {r['name'] if r else 'the account'}"
        outcome = "passed" if passed else "failed"
        if compact_passed and passed:
            for s in steps:
                s["explanation"] = {
                    k: s["explanation"][k] for k in ("decision", "gate", "reason", "decisive")
                }
        checks.append(
            {
                "id": f"{spec}::{case}[{p['name']}-{r['name'] if r else 'none'}-{act}-{i}]",
                "file": spec,
                "line": 10 + k * 6,
                "case": case,
                "case_index": k,
                "principal": p["name"],
                "principal_arn": p["arn"],
                "resource": r["name"] if r else None,
                "resource_arn": r["arn"] if r else None,
                "action": act,
                "expected": expected,
                "decision": decision,
                "passed": passed,
                "outcome": outcome,
                "context": {"aws:SourceIp": [p["ip"]]} if i % 4 == 0 else {},
                "steps": steps,
            }
        )
        i += 1
    errors = [
        {
            "file": "specs/broken.yaml",
            "line": 3,
            "col": 5,
            "message": "unknown key 'principles'; did you mean 'principals'? "
            "<script>alert(3)</script>",
        },
        {
            "file": "specs/bad-policy.yaml",
            "line": 12,
            "col": 9,
            "message": 'policy "x</script>": Statement[0].Effect must be "Allow" or "Deny"',
        },
    ]
    return {
        "format": RESULTS_FORMAT,
        "generated": "2026-11-30T04:10:00Z",
        "duration": 12.5,
        "command": "pytest specs/ -n 4 --policy-report=out/report.html",
        "versions": {"policyspec": "0.1.0", "python": "3.11.7", "pytest": "9.2.0"},
        "checks": checks,
        "errors": errors,
        "policies": _policies(specs),
    }


def _time(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _real_results(work: Path) -> tuple[dict[str, Any], float, float] | None:
    """20,000 real checks (``corpus.matrix``: 20 principals x 40 repositories x 25 actions in
    40 spec files), loaded and evaluated by the project: ``(results, seconds to evaluate with
    full explanations, seconds for the default results the plugin writes)``."""
    try:
        import corpus  # benchmarks/corpus.py

        from runner import checks
        from runner import spec as loader
        from runner.results import policy_inventory
    except ImportError:
        return None
    n = corpus.matrix(work, principals=20, repos=40, actions=25, files=40)
    specs = [
        loader.load_spec(p, display_root=work)
        for p in sorted(work.glob("*.yaml"))
        if not p.name.startswith("_")
    ]
    todo = [c for spec in specs for c in spec.checks]
    assert len(todo) == n, (len(todo), n)
    start = time.perf_counter()
    full = [checks.run_check(c) for c in todo]
    t_full = time.perf_counter() - start
    start = time.perf_counter()
    default = [checks.evaluate_check(c).to_result() for c in todo]
    t_default = time.perf_counter() - start
    policies = [p for spec in specs for p in policy_inventory(spec)]
    results = {
        "format": RESULTS_FORMAT,
        "generated": "2026-11-30T04:10:00Z",
        "duration": t_full,
        "command": "bench_report.py (corpus.matrix 20x40x25)",
        "versions": {"policyspec": "0.1.0"},
        "checks": full,
        "errors": [],
        "policies": policies,
    }
    return {**results, "default_checks": default}, t_full, t_default


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="keep the report(s) in this folder")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-report-"))
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    for label, compact in (("full explanations", False), ("compact for passed checks", True)):
        results = make_results(args.checks, compact_passed=compact)
        raw = len(json.dumps(results, ensure_ascii=False, separators=(",", ":")))
        path = out / f"synthetic-{'compact' if compact else 'full'}.html"
        seconds = _time(lambda r=results, p=path: report.write_report(r, p), args.repeat)
        size = path.stat().st_size
        print(
            f"synthetic, {args.checks} checks, {label}: render+write {seconds:.3f} s "
            f"(best of {args.repeat}), page {size / 1e6:.2f} MB "
            f"(results JSON {raw / 1e6:.1f} MB) -> {path}"
        )
    real = _real_results(out / "corpus")
    if real is None:
        print("engine/loader not available: no comparison with the cost of producing checks")
        return 0
    results, t_full, t_default = real
    default_checks = results.pop("default_checks")
    for label, checks_, produce in (
        ("full explanations (checks.run_check)", results["checks"], t_full),
        ("default results (short explanation when passed)", default_checks, t_default),
    ):
        data = {**results, "checks": checks_}
        path = out / f"real-{'full' if checks_ is results['checks'] else 'default'}.html"
        seconds = _time(lambda d=data, p=path: report.write_report(d, p), args.repeat)
        print(
            f"real, {len(checks_)} checks, {label}: producing them {produce:.2f} s, "
            f"render+write {seconds:.3f} s = {seconds / produce * 100:.0f}% of producing them, "
            f"page {path.stat().st_size / 1e6:.2f} MB -> {path}"
        )
    print(
        "(a pytest run adds collection and per-item overhead on top of producing the checks: "
        "bench_scale.py pytest measures the report's share of a whole run)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
