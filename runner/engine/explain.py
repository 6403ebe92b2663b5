"""The words of a decision: its reason, the note of each gate, and the explanation of every
statement that was considered (the ``Decision.to_dict()`` shape of docs/internals.md).

Everything here reads the evidence (``evidence.py``, gathered by ``decide.py``) and says
what it shows; nothing here decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from runner.engine import decide, evidence
from runner.engine.decide import Rule, Ruling, rcp_account
from runner.engine.evidence import Evidence, GateReport, GateResult, Skipped, Why
from runner.errors import Undecided
from runner.model import Gate, PolicyKind, Principal, PrincipalType
from runner.policy import RCP_FULL_AWS_ACCESS, CompiledPolicy, CompiledStatement
from runner.policy.conditions import UNDECIDED
from runner.policy.matching import GRANT_DIRECT
from runner.words import join, join_clauses

__all__ = ["decisive", "explanation", "reason", "who"]

# module-level names for the members read on every decision (runner/speed.py)
_RESOURCE, _IDENTITY = PolicyKind.RESOURCE, PolicyKind.IDENTITY
_G_IDENTITY, _G_BOUNDARY, _G_SESSION = Gate.IDENTITY, Gate.BOUNDARY, Gate.SESSION
_G_SCP, _G_RESOURCE, _G_ACCOUNT_LEVEL = Gate.SCP, Gate.RESOURCE, Gate.ACCOUNT_LEVEL
_R_NO_SCP_ALLOWS, _R_ROLE_BEYOND_LIMITS = Rule.NO_SCP_ALLOWS, Rule.ROLE_BEYOND_LIMITS
_R_REPOSITORY_POLICY_REFUSES = Rule.REPOSITORY_POLICY_REFUSES
_R_SAME_ACCOUNT_REFUSES = Rule.SAME_ACCOUNT_REFUSES
_R_CROSS_ACCOUNT_IDENTITY_REFUSES = Rule.CROSS_ACCOUNT_IDENTITY_REFUSES
_R_CROSS_ACCOUNT_REPOSITORY_REFUSES = Rule.CROSS_ACCOUNT_REPOSITORY_REFUSES


def who(p: Principal) -> str:
    """How the caller is named: its session ARN, ARN, service name, or ``anonymous``."""
    return p.session_arn or p.arn or p.service or "anonymous"


# Most reasons cite a statement: its label, remembered per policy and statement (both hash
# by identity, in C; the entry keeps them alive), costs a tenth of wording it again.
_LABELS: dict[tuple[CompiledPolicy, CompiledStatement], str] = {}


def label(policy: CompiledPolicy, stmt: CompiledStatement) -> str:
    """``statement Sid of repository policy NAME`` (``#N`` for a statement without a Sid)."""
    key = (policy, stmt)
    text = _LABELS.get(key)
    if text is None:
        if len(_LABELS) >= 4096:
            _LABELS.clear()
        text = _LABELS[key] = f"statement {stmt.label} of {policy.kind.label} {policy.name}"
    return text


def _first_allow(ev: Evidence, kind: PolicyKind) -> str:
    for policy_ev in ev.policies:
        if policy_ev.policy.kind is kind and policy_ev.allows:
            return label(policy_ev.policy, policy_ev.allows[0])
    raise AssertionError(kind)  # pragma: no cover - an allowing gate has an Allow statement


def _caller_kind(p: Principal) -> str:
    return "a service principal" if p.type is PrincipalType.SERVICE else "an anonymous caller"


# ---------------------------------------------------------------------------------------------
# The reason


def _refusal(gate: Gate, rule: Rule, ev: Evidence, first: bool) -> str:
    """Why ``gate`` refuses, as a clause of the reason (``rule`` decided the request)."""
    p = ev.request.principal
    action = ev.request.action
    if gate is _G_IDENTITY:
        how = "has no identity policies" if not p.policies else "is allowed by no identity policy"
        return f"{who(p)} {how} for {action}"
    if gate is _G_BOUNDARY:
        assert p.boundary is not None
        return f"the permissions boundary {p.boundary.name} does not allow {action}"
    if gate is _G_SESSION:
        if p.session_policy is None:
            return (
                f"{who(p)} is a federated user without a session policy: identity policies "
                "grant it nothing"
            )
        return f"the session policy {p.session_policy.name} does not allow {action}"
    if gate is _G_SCP:
        return f"no SCP attached to account {p.account} allows {action}"
    if gate is _G_ACCOUNT_LEVEL:
        return (
            f"{action} is account-level: only identity policies can grant it, and {who(p)} is "
            f"{_caller_kind(p)} without any"
        )
    # the repository policy
    if rule is _R_REPOSITORY_POLICY_REFUSES:
        return f"no statement of the repository policy allows {who(p)} to call {action}"
    if rule is _R_SAME_ACCOUNT_REFUSES:
        return "the repository policy does not grant it to the caller"
    res = ev.request.resource
    assert res is not None
    resource = ev.gates.resource
    if resource is evidence.RESOURCE_CREATES_REPOSITORY:
        return (
            f"{action} creates the repository: no repository policy can grant it to another account"
        )
    if resource is evidence.RESOURCE_NO_POLICY:
        return f"{res.arn} has no repository policy"
    caller = who(p) if first else "the caller either"
    return f"the repository policy of {res.arn} does not allow {caller}"


def _afterword(rule: Rule, refused: tuple[Gate, ...], ev: Evidence) -> str:
    """What the reason adds after the refusals, in parentheses."""
    if rule is _R_ROLE_BEYOND_LIMITS:
        return f" (the repository policy names the role of {who(ev.request.principal)})"
    if rule is _R_CROSS_ACCOUNT_IDENTITY_REFUSES:
        if _G_RESOURCE in refused:
            return " (cross-account access needs both)"
        return " (cross-account access needs the identity side too)"
    if rule is _R_CROSS_ACCOUNT_REPOSITORY_REFUSES:
        resource = ev.gates.resource
        if resource is evidence.RESOURCE_NO_POLICY:
            return " (cross-account access needs one)"
        if resource is evidence.RESOURCE_DENIES:
            return " (cross-account access needs the repository policy too)"
    return ""


def _refused(ruling: Ruling, ev: Evidence) -> str:
    """An implicit deny: every gate it rests on (``decide.refusals``), in one sentence."""
    refused = decide.refusals(ruling, ev)
    rule = ruling.rule
    if rule is _R_NO_SCP_ALLOWS and len(refused) > 1:
        rule = decide.beyond_scps(ev).rule  # the rest is worded as that rule words it
    clauses = [_refusal(gate, rule, ev, first=i == 0) for i, gate in enumerate(refused)]
    return join_clauses(clauses) + _afterword(rule, refused, ev)


def _denied(ruling: Ruling, ev: Evidence) -> str:
    for policy_ev in ev.policies:
        if policy_ev.denies:
            return f"explicitly denied by {label(policy_ev.policy, policy_ev.denies[0])}"
    raise AssertionError("an explicit deny without a Deny")  # pragma: no cover


def _repository_grants(ruling: Ruling, ev: Evidence) -> str:
    return f"allowed by {_first_allow(ev, _RESOURCE)}"


def _identity_grants(ruling: Ruling, ev: Evidence) -> str:
    if ev.gates.identity is evidence.IDENTITY_ROOT_USER:
        return "allowed: the root user has every permission in its own account"
    return f"allowed by {_first_allow(ev, _IDENTITY)}"


def _names_caller(ruling: Ruling, ev: Evidence) -> str:
    caller = ev.request.principal
    for policy_ev in ev.policies:
        if policy_ev.policy.kind is not _RESOURCE:
            continue
        for stmt in policy_ev.allows:
            if stmt.principal is not None and stmt.principal.grant(caller) is GRANT_DIRECT:
                how = (
                    "names every principal (Principal: *)"
                    if stmt.principal.everyone
                    else f"names {who(caller)} directly"
                )
                return f"allowed by {label(policy_ev.policy, stmt)}, which {how}"
    raise AssertionError(
        "a grant to the caller without a statement that names it"
    )  # pragma: no cover


def _names_role(ruling: Ruling, ev: Evidence) -> str:
    return (
        f"allowed by {_first_allow(ev, _RESOURCE)}, which names the role of "
        f"{who(ev.request.principal)}"
    )


def _cross_account_grants(ruling: Ruling, ev: Evidence) -> str:
    identity = (
        "the root user's own permissions"
        if ev.gates.identity is evidence.IDENTITY_ROOT_USER
        else _first_allow(ev, _IDENTITY)
    )
    return f"allowed across accounts by {_first_allow(ev, _RESOURCE)} and {identity}"


_REASONS: Final[dict[Rule, Callable[[Ruling, Evidence], str]]] = {
    Rule.DENIED: _denied,
    Rule.NO_SCP_ALLOWS: _refused,
    Rule.NO_IDENTITY_SIDE: _refused,
    Rule.REPOSITORY_POLICY_GRANTS: _repository_grants,
    Rule.REPOSITORY_POLICY_REFUSES: _refused,
    Rule.IDENTITY_GRANTS: _identity_grants,
    Rule.IDENTITY_REFUSES: _refused,
    Rule.NAMES_CALLER: _names_caller,
    Rule.NAMES_ROLE: _names_role,
    Rule.ROLE_BEYOND_LIMITS: _refused,
    Rule.SAME_ACCOUNT_REFUSES: _refused,
    Rule.CROSS_ACCOUNT_IDENTITY_REFUSES: _refused,
    Rule.CROSS_ACCOUNT_REPOSITORY_REFUSES: _refused,
    Rule.CROSS_ACCOUNT_GRANTS: _cross_account_grants,
}
assert set(_REASONS) == set(Rule), "every rule has its reason"


#: The rules whose reason names only the statement it cites (the first applicable Deny, or the
#: first applicable Allow of one kind of policy) or the root user's own permissions: it
#: depends on nothing but the rule, the identity gate's report and the policies' evidence.
_WORDED_BY_POLICIES: Final = frozenset(
    {Rule.DENIED, Rule.REPOSITORY_POLICY_GRANTS, Rule.IDENTITY_GRANTS}
)
# Those reasons, remembered by what they depend on (gate reports and policy evidence are
# interned and hash by identity): a third of the instructions of wording one (callgrind).
_REMEMBERED: dict[tuple[object, ...], str] = {}


def reason(ruling: Ruling, ev: Evidence) -> str:
    """The decision in one sentence."""
    rule = ruling.rule
    if rule in _WORDED_BY_POLICIES:
        key = (rule, ev.gates.identity, *ev.policies)
        text = _REMEMBERED.get(key)
        if text is None:
            if len(_REMEMBERED) >= 4096:
                _REMEMBERED.clear()
            text = _REMEMBERED[key] = _REASONS[rule](ruling, ev)
        return text
    return _REASONS[rule](ruling, ev)


_KIND_OF_GATE: Final = {gate: kind for kind, gate in evidence.GATE_OF_KIND.items()}


# ---------------------------------------------------------------------------------------------
# The gates


def _scp_note(report: GateReport, ev: Evidence) -> str:
    if report.result is GateResult.ALLOW:
        return f"allowed by {_first_allow(ev, PolicyKind.SCP)}"
    if report.result is GateResult.IMPLICIT_DENY:
        return _refusal(Gate.SCP, Rule.NO_SCP_ALLOWS, ev, first=True)
    account = ev.request.principal.account
    return {
        Why.NO_ORGANIZATION: "no organization given",
        Why.SERVICE_PRINCIPAL: "SCPs never apply to service principals",
        Why.NO_ACCOUNT: "anonymous callers belong to no account",
        Why.MANAGEMENT_ACCOUNT: f"{account} is the management account, which SCPs do not restrict",
        Why.NOT_A_MEMBER: f"{account} is not a member account of the organization",
        Why.SERVICE_LINKED_ROLE: "service-linked roles are not restricted by SCPs",
        Why.NONE_ATTACHED: "no SCPs attached",
    }[report.why]


def _rcp_note(report: GateReport, ev: Evidence) -> str:
    account = rcp_account(ev.request, ev.account_level)
    return {
        Why.NO_ORGANIZATION: "no organization given",
        Why.NO_RESOURCE_ACCOUNT: "the request has no resource account",
        Why.MANAGEMENT_ACCOUNT: (
            f"{account} is the management account, whose resources RCPs do not restrict"
        ),
        Why.NOT_A_MEMBER: (
            f"the resource account {account} is not a member account of the organization"
        ),
        Why.SERVICE_LINKED_ROLE: "service-linked roles are not restricted by RCPs",
        Why.NONE_ATTACHED: "only RCPFullAWSAccess is attached",
        Why.NO_RCP_DENIES: f"{RCP_FULL_AWS_ACCESS.name} allows; no RCP denies",
    }[report.why]


def _resource_note(report: GateReport, ev: Evidence) -> str:
    action = ev.request.action
    if report.result is GateResult.ALLOW:
        return f"allowed by {_first_allow(ev, PolicyKind.RESOURCE)}"
    return {
        Why.ACCOUNT_LEVEL: f"{action} is account-level: a repository policy can never grant it",
        Why.CREATES_REPOSITORY: f"{action} creates the repository: it has no repository policy yet",
        Why.NO_POLICY: "the repository has no repository policy",
        Why.NO_STATEMENT_ALLOWS: "no statement of the repository policy allows",
    }[report.why]


def _side_note(report: GateReport, ev: Evidence) -> str:
    p = ev.request.principal
    action = ev.request.action
    gate, why = report.gate, report.why
    if why is Why.STATEMENT_ALLOWS:
        return f"allowed by {_first_allow(ev, _KIND_OF_GATE[gate])}"
    if gate is Gate.IDENTITY:
        return {
            Why.NO_IDENTITY_SIDE: f"{who(p)} is {_caller_kind(p)}: no identity policies",
            Why.ROOT_USER: "the root user has every permission in its account",
            Why.NO_POLICY: f"{who(p)} has no identity policies",
            Why.NO_STATEMENT_ALLOWS: "no identity policy allows",
        }[why]
    if gate is Gate.BOUNDARY:
        if why is Why.NO_POLICY:
            return "no permissions boundary"
        assert p.boundary is not None
        return f"the permissions boundary {p.boundary.name} does not allow {action}"
    if why is Why.NO_POLICY:
        return "no session policy"
    if why is Why.FEDERATED_WITHOUT_SESSION_POLICY:
        return "a federated user without a session policy has no permissions from identity policies"
    assert p.session_policy is not None
    return f"the session policy {p.session_policy.name} does not allow {action}"


def _gates(ruling: Ruling, ev: Evidence, reason_text: str) -> list[dict[str, str]]:
    """The gates as the explanation lists them: an explicit deny names only its own."""
    if ruling.rule is Rule.DENIED:
        return [_gate(ruling.gate, GateResult.EXPLICIT_DENY, reason_text)]
    gates = ev.gates
    out = [
        _gate(Gate.SCP, gates.scp.result, _scp_note(gates.scp, ev)),
        _gate(Gate.RCP, gates.rcp.result, _rcp_note(gates.rcp, ev)),
        _gate(Gate.RESOURCE, gates.resource.result, _resource_note(gates.resource, ev)),
        _gate(Gate.IDENTITY, gates.identity.result, _side_note(gates.identity, ev)),
    ]
    for report in (gates.boundary, gates.session):
        if report is not None:
            out.append(_gate(report.gate, report.result, _side_note(report, ev)))
    return out


def _gate(gate: Gate, result: GateResult, note: str) -> dict[str, str]:
    return {"gate": gate.value, "result": result.value, "note": note}


# ---------------------------------------------------------------------------------------------
# The statements


def _statement(stmt: CompiledStatement, applied: bool, ev: Evidence) -> dict[str, Any]:
    arn, p, ctx = ev.arn, ev.request.principal, ev.context
    parts: list[str] = ["action"]
    failed: list[str] = []
    details: list[str] = []
    if stmt.resource is not None:
        try:
            ok = stmt.resource.matches(arn, ctx)
            detail = stmt.resource.explain(arn, ctx)
        except Undecided as exc:  # the decision did not need this statement's resource
            ok, detail = False, f"resource undecided: {exc}"
        (parts if ok else failed).append("resource")
        details.append(detail)
    if stmt.principal is not None:
        ok = stmt.principal.matches(p)
        (parts if ok else failed).append("principal")
        details.append(stmt.principal.explain(p))
    conditions: list[dict[str, object]] = []
    if stmt.conditions is not None:
        conditions = stmt.conditions.explain(ctx())
        ok = all(c["result"] is True for c in conditions)
        (parts if ok else failed).append("conditions")
        unmet = [f"{c['operator']} {c['key']}" for c in conditions if c["result"] is False]
        if unmet:
            details.append(f"condition not met: {', '.join(unmet)}")
        for c in conditions:
            if c["result"] == UNDECIDED:
                details.append(f"condition undecided: {c['operator']} {c['key']}: {c['undecided']}")
    if applied:
        note = join(parts) + (" match" if len(parts) > 1 else " matches")
    else:
        unmet = [w for w in failed if w != "conditions"]
        phrases = []
        if unmet:
            phrases.append(join(unmet) + (" do not match" if len(unmet) > 1 else " does not match"))
        if "conditions" in failed:
            phrases.append("conditions are not met")
        note = " and ".join(phrases)
    if details:
        note += " (" + "; ".join(details) + ")"
    out: dict[str, Any] = {
        "index": stmt.index,
        "sid": stmt.sid,
        "effect": stmt.effect.value,
        "line": stmt.line,
        "matched": applied,
        "note": note,
    }
    if conditions:
        out["conditions"] = conditions
    return out


def _policy(policy: CompiledPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "kind": policy.kind.value,
        "file": policy.file,
        "line": policy.line,
    }


_SKIPPED: Final = {
    Why.CREATES_REPOSITORY: "{action} creates the repository: its repository policy does not "
    "exist yet",
    Why.ACCOUNT_LEVEL: "{action} is account-level: repository policies do not apply",
}


def _skipped(skipped: Skipped, action: str) -> dict[str, Any]:
    return {
        **_policy(skipped.policy),
        "statements": [],
        "unmatched_by_action": 0,
        "skipped": _SKIPPED[skipped.why].format(action=action),
    }


# ---------------------------------------------------------------------------------------------
# The whole explanation


def decisive(ruling: Ruling, ev: Evidence) -> list[dict[str, Any]]:
    """The statements that produced the decision (docs/internals.md, ``decisive``)."""
    if ruling.rule is Rule.DENIED:
        cited = ev.denies()
    else:
        cited = [pair for kind in ruling.rule.cites for pair in ev.allows(kind)]
    return [
        {
            "policy": policy.name,
            "kind": policy.kind.value,
            "file": policy.file,
            "index": stmt.index,
            "sid": stmt.sid,
            "effect": stmt.effect.value,
        }
        for policy, stmt in cited
    ]


def explanation(ruling: Ruling, ev: Evidence, reason_text: str) -> dict[str, Any]:
    """``Decision.to_dict()``: the decision, the request as decided, every gate, every policy
    with the statements about the action, and the decisive statements (plain built-in types)."""
    request = ev.request
    p = request.principal
    action = request.action
    policies: list[dict[str, Any]] = []
    for policy_ev in ev.policies:
        applied = {id(s) for s in (*policy_ev.denies, *policy_ev.allows)}
        relevant = policy_ev.policy.by_action.get(action, ())
        policies.append(
            {
                **_policy(policy_ev.policy),
                "statements": [_statement(s, id(s) in applied, ev) for s in relevant],
                "unmatched_by_action": len(policy_ev.policy.statements) - len(relevant),
            }
        )
    policies.extend(_skipped(s, action) for s in ev.skipped)
    return {
        "decision": ruling.verdict.value,
        "gate": ruling.gate.value,
        "reason": reason_text,
        "request": {
            "principal": who(p),
            "principal_type": p.type.value,
            "action": action,
            "resource": ev.arn,
            "repository": request.resource.arn if request.resource is not None else None,
            "context": ev.context().to_dict(),
        },
        "gates": _gates(ruling, ev, reason_text),
        "policies": policies,
        "decisive": decisive(ruling, ev),
    }
