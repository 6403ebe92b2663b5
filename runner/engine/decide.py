"""The decision rules: evidence gathered from the policies, and one function that decides.

This is the only module that knows how AWS combines policies (AWS pages "Policy evaluation
logic", "Cross-account policy evaluation logic", "Permissions boundaries for IAM entities",
"Session policies", "Service control policies", "Resource control policies (RCPs)"):

1. an applicable ``Deny`` anywhere (SCP, RCP, repository policy, identity policy, boundary,
   session policy) makes the answer ``explicit-deny``;
2. SCPs apply to principals of member accounts (not the management account, service-linked
   roles, service principals or callers outside the organization): one attached SCP must allow;
3. RCPs apply to resources of member accounts; ``RCPFullAWSAccess`` is always attached, so
   they only ever deny;
4. the principal side and the resource side combine as the same-account and cross-account
   rules say (see :func:`decide`).

:func:`gather` matches every policy that takes part against the request and states each
gate's result (an ``Evidence``, ``evidence.py``); :func:`decide` combines those results into a
:class:`Ruling`. Neither words anything: ``explain.py`` does, from the same evidence.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace
from typing import Final

from runner import catalog
from runner.engine.context import LazyContext, as_created, shared_context
from runner.engine.evidence import (
    BOUNDARY_ALLOWS,
    BOUNDARY_DENIES,
    BOUNDARY_NONE,
    GATE_OF_KIND,
    IDENTITY_ALLOWS,
    IDENTITY_DENIES,
    IDENTITY_NO_POLICY,
    IDENTITY_NONE_FOR_CALLER,
    IDENTITY_ROOT_USER,
    RCP_ALLOWS,
    RCP_MANAGEMENT_ACCOUNT,
    RCP_NO_ORGANIZATION,
    RCP_NO_RESOURCE_ACCOUNT,
    RCP_NONE_ATTACHED,
    RCP_NOT_A_MEMBER,
    RCP_SERVICE_LINKED_ROLE,
    RESOURCE_ACCOUNT_LEVEL,
    RESOURCE_CREATES_REPOSITORY,
    RESOURCE_DENIES,
    RESOURCE_NAMES_ACCOUNT,
    RESOURCE_NAMES_CALLER,
    RESOURCE_NAMES_ROLE,
    RESOURCE_NO_POLICY,
    SCP_ALLOWS,
    SCP_DENIES,
    SCP_MANAGEMENT_ACCOUNT,
    SCP_NO_ACCOUNT,
    SCP_NO_ORGANIZATION,
    SCP_NONE_ATTACHED,
    SCP_NOT_A_MEMBER,
    SCP_SERVICE_LINKED_ROLE,
    SCP_SERVICE_PRINCIPAL,
    SESSION_ALLOWS,
    SESSION_DENIES,
    SESSION_FEDERATED_WITHOUT_POLICY,
    SESSION_NONE,
    Evidence,
    GateReport,
    GateReports,
    GateResult,
    PolicyEvidence,
    Skipped,
    Why,
    gate_reports,
    make_evidence,
    policy_evidence,
)
from runner.errors import Undecided
from runner.model import Gate, Organization, PolicyKind, Principal, PrincipalType, Request, Verdict
from runner.policy import CompiledPolicy, CompiledStatement, Effect
from runner.policy.matching import GRANT_ACCOUNT, GRANT_DIRECT, GRANT_NONE, GRANT_ROLE

__all__ = [
    "CREATE_REPOSITORY",
    "Rule",
    "Ruling",
    "beyond_scps",
    "decide",
    "gather",
    "rcp_account",
    "refusals",
]

CREATE_REPOSITORY: Final = "ecr:CreateRepository"
# Enum members read through their class cost a descriptor call each; hot code reads these
# module-level names instead (runner/speed.py).
_SCP, _RCP, _RESOURCE = PolicyKind.SCP, PolicyKind.RCP, PolicyKind.RESOURCE
_IDENTITY, _BOUNDARY, _SESSION = PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION
_ROOT, _SERVICE, _ANONYMOUS = PrincipalType.ROOT, PrincipalType.SERVICE, PrincipalType.ANONYMOUS
_FEDERATED_USER = PrincipalType.FEDERATED_USER
_DENY_EFFECT = Effect.DENY
_ACCOUNT_LEVEL = catalog.ACCOUNT_LEVEL
_ALLOW, _DENY = GateResult.ALLOW, GateResult.IMPLICIT_DENY

_GRANTS: Final = {
    GRANT_DIRECT: RESOURCE_NAMES_CALLER,
    GRANT_ROLE: RESOURCE_NAMES_ROLE,
    GRANT_ACCOUNT: RESOURCE_NAMES_ACCOUNT,
}


_NONE: tuple[CompiledStatement, ...] = ()


def _applies(stmt: CompiledStatement, arn: str, p: Principal, ctx: LazyContext) -> bool:
    """Whether a statement about the action applies: its resource, principal and conditions
    match (none of which depends on the action)."""
    res = stmt.resource
    if res is not None and not res.matches(arn, ctx):
        return False
    pm = stmt.principal
    if pm is not None and not pm.matches(p):
        return False
    cond = stmt.conditions
    return cond is None or cond.evaluate(ctx())


def _match(policy: CompiledPolicy, action: str, ctx: LazyContext) -> PolicyEvidence:
    # The applicable statements of a policy are the same for every request sharing ``ctx``
    # (its principal, repository, context and account-levelness, so its ``arn``) whose action
    # the same statements are about: remembered there, by the tuple of those statements
    # (``by_action`` shares one among actions; the policy holds it, so its id is not reused),
    # and so is whether each statement applies.
    stmts = policy.by_action.get(action, _NONE)
    key = id(stmts)
    found = ctx.evidence.get(key)
    if found is not None and found.policy is policy:
        return found
    applies = ctx.applies
    denies = allows = _NONE
    undecided = False
    for stmt in stmts:
        ok = applies.get(stmt)
        if ok is None:
            try:
                ok = applies[stmt] = _applies(stmt, ctx.arn, ctx.principal, ctx)
            except Undecided as exc:  # settled by an explicit deny, or raised (gather)
                ctx.undecided = ctx.undecided or exc
                undecided = True
                continue
        if ok:
            if stmt.effect is _DENY_EFFECT:
                denies = (*denies, stmt)
            else:
                allows = (*allows, stmt)
    found = policy_evidence(policy, denies, allows)
    if not undecided:  # remembered only when every statement was settled
        ctx.evidence[key] = found
    return found


def _settle(ctx: LazyContext, policies: list[PolicyEvidence]) -> None:
    """Raise the Undecided of a statement whose applying AWS leaves open, unless a settled
    statement denies: the decision is an explicit deny then, whatever it would give."""
    undecided, ctx.undecided = ctx.undecided, None
    if undecided is not None and not any(ev.denies for ev in policies):
        raise undecided


def _scp_exemption(p: Principal, org: Organization) -> GateReport | None:
    """None when SCPs apply to ``p``; otherwise the report of why not."""
    if p.type is _SERVICE:
        return SCP_SERVICE_PRINCIPAL
    if p.type is _ANONYMOUS or p.account is None:
        return SCP_NO_ACCOUNT
    if p.account == org.management_account:
        return SCP_MANAGEMENT_ACCOUNT
    if p.account not in org.accounts:
        return SCP_NOT_A_MEMBER
    if p.is_service_linked_role:
        return SCP_SERVICE_LINKED_ROLE
    if not org.scps:
        return SCP_NONE_ATTACHED
    return None


def rcp_account(request: Request, account_level: bool) -> str | None:
    """The account whose RCPs apply: the resource owner's ("Resource control policies
    (RCPs)"). For an action with no resource type AWS does not say: the RCPs of the caller's
    account are looked at (account-level ECR actions act on the caller's own registry), and
    one that denies makes the request undecided (:func:`_undecided_rcp`)."""
    if account_level:
        return request.principal.account
    return request.resource.account if request.resource is not None else None


def _rcp_exemption(p: Principal, org: Organization, account: str | None) -> GateReport | None:
    """None when the RCPs of ``account`` apply to the request; otherwise the report of why not."""
    if account is None:
        return RCP_NO_RESOURCE_ACCOUNT
    if account == org.management_account:
        return RCP_MANAGEMENT_ACCOUNT
    if account not in org.accounts:
        return RCP_NOT_A_MEMBER
    if p.is_service_linked_role:
        # "Resource control policies (RCPs)", resources and entities not restricted by RCPs
        return RCP_SERVICE_LINKED_ROLE
    if not org.rcps:
        return RCP_NONE_ATTACHED
    return None


def gather(request: Request, now: dt.datetime) -> Evidence:
    """Match every policy that takes part in ``request`` and state each gate's result.
    Raises ValueError for a request that cannot exist (see ``evaluate``)."""
    action = request.action
    account_level = _ACCOUNT_LEVEL.get(action)
    if account_level is None:
        raise ValueError(f"{action!r} is not an Amazon ECR action of the catalog")
    res = request.resource
    skipped: tuple[Skipped, ...] = ()
    if action == CREATE_REPOSITORY and res is not None and (res.policy or res.tags):
        # The repository does not exist before ecr:CreateRepository makes it: no repository
        # policy and no resource tags take part; aws:RequestTag / aws:TagKeys are the
        # request's tags.
        if res.policy is not None:
            skipped = (Skipped(res.policy, Why.CREATES_REPOSITORY),)
        res = as_created(res)
        request = Request(request.principal, action, res, request.context, request.organization)
    if account_level:
        arn = "*"
    elif res is None:
        raise ValueError(f"{action} acts on a repository: the request needs a resource")
    else:
        arn = res.arn
    p = request.principal
    ptype = p.type
    if ptype is _ROOT and (p.policies or p.boundary or p.session_policy):
        raise ValueError(
            "the root user cannot have identity policies, a boundary or a session policy"
        )
    org = request.organization
    ctx = shared_context(p, res, org, request.context, account_level, now)
    ctx.undecided = None
    policies: list[PolicyEvidence] = []

    # guardrails
    scp: GateReport | None
    rcp: GateReport | None
    rcp_denial: PolicyEvidence | None = None  # an RCP's deny of an account-level action
    if org is None:
        scp, rcp = SCP_NO_ORGANIZATION, RCP_NO_ORGANIZATION
    else:
        # whether SCPs and RCPs apply depends on nothing but what ``ctx`` is shared by
        exemptions = ctx.exemptions
        if exemptions is None:
            exemptions = ctx.exemptions = (
                _scp_exemption(p, org),
                _rcp_exemption(p, org, rcp_account(request, account_level)),
            )
        scp, rcp = exemptions
        if scp is None:
            scp = SCP_DENIES
            for pol in org.scps:
                ev = _match(pol, action, ctx)
                policies.append(ev)
                if ev.allows:
                    scp = SCP_ALLOWS
        if rcp is None:
            rcp = RCP_ALLOWS
            start = len(policies)
            policies.extend(_match(pol, action, ctx) for pol in org.rcps)
            if account_level:
                rcp_denial = next((ev for ev in policies[start:] if ev.denies), None)

    # the resource side: the strongest way an applicable Allow names the caller
    if account_level:
        resource = RESOURCE_ACCOUNT_LEVEL
        if res is not None and res.policy is not None:
            skipped = (*skipped, Skipped(res.policy, Why.ACCOUNT_LEVEL))
    elif res is None or res.policy is None:
        resource = (
            RESOURCE_CREATES_REPOSITORY if action == CREATE_REPOSITORY else RESOURCE_NO_POLICY
        )
    else:
        ev = _match(res.policy, action, ctx)
        policies.append(ev)
        grant = GRANT_NONE
        for stmt in ev.allows:
            if stmt.principal is not None:
                grant = max(grant, stmt.principal.grant(p))
        resource = RESOURCE_DENIES if grant == GRANT_NONE else _GRANTS[grant]

    # the identity side: identity policies, then the boundary and the session policy
    if ptype is _SERVICE or ptype is _ANONYMOUS:  # no identity side
        _settle(ctx, policies)
        if rcp_denial is not None:
            _undecided_rcp(rcp_denial, policies, action)
        gates = gate_reports(scp, rcp, resource, IDENTITY_NONE_FOR_CALLER, None, None)
        return make_evidence(request, arn, account_level, ctx, tuple(policies), skipped, gates)
    identity = IDENTITY_DENIES if p.policies else IDENTITY_NO_POLICY
    for pol in p.policies:
        ev = _match(pol, action, ctx)
        policies.append(ev)
        if ev.allows:
            identity = IDENTITY_ALLOWS
    if ptype is _ROOT:
        # There are no identity policies for the root user: it holds every permission in its
        # own account (limited only by SCPs and by explicit denies).
        identity = IDENTITY_ROOT_USER
    if p.boundary is None:
        boundary = BOUNDARY_NONE
    else:
        ev = _match(p.boundary, action, ctx)
        policies.append(ev)
        boundary = BOUNDARY_ALLOWS if ev.allows else BOUNDARY_DENIES
    if p.session_policy is not None:
        ev = _match(p.session_policy, action, ctx)
        policies.append(ev)
        session = SESSION_ALLOWS if ev.allows else SESSION_DENIES
    elif ptype is _FEDERATED_USER:
        # GetFederationToken: without a session policy the federated user session has no
        # permissions from identity policies (AWS STS API reference, "GetFederationToken").
        session = SESSION_FEDERATED_WITHOUT_POLICY
    else:
        session = SESSION_NONE
    _settle(ctx, policies)
    if rcp_denial is not None:
        _undecided_rcp(rcp_denial, policies, action)
    gates = gate_reports(scp, rcp, resource, identity, boundary, session)
    return make_evidence(request, arn, account_level, ctx, tuple(policies), skipped, gates)


def _undecided_rcp(denial: PolicyEvidence, policies: list[PolicyEvidence], action: str) -> None:
    """Raise :class:`~runner.errors.Undecided` for an RCP's deny of an action with no resource
    type, unless a policy of another kind denies it too (the decision is an explicit deny
    either way). "Resource control policies (RCPs)": "RCPs apply to the resources that are
    authorized as part of an operation request ... If a resource is specified in the
    'Resource type' column, then the RCPs of the resource owner's account are applied"; of an
    action that authorizes no resource the page says nothing."""
    if any(ev.denies and ev.policy.kind is not PolicyKind.RCP for ev in policies):
        return
    stmt = denial.denies[0]
    raise Undecided(
        f"statement {stmt.label} of RCP {denial.policy.name} denies {action}, an action with no "
        "resource type: AWS says RCPs apply to the resources an operation authorizes (the RCPs "
        "of the resource owner's account) and not whether, or whose, RCPs apply to an action "
        "that authorizes none"
    )


# ---------------------------------------------------------------------------------------------
# The decision


class Rule(enum.Enum):
    """The rule that decided, with its verdict and the kinds of policy whose applicable Allow
    statements it rests on (an explicit deny rests on every applicable Deny; other denials on
    nothing). Each value starts with a number of its own, so that no two rules are one."""

    DENIED = (1, Verdict.EXPLICIT_DENY, ())
    NO_SCP_ALLOWS = (2, Verdict.IMPLICIT_DENY, ())
    #: a caller without identity policies (a service, anonymous) and an account-level action
    NO_IDENTITY_SIDE = (3, Verdict.IMPLICIT_DENY, ())
    #: a service or anonymous caller allowed by the repository policy
    REPOSITORY_POLICY_GRANTS = (4, Verdict.ALLOW, (_SCP, _RESOURCE))
    #: a service or anonymous caller the repository policy does not allow
    REPOSITORY_POLICY_REFUSES = (5, Verdict.IMPLICIT_DENY, ())
    IDENTITY_GRANTS = (6, Verdict.ALLOW, (_SCP, _IDENTITY, _BOUNDARY, _SESSION))
    #: an account-level action the identity side does not allow
    IDENTITY_REFUSES = (7, Verdict.IMPLICIT_DENY, ())
    #: same account: the repository policy names the caller itself
    NAMES_CALLER = (8, Verdict.ALLOW, (_SCP, _RESOURCE))
    #: same account: the repository policy names the caller's role, within its limits
    NAMES_ROLE = (9, Verdict.ALLOW, (_SCP, _RESOURCE, _BOUNDARY, _SESSION))
    #: same account: the repository policy names the caller's role, beyond its limits
    ROLE_BEYOND_LIMITS = (10, Verdict.IMPLICIT_DENY, ())
    #: same account: neither side allows
    SAME_ACCOUNT_REFUSES = (11, Verdict.IMPLICIT_DENY, ())
    #: across accounts: the identity side does not allow
    CROSS_ACCOUNT_IDENTITY_REFUSES = (12, Verdict.IMPLICIT_DENY, ())
    #: across accounts: the identity side allows, the repository policy does not
    CROSS_ACCOUNT_REPOSITORY_REFUSES = (13, Verdict.IMPLICIT_DENY, ())
    CROSS_ACCOUNT_GRANTS = (14, Verdict.ALLOW, (_SCP, _IDENTITY, _BOUNDARY, _SESSION, _RESOURCE))

    # members are singletons: hash them by identity, in C (a dict keyed by rules is read
    # for every decision; runner/speed.py)
    __hash__ = object.__hash__

    def __init__(self, _number: int, verdict: Verdict, cites: tuple[PolicyKind, ...]) -> None:
        self.verdict = verdict
        self.cites = cites


assert len(Rule) == len(Rule.__members__), "no rule is another's alias"


@dataclass(frozen=True, slots=True, eq=False)
class Ruling:
    """The decision: its verdict, the deciding gate and the rule that applied. There is one
    ruling per combination, defined below: rulings compare by identity."""

    verdict: Verdict
    gate: Gate
    rule: Rule


@dataclass(frozen=True, slots=True, eq=False)
class _ByPart:
    """The rulings of one rule, by the part of the identity side that fails first."""

    identity: Ruling
    boundary: Ruling
    session: Ruling

    @classmethod
    def of(cls, rule: Rule) -> _ByPart:
        return cls(*(Ruling(rule.verdict, g, rule) for g in (_G_IDENTITY, _G_BOUNDARY, _G_SESSION)))

    def first_failing(self, identity_ok: bool, boundary_ok: bool) -> Ruling:
        if not identity_ok:
            return self.identity
        return self.session if boundary_ok else self.boundary


_G_IDENTITY, _G_BOUNDARY, _G_SESSION = Gate.IDENTITY, Gate.BOUNDARY, Gate.SESSION
_G_RESOURCE = Gate.RESOURCE
# by the kind's value: an Enum member hashes in Python, its value (a str) in C
_DENIED: Final = {
    kind._value_: Ruling(Verdict.EXPLICIT_DENY, gate, Rule.DENIED)
    for kind, gate in GATE_OF_KIND.items()
}
_NO_SCP_ALLOWS: Final = Ruling(Verdict.IMPLICIT_DENY, Gate.SCP, Rule.NO_SCP_ALLOWS)
_NO_IDENTITY_SIDE: Final = Ruling(Verdict.IMPLICIT_DENY, Gate.ACCOUNT_LEVEL, Rule.NO_IDENTITY_SIDE)
_REPOSITORY_GRANTS: Final = Ruling(Verdict.ALLOW, Gate.RESOURCE, Rule.REPOSITORY_POLICY_GRANTS)
_REPOSITORY_REFUSES: Final = Ruling(
    Verdict.IMPLICIT_DENY, Gate.RESOURCE, Rule.REPOSITORY_POLICY_REFUSES
)
_IDENTITY_GRANTS: Final = Ruling(Verdict.ALLOW, Gate.IDENTITY, Rule.IDENTITY_GRANTS)
_IDENTITY_REFUSES: Final = _ByPart.of(Rule.IDENTITY_REFUSES)
_NAMES_CALLER: Final = Ruling(Verdict.ALLOW, Gate.RESOURCE, Rule.NAMES_CALLER)
_NAMES_ROLE: Final = Ruling(Verdict.ALLOW, Gate.RESOURCE, Rule.NAMES_ROLE)
_ROLE_BEYOND_LIMITS: Final = _ByPart.of(Rule.ROLE_BEYOND_LIMITS)
_SAME_ACCOUNT_REFUSES: Final = _ByPart.of(Rule.SAME_ACCOUNT_REFUSES)
_CROSS_IDENTITY_REFUSES: Final = _ByPart.of(Rule.CROSS_ACCOUNT_IDENTITY_REFUSES)
_CROSS_REPOSITORY_REFUSES: Final = Ruling(
    Verdict.IMPLICIT_DENY, Gate.RESOURCE, Rule.CROSS_ACCOUNT_REPOSITORY_REFUSES
)
_CROSS_GRANTS: Final = Ruling(Verdict.ALLOW, Gate.RESOURCE, Rule.CROSS_ACCOUNT_GRANTS)


def decide(ev: Evidence) -> Ruling:
    """The decision over the evidence: every combination of gate results has its rule."""
    for policy_ev in ev.policies:
        if policy_ev.denies:  # policies are in gate order: the first deny names the gate
            return _DENIED[policy_ev.policy.kind._value_]
    gates = ev.gates
    if gates.scp is SCP_DENIES:
        return _NO_SCP_ALLOWS
    resource = gates.resource
    boundary, session = gates.boundary, gates.session
    if boundary is None or session is None:  # a service principal or an anonymous caller
        if ev.account_level:
            return _NO_IDENTITY_SIDE
        return _REPOSITORY_GRANTS if resource.result is _ALLOW else _REPOSITORY_REFUSES

    identity_ok = gates.identity.result is _ALLOW
    boundary_ok = boundary.result is not _DENY
    limits_ok = boundary_ok and session.result is not _DENY
    side_ok = identity_ok and limits_ok
    if ev.account_level:
        if side_ok:
            return _IDENTITY_GRANTS
        return _IDENTITY_REFUSES.first_failing(identity_ok, boundary_ok)
    request = ev.request
    assert request.resource is not None  # gather() refuses a repository action without one
    if request.principal.account == request.resource.account:
        # Same account: the identity side OR the repository policy. A statement naming the
        # caller directly (user, role session, federated user, "*") grants on its own; naming
        # the role is still limited by the boundary and the session policy; naming the account
        # delegates to IAM ("Policy evaluation logic", "Permissions boundaries for IAM entities").
        if resource is RESOURCE_NAMES_CALLER:
            return _NAMES_CALLER
        if resource is RESOURCE_NAMES_ROLE and limits_ok:
            return _NAMES_ROLE
        if side_ok:
            return _IDENTITY_GRANTS
        if resource is RESOURCE_NAMES_ROLE:
            return _ROLE_BEYOND_LIMITS.first_failing(True, boundary_ok)
        return _SAME_ACCOUNT_REFUSES.first_failing(identity_ok, boundary_ok)
    # Across accounts both sides must allow ("Cross-account policy evaluation logic").
    if not side_ok:
        return _CROSS_IDENTITY_REFUSES.first_failing(identity_ok, boundary_ok)
    if resource.result is not _ALLOW:
        return _CROSS_REPOSITORY_REFUSES
    return _CROSS_GRANTS


def _side_refusals(gates: GateReports, *, limits_only: bool = False) -> tuple[Gate, ...]:
    """The parts of the identity side that refuse: identity policies, boundary, session."""
    parts = []
    if not limits_only and gates.identity.result is not _ALLOW:
        parts.append(_G_IDENTITY)
    if gates.boundary is not None and gates.boundary.result is _DENY:
        parts.append(_G_BOUNDARY)
    if gates.session is not None and gates.session.result is _DENY:
        parts.append(_G_SESSION)
    return tuple(parts)


def beyond_scps(ev: Evidence) -> Ruling:
    """The ruling the request would get if the SCPs allowed it: what else refuses a request
    the SCPs refuse (an allow when nothing does)."""
    return decide(replace(ev, gates=replace(ev.gates, scp=SCP_ALLOWS)))


def _scp_refusals(ruling: Ruling, ev: Evidence) -> tuple[Gate, ...]:
    return (ruling.gate, *refusals(beyond_scps(ev), ev))


def _side_only(ruling: Ruling, ev: Evidence) -> tuple[Gate, ...]:
    return _side_refusals(ev.gates)


def _limits_only(ruling: Ruling, ev: Evidence) -> tuple[Gate, ...]:
    return _side_refusals(ev.gates, limits_only=True)


def _same_account_refusals(ruling: Ruling, ev: Evidence) -> tuple[Gate, ...]:
    # a repository policy that grants no one useful refuses too (without one, the identity
    # side alone decides)
    parts = _side_refusals(ev.gates)
    resource = ev.gates.resource
    if resource is RESOURCE_DENIES or resource is RESOURCE_NAMES_ACCOUNT:
        return (*parts, _G_RESOURCE)
    return parts


def _cross_account_refusals(ruling: Ruling, ev: Evidence) -> tuple[Gate, ...]:
    parts = _side_refusals(ev.gates)
    return parts if ev.gates.resource.result is _ALLOW else (*parts, _G_RESOURCE)


def _deciding_gate(ruling: Ruling, ev: Evidence) -> tuple[Gate, ...]:
    return (ruling.gate,)


_REFUSALS: Final = {
    Rule.NO_SCP_ALLOWS: _scp_refusals,
    Rule.NO_IDENTITY_SIDE: _deciding_gate,
    Rule.REPOSITORY_POLICY_REFUSES: _deciding_gate,
    Rule.IDENTITY_REFUSES: _side_only,
    Rule.ROLE_BEYOND_LIMITS: _limits_only,
    Rule.SAME_ACCOUNT_REFUSES: _same_account_refusals,
    Rule.CROSS_ACCOUNT_IDENTITY_REFUSES: _cross_account_refusals,
    Rule.CROSS_ACCOUNT_REPOSITORY_REFUSES: _deciding_gate,
}
assert set(_REFUSALS) == {r for r in Rule if r.verdict is Verdict.IMPLICIT_DENY}


def refusals(ruling: Ruling, ev: Evidence) -> tuple[Gate, ...]:
    """Every gate an implicit deny rests on, the deciding gate first: each of them would have
    to allow for the request to be allowed. Empty for an allow or an explicit deny."""
    how = _REFUSALS.get(ruling.rule)
    return () if how is None else how(ruling, ev)
