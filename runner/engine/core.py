"""The decision: one request, every policy that takes part, one answer with its reasons.

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
   rules say (see :func:`_combine`).

``evaluate`` is the hot path: it records a compact trace and nothing else; the explanation is
built from it on the first ``Decision.to_dict()`` and cached.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from runner import catalog
from runner.model import (
    Organization,
    PolicyKind,
    Principal,
    PrincipalType,
    Request,
    RequestContext,
    Resource,
)
from runner.policy.conditions import CompiledConditions
from runner.policy.matching import GRANT_DIRECT, GRANT_NONE, GRANT_ROLE
from runner.policy.validate import RCP_FULL_AWS_ACCESS, CompiledPolicy, CompiledStatement

__all__ = ["Decision", "build_context", "evaluate", "freeze_clock", "parse_instant", "set_clock"]

Clock = Callable[[], dt.datetime]


_last_second: tuple[int, dt.datetime] = (-1, dt.datetime.min)


def _system_clock() -> dt.datetime:
    # aws:CurrentTime has whole seconds; one datetime per second lets every request within
    # that second reuse it and its formatted time keys
    global _last_second
    second = int(time.time())
    if second != _last_second[0]:
        _last_second = (second, dt.datetime.fromtimestamp(second, dt.UTC))
    return _last_second[1]


_clock: Clock = _system_clock


def parse_instant(text: str) -> dt.datetime:
    """An instant given by a person: ISO 8601 with a time zone or ``Z`` (``2027-01-01T00:00:00Z``),
    or a date alone (midnight UTC). Raises ValueError with what was expected."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date and time; expected ISO 8601 such as 2027-01-01T00:00:00Z"
        ) from None
    if when.tzinfo is None:
        if "T" in text or " " in text.strip():
            raise ValueError(f"{text!r} has no time zone; add Z for UTC or an offset like +02:00")
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).replace(microsecond=0)


def freeze_clock(at: dt.datetime | None = None) -> dt.datetime:
    """Evaluate every later request at one instant: ``at``, or now (whole seconds). A run of
    checks uses this so that all its checks see the same ``aws:CurrentTime``, also across
    pytest-xdist workers. Returns the instant."""
    when = at if at is not None else _system_clock()
    set_clock(lambda: when)
    return when


def set_clock(clock: Clock | None) -> None:
    """Replace the clock behind ``aws:CurrentTime`` / ``aws:EpochTime`` (None restores the
    system clock). Tests pass ``now=`` to :func:`evaluate` instead where they can."""
    global _clock
    _clock = clock or _system_clock


_KIND_WORDS: Final = {
    PolicyKind.IDENTITY: "identity policy",
    PolicyKind.BOUNDARY: "permissions boundary",
    PolicyKind.SESSION: "session policy",
    PolicyKind.RESOURCE: "repository policy",
    PolicyKind.SCP: "SCP",
    PolicyKind.RCP: "RCP",
}
_DENY_GATE_ORDER: Final = ("scp", "rcp", "resource", "identity", "boundary", "session")
_GATE_OF_KIND: Final = {
    PolicyKind.SCP: "scp",
    PolicyKind.RCP: "rcp",
    PolicyKind.RESOURCE: "resource",
    PolicyKind.IDENTITY: "identity",
    PolicyKind.BOUNDARY: "boundary",
    PolicyKind.SESSION: "session",
}
_IDENTITY_TYPES: Final = frozenset(
    {
        PrincipalType.USER,
        PrincipalType.ROLE_SESSION,
        PrincipalType.FEDERATED_USER,
        PrincipalType.ROOT,
    }
)


# ---------------------------------------------------------------------------------------------
# Request context


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _base_context(request: Request, account_level: bool) -> dict[str, tuple[str, ...]]:
    p = request.principal
    res = request.resource
    org = request.organization
    out: dict[str, tuple[str, ...]] = {}
    # "AWS global condition context keys": aws:PrincipalIsAWSService is present in every
    # request signed with AWS credentials, so an unsigned (anonymous) request does not carry it.
    if p.type is PrincipalType.SERVICE:
        out["aws:PrincipalIsAWSService"] = ("true",)
        if p.service:
            out["aws:PrincipalServiceName"] = (p.service,)
    elif p.type is not PrincipalType.ANONYMOUS:
        out["aws:PrincipalIsAWSService"] = ("false",)
    else:
        # aws:PrincipalAccount, aws:PrincipalType and aws:userid are "included in the request
        # context for all requests, including anonymous requests"; for anonymous requests
        # aws:PrincipalAccount is "anonymous" ("AWS global condition context keys"), and the
        # table of principal key values ("Policy variables") gives aws:userid "anonymous" and
        # aws:PrincipalType "Anonymous".
        out["aws:PrincipalAccount"] = ("anonymous",)
        out["aws:PrincipalType"] = (p.type.value,)
        out["aws:userid"] = ("anonymous",)
    if p.type in _IDENTITY_TYPES and p.arn and p.account:
        out["aws:PrincipalArn"] = (p.arn,)
        out["aws:PrincipalAccount"] = (p.account,)
        out["aws:PrincipalType"] = (p.type.value,)
        if p.type is PrincipalType.USER and p.username:
            out["aws:username"] = (p.username,)
        # aws:userid is known honestly only where it is not an opaque unique ID ("Policy
        # variables", table of aws:userid values): the account ID for the root user,
        # ACCOUNT:NAME for a federated user. Users and roles have AIDA/AROA IDs we cannot know.
        if p.type is PrincipalType.ROOT:
            out["aws:userid"] = (p.account,)
        elif p.type is PrincipalType.FEDERATED_USER:
            out["aws:userid"] = (f"{p.account}:{p.arn.rsplit('/', 1)[-1]}",)
        for tag, value in p.tags.items():
            out[f"aws:PrincipalTag/{tag}"] = (value,)
        if (
            org is not None
            and org.id
            and (p.account in org.accounts or p.account == org.management_account)
        ):
            out["aws:PrincipalOrgID"] = (org.id,)
    if account_level:
        # An account-level action (ecr:GetAuthorizationToken, registry settings) acts on the
        # caller's own registry, whatever repository the check names: its resource account is
        # the caller's, as for the RCPs that apply to it ("Resource control policies").
        if p.account is not None:
            out["aws:ResourceAccount"] = (p.account,)
    elif res is not None:
        out["aws:ResourceAccount"] = (res.account,)
    if res is not None:
        out["aws:RequestedRegion"] = (res.region,)
        if not account_level:
            for tag, value in res.tags.items():
                out[f"aws:ResourceTag/{tag}"] = (value,)
                out[f"ecr:ResourceTag/{tag}"] = (value,)
    out["aws:SecureTransport"] = ("true",)
    return out


# The keys filled in from the principal, the repository and the organization depend only on
# those (frozen) objects, so they are computed once per combination. Entries keep the objects
# alive, which keeps their ids unique while cached.
_BASE_CACHE: dict[
    tuple[int, int, int, bool],
    tuple[Principal, Resource | None, Organization | None, RequestContext],
] = {}
_BASE_CACHE_LIMIT = 4096
_time_cache: tuple[dt.datetime, dict[str, tuple[str, ...]]] | None = None


def _base(request: Request, account_level: bool) -> RequestContext:
    p, res, org = request.principal, request.resource, request.organization
    key = (id(p), id(res), id(org), account_level)
    hit = _BASE_CACHE.get(key)
    if hit is not None and hit[0] is p and hit[1] is res and hit[2] is org:
        return hit[3]
    ctx = RequestContext(_base_context(request, account_level))
    if len(_BASE_CACHE) >= _BASE_CACHE_LIMIT:
        _BASE_CACHE.clear()
    _BASE_CACHE[key] = (p, res, org, ctx)
    return ctx


def _time_keys(when: dt.datetime) -> dict[str, Sequence[str]]:
    global _time_cache
    cached = _time_cache
    if cached is not None and cached[0] == when:
        return dict(cached[1])
    keys: dict[str, tuple[str, ...]] = {
        "aws:CurrentTime": (_iso(when),),
        "aws:EpochTime": (str(int(when.timestamp())),),
    }
    _time_cache = (when, keys)
    return dict(keys)


def _is_account_level(action: str) -> bool:
    info = catalog.ACTIONS.get(action)
    return info is not None and info.account_level


def build_context(request: Request, *, now: dt.datetime | None = None) -> RequestContext:
    """The request context AWS would see: keys filled in from the principal, the repository
    and the organization, the time from ``now`` (default: the engine clock), then the
    request's own ``context`` on top, key by key (key names ignore case). Resource tags are
    left out for an account-level action (its resource is ``*``)."""
    return _build_context(request, _is_account_level(request.action), now or _clock())


def _build_context(request: Request, account_level: bool, when: dt.datetime) -> RequestContext:
    overrides = _time_keys(when)
    if request.context:
        overrides.update(request.context)
    return _base(request, account_level).merged(overrides)


# A whole context (filled-in keys, the request's own keys, the time) is the same for every
# action of an operation and for every check of a case on one principal and repository, and a
# condition block's result depends on nothing but the context. So contexts are shared, each
# with a memo of the condition blocks already evaluated against it: a push (7 actions) against
# large policies evaluates each block once instead of seven times. Checks come case by case,
# so a small cache holds the contexts in use; entries keep their key objects alive, which
# keeps the ids unique while cached.
_Shared = tuple[
    Principal, "Resource | None", "Organization | None", RequestContext, dict[int, bool]
]
_CtxKey = tuple[int, int, int, bool, tuple[tuple[str, tuple[str, ...]], ...], dt.datetime]
_CTX_CACHE: dict[_CtxKey, _Shared] = {}
_CTX_CACHE_LIMIT = 256


def _shared_context(
    request: Request, account_level: bool, when: dt.datetime
) -> tuple[RequestContext, dict[int, bool]]:
    p, res, org = request.principal, request.resource, request.organization
    # the request's own keys by value: a caller may reuse one mapping with other contents
    own = tuple((k, tuple(v)) for k, v in request.context.items()) if request.context else ()
    key = (id(p), id(res), id(org), account_level, own, when)
    hit = _CTX_CACHE.get(key)
    if hit is not None and hit[0] is p and hit[1] is res and hit[2] is org:
        return hit[3], hit[4]
    ctx = _build_context(request, account_level, when)
    memo: dict[int, bool] = {}
    if len(_CTX_CACHE) >= _CTX_CACHE_LIMIT:
        _CTX_CACHE.clear()
    _CTX_CACHE[key] = (p, res, org, ctx, memo)
    return ctx, memo


class _Lazy:
    """The request context, built (or found) on first use: most decisions never need it."""

    __slots__ = ("account_level", "ctx", "memo", "now", "request")

    def __init__(self, request: Request, account_level: bool, now: dt.datetime) -> None:
        self.request = request
        self.account_level = account_level
        self.now = now
        self.ctx: RequestContext | None = None
        self.memo: dict[int, bool] = {}

    def __call__(self) -> RequestContext:
        ctx = self.ctx
        if ctx is None:
            ctx, self.memo = _shared_context(self.request, self.account_level, self.now)
            self.ctx = ctx
        return ctx

    def holds(self, conditions: CompiledConditions) -> bool:
        """Whether a condition block holds in this request's context (memoised per context)."""
        ctx = self.ctx if self.ctx is not None else self()
        memo = self.memo
        key = id(conditions)
        result = memo.get(key)
        if result is None:
            result = memo[key] = conditions.evaluate(ctx)
        return result


# ---------------------------------------------------------------------------------------------
# Matching one policy


_Run = tuple[CompiledPolicy, tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]]
#: (gate, result, note); a note naming a statement is kept as (policy, statement) and worded
#: only when the explanation is built.
_Gate = tuple[str, str, "str | tuple[CompiledPolicy, CompiledStatement]"]
_NONE: tuple[CompiledStatement, ...] = ()


def _run(policy: CompiledPolicy, action: str, arn: str, p: Principal, lazy: _Lazy) -> _Run:
    """(policy, applicable Deny statements, applicable Allow statements)."""
    denies = allows = _NONE
    for stmt in policy.by_action.get(action, _NONE):
        res = stmt.resource
        if res is not None and not res.matches(arn, lazy):
            continue
        pm = stmt.principal
        if pm is not None and not pm.matches(p):
            continue
        cond = stmt.conditions
        if cond is not None and not lazy.holds(cond):
            continue
        if stmt.effect == "Deny":
            denies = (*denies, stmt)
        else:
            allows = (*allows, stmt)
    return policy, denies, allows


# ---------------------------------------------------------------------------------------------
# The decision


class Decision:
    """The answer to one request. ``decision`` is ``allow``, ``explicit-deny`` or
    ``implicit-deny``; ``gate`` names the deciding part; :meth:`to_dict` explains it."""

    __slots__ = (
        "_decisive",
        "_dict",
        "_gates",
        "_lazy",
        "_runs",
        "_skipped",
        "arn",
        "decision",
        "gate",
        "reason",
        "request",
    )

    def __init__(
        self,
        request: Request,
        decision: str,
        gate: str,
        reason: str,
        arn: str,
        runs: list[_Run],
        decisive: list[tuple[CompiledPolicy, CompiledStatement]],
        gates: list[_Gate],
        lazy: _Lazy,
        skipped: list[tuple[CompiledPolicy, str]],
    ) -> None:
        self.request = request
        self.decision = decision
        self.gate = gate
        self.reason = reason
        self.arn = arn
        self._runs = runs
        self._decisive = decisive
        self._gates = gates
        self._lazy = lazy
        self._skipped = skipped
        self._dict: dict[str, Any] | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def __repr__(self) -> str:
        return f"Decision({self.decision!r}, gate={self.gate!r}, reason={self.reason!r})"

    def to_dict(self) -> dict[str, Any]:
        """The explanation as plain built-in types (docs/internals.md), built once."""
        if self._dict is None:
            self._dict = self._explain()
        return self._dict

    def _explain(self) -> dict[str, Any]:
        req = self.request
        p = req.principal
        ctx = self._lazy()
        policies: list[dict[str, Any]] = []
        for policy, denies, allows in self._runs:
            applied = set(map(id, denies)) | set(map(id, allows))
            relevant = policy.by_action.get(req.action, ())
            statements = [
                _explain_statement(s, id(s) in applied, self.arn, p, self._lazy) for s in relevant
            ]
            policies.append(
                {
                    "name": policy.name,
                    "kind": policy.kind.value,
                    "file": policy.file,
                    "line": policy.line,
                    "statements": statements,
                    "unmatched_by_action": len(policy.statements) - len(relevant),
                }
            )
        for policy, why in self._skipped:
            policies.append(
                {
                    "name": policy.name,
                    "kind": policy.kind.value,
                    "file": policy.file,
                    "line": policy.line,
                    "statements": [],
                    "unmatched_by_action": 0,
                    "skipped": why,
                }
            )
        return {
            "decision": self.decision,
            "gate": self.gate,
            "reason": self.reason,
            "request": {
                "principal": _who(p),
                "principal_type": p.type.value,
                "action": req.action,
                "resource": self.arn,
                "repository": req.resource.arn if req.resource is not None else None,
                "context": ctx.to_dict(),
            },
            "gates": [
                {
                    "gate": g,
                    "result": r,
                    "note": n if isinstance(n, str) else f"allowed by {_label(*n)}",
                }
                for g, r, n in self._gates
            ],
            "policies": policies,
            "decisive": self.decisive(),
        }

    def decisive(self) -> list[dict[str, Any]]:
        """The statements that produced the decision, as in ``to_dict()["decisive"]``; cheap
        (no request context or statement walk), for callers that need only these."""
        return [
            {
                "policy": policy.name,
                "kind": policy.kind.value,
                "file": policy.file,
                "index": stmt.index,
                "sid": stmt.sid,
                "effect": stmt.effect,
            }
            for policy, stmt in self._decisive
        ]


def _who(p: Principal) -> str:
    return p.session_arn or p.arn or p.service or "anonymous"


def _explain_statement(
    stmt: CompiledStatement, applied: bool, arn: str, p: Principal, lazy: _Lazy
) -> dict[str, Any]:
    parts: list[str] = ["action"]
    failed: list[str] = []
    details: list[str] = []
    if stmt.resource is not None:
        ok = stmt.resource.matches(arn, lazy)
        (parts if ok else failed).append("resource")
        details.append(stmt.resource.explain(arn, lazy))
    if stmt.principal is not None:
        ok = stmt.principal.matches(p)
        (parts if ok else failed).append("principal")
        details.append(stmt.principal.explain(p))
    conditions: list[dict[str, object]] = []
    if stmt.conditions is not None:
        conditions = stmt.conditions.explain(lazy())
        ok = all(bool(c["result"]) for c in conditions)
        (parts if ok else failed).append("conditions")
        if not ok:
            keys = ", ".join(f"{c['operator']} {c['key']}" for c in conditions if not c["result"])
            details.append(f"condition not met: {keys}")
    if applied:
        note = _join(parts) + (" match" if len(parts) > 1 else " matches")
    else:
        unmet = [w for w in failed if w != "conditions"]
        phrases = []
        if unmet:
            phrases.append(
                _join(unmet) + (" do not match" if len(unmet) > 1 else " does not match")
            )
        if "conditions" in failed:
            phrases.append("conditions are not met")
        note = " and ".join(phrases)
    if details:
        note += " (" + "; ".join(details) + ")"
    out: dict[str, Any] = {
        "index": stmt.index,
        "sid": stmt.sid,
        "effect": stmt.effect,
        "line": stmt.line,
        "matched": applied,
        "note": note,
    }
    if conditions:
        out["conditions"] = conditions
    return out


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _label(policy: CompiledPolicy, stmt: CompiledStatement) -> str:
    return f"statement {stmt.label} of {_KIND_WORDS[policy.kind]} {policy.name}"


def _scp_applies(p: Principal, org: Organization | None) -> str | None:
    """None when SCPs apply to ``p``; otherwise why not."""
    if org is None:
        return "no organization given"
    if p.type is PrincipalType.SERVICE:
        return "SCPs never apply to service principals"
    if p.type is PrincipalType.ANONYMOUS or p.account is None:
        return "anonymous callers belong to no account"
    if p.account == org.management_account:
        return f"{p.account} is the management account, which SCPs do not restrict"
    if p.account not in org.accounts:
        return f"{p.account} is not a member account of the organization"
    if p.is_service_linked_role:
        return "service-linked roles are not restricted by SCPs"
    if not org.scps:
        return "no SCPs attached"
    return None


_CREATE_REPOSITORY: Final = "ecr:CreateRepository"
#: The repository as ecr:CreateRepository sees it (no policy, no tags), one per repository so
#: that the shared request contexts stay shared.
_CREATED: dict[int, tuple[Resource, Resource]] = {}


def _as_created(res: Resource) -> Resource:
    hit = _CREATED.get(id(res))
    if hit is not None and hit[0] is res:
        return hit[1]
    if len(_CREATED) >= _BASE_CACHE_LIMIT:
        _CREATED.clear()
    created = Resource(res.name, res.arn, res.region, res.account, res.repository)
    _CREATED[id(res)] = (res, created)
    return created


def _rcp_account(p: Principal, request: Request, account_level: bool) -> str | None:
    # An action with no resource type is checked against the RCPs of the caller's account
    # ("Resource control policies (RCPs)"); account-level ECR actions act on the caller's
    # own registry.
    if account_level:
        return p.account
    return request.resource.account if request.resource is not None else None


def _rcp_applies(p: Principal, org: Organization | None, account: str | None) -> str | None:
    if org is None:
        return "no organization given"
    if account is None:
        return "the request has no resource account"
    if account == org.management_account:
        return f"{account} is the management account, whose resources RCPs do not restrict"
    if account not in org.accounts:
        return f"the resource account {account} is not a member account of the organization"
    if p.is_service_linked_role:
        # "Resource control policies (RCPs)", resources and entities not restricted by RCPs
        return "service-linked roles are not restricted by RCPs"
    if not org.rcps:
        return "only RCPFullAWSAccess is attached"
    return None


def evaluate(request: Request, *, now: dt.datetime | None = None) -> Decision:
    """Decide ``request`` as AWS would. ``now`` fixes ``aws:CurrentTime`` (default: the
    engine clock). Raises ValueError only for a request that cannot exist: an action outside
    the catalog, a repository-level action without a repository, or identity policies
    attached to a root user."""
    action = request.action
    info = catalog.ACTIONS.get(action)
    if info is None:
        raise ValueError(f"{action!r} is not an Amazon ECR action of the catalog")
    account_level = info.resource == "*"
    res = request.resource
    created_policy: CompiledPolicy | None = None
    if action == _CREATE_REPOSITORY and res is not None and (res.policy or res.tags):
        # The repository does not exist before ecr:CreateRepository makes it (if it did, the
        # call would fail with RepositoryAlreadyExistsException): no repository policy and no
        # resource tags take part; aws:RequestTag / aws:TagKeys are the request's tags.
        created_policy = res.policy
        res = _as_created(res)
        request = Request(request.principal, action, res, request.context, request.organization)
    if account_level:
        arn = "*"
    elif res is None:
        raise ValueError(f"{action} acts on a repository: the request needs a resource")
    else:
        arn = res.arn
    p = request.principal
    ptype = p.type
    has_identity = ptype in _IDENTITY_TYPES
    if ptype is PrincipalType.ROOT and (p.policies or p.boundary or p.session_policy):
        raise ValueError(
            "the root user cannot have identity policies, a boundary or a session policy"
        )
    lazy = _Lazy(request, account_level, now if now is not None else _clock())
    org = request.organization

    runs: list[_Run] = []
    gates: list[_Gate] = []
    skipped: list[tuple[CompiledPolicy, str]] = []

    # -- guardrails ---------------------------------------------------------------------------
    scp_runs: list[_Run] = []
    scp_why = _scp_applies(p, org)
    if scp_why is None and org is not None:
        scp_runs = [_run(pol, action, arn, p, lazy) for pol in org.scps]
        runs.extend(scp_runs)
    rcp_runs: list[_Run] = []
    rcp_why = _rcp_applies(p, org, _rcp_account(p, request, account_level))
    if rcp_why is None and org is not None:
        rcp_runs = [_run(pol, action, arn, p, lazy) for pol in org.rcps]
        runs.extend(rcp_runs)

    # -- resource side --------------------------------------------------------------------------
    res_run: _Run | None = None
    if created_policy is not None:
        skipped.append(
            (
                created_policy,
                f"{action} creates the repository: its repository policy does not exist yet",
            )
        )
    if res is not None and res.policy is not None:
        if account_level:
            skipped.append(
                (res.policy, f"{action} is account-level: repository policies do not apply")
            )
        else:
            res_run = _run(res.policy, action, arn, p, lazy)
            runs.append(res_run)

    # -- identity side --------------------------------------------------------------------------
    id_runs: list[_Run] = []
    boundary_run: _Run | None = None
    session_run: _Run | None = None
    if has_identity:
        id_runs = [_run(pol, action, arn, p, lazy) for pol in p.policies]
        runs.extend(id_runs)
        if p.boundary is not None:
            boundary_run = _run(p.boundary, action, arn, p, lazy)
            runs.append(boundary_run)
        if p.session_policy is not None:
            session_run = _run(p.session_policy, action, arn, p, lazy)
            runs.append(session_run)

    # -- 1. explicit deny anywhere --------------------------------------------------------------
    denies = [(pol, s) for pol, ds, _ in runs for s in ds]
    if denies:
        first_gate = min((_GATE_OF_KIND[pol.kind] for pol, _ in denies), key=_DENY_GATE_ORDER.index)
        first = next((pol, s) for pol, s in denies if _GATE_OF_KIND[pol.kind] == first_gate)
        gates.append((first_gate, "explicit-deny", f"explicitly denied by {_label(*first)}"))
        return Decision(
            request,
            "explicit-deny",
            first_gate,
            f"explicitly denied by {_label(*first)}",
            arn,
            runs,
            denies,
            gates,
            lazy,
            skipped,
        )

    decisive: list[tuple[CompiledPolicy, CompiledStatement]] = []

    # -- 2. SCPs ----------------------------------------------------------------------------------
    if scp_why is not None:
        gates.append(("scp", "not-applicable", scp_why))
    else:
        scp_allows = [(pol, s) for pol, _, al in scp_runs for s in al]
        if not scp_allows:
            reason = f"no SCP attached to account {p.account} allows {action}"
            gates.append(("scp", "implicit-deny", reason))
            return Decision(
                request, "implicit-deny", "scp", reason, arn, runs, [], gates, lazy, skipped
            )
        gates.append(("scp", "allow", scp_allows[0]))
        decisive.extend(scp_allows)

    # -- 3. RCPs (RCPFullAWSAccess allows everything; attached RCPs can only deny) ----------------
    if rcp_why is not None:
        gates.append(("rcp", "not-applicable", rcp_why))
    else:
        gates.append(("rcp", "allow", f"{RCP_FULL_AWS_ACCESS.name} allows; no RCP denies"))

    # -- 4. the principal side and the resource side ----------------------------------------------
    verdict, gate, reason = _combine(
        request,
        p,
        action,
        account_level,
        res_run,
        id_runs,
        boundary_run,
        session_run,
        gates,
        decisive,
    )
    if verdict != "allow":
        decisive = []
    return Decision(request, verdict, gate, reason, arn, runs, decisive, gates, lazy, skipped)


def _allows(run: _Run | None) -> list[tuple[CompiledPolicy, CompiledStatement]]:
    if run is None:
        return []
    return [(run[0], s) for s in run[2]]


def _combine(
    request: Request,
    p: Principal,
    action: str,
    account_level: bool,
    res_run: _Run | None,
    id_runs: list[_Run],
    boundary_run: _Run | None,
    session_run: _Run | None,
    gates: list[_Gate],
    decisive: list[tuple[CompiledPolicy, CompiledStatement]],
) -> tuple[str, str, str]:
    """(decision, gate, reason) once no explicit deny and no SCP stands in the way."""
    who = _who(p)
    res = request.resource

    # the resource side: the strongest way an applicable Allow names the caller
    grant = GRANT_NONE
    res_allows = _allows(res_run)
    for _, stmt in res_allows:
        if stmt.principal is not None:
            grant = max(grant, stmt.principal.grant(p))
    if account_level:
        gates.append(
            (
                "resource",
                "not-applicable",
                f"{action} is account-level: a repository policy can never grant it",
            )
        )
    elif res_run is None:
        none = (
            f"{action} creates the repository: it has no repository policy yet"
            if action == _CREATE_REPOSITORY
            else "the repository has no repository policy"
        )
        gates.append(("resource", "implicit-deny", none))
    elif grant == GRANT_NONE:
        gates.append(("resource", "implicit-deny", "no statement of the repository policy allows"))
    else:
        gates.append(("resource", "allow", res_allows[0]))

    if p.type not in _IDENTITY_TYPES:
        kind = "a service principal" if p.type is PrincipalType.SERVICE else "an anonymous caller"
        gates.append(("identity", "not-applicable", f"{who} is {kind}: no identity policies"))
        if account_level:
            return (
                "implicit-deny",
                "account-level",
                f"{action} is account-level: only identity policies can grant it, and {who} "
                f"is {kind} without any",
            )
        if grant != GRANT_NONE:
            decisive.extend(res_allows)
            return "allow", "resource", f"allowed by {_label(*res_allows[0])}"
        return (
            "implicit-deny",
            "resource",
            f"no statement of the repository policy allows {who} to call {action}",
        )

    # the identity side: identity policies, then the boundary and the session policy
    id_allows = [(pol, s) for pol, _, al in id_runs for s in al]
    if p.type is PrincipalType.ROOT:
        # There are no identity policies for the root user: it holds every permission in its
        # own account (limited only by SCPs and by explicit denies).
        id_ok = True
        gates.append(("identity", "allow", "the root user has every permission in its account"))
    else:
        id_ok = bool(id_allows)
        if id_ok:
            gates.append(("identity", "allow", id_allows[0]))
        elif not p.policies:
            gates.append(("identity", "implicit-deny", f"{who} has no identity policies"))
        else:
            gates.append(("identity", "implicit-deny", "no identity policy allows"))

    boundary_allows = _allows(boundary_run)
    boundary_ok = boundary_run is None or bool(boundary_allows)
    if boundary_run is None:
        gates.append(("boundary", "not-applicable", "no permissions boundary"))
    elif boundary_ok:
        gates.append(("boundary", "allow", boundary_allows[0]))
    else:
        gates.append(
            (
                "boundary",
                "implicit-deny",
                f"the permissions boundary {boundary_run[0].name} does not allow {action}",
            )
        )

    session_allows = _allows(session_run)
    if session_run is not None:
        session_ok = bool(session_allows)
        if session_ok:
            gates.append(("session", "allow", session_allows[0]))
        else:
            gates.append(
                (
                    "session",
                    "implicit-deny",
                    f"the session policy {session_run[0].name} does not allow {action}",
                )
            )
    elif p.type is PrincipalType.FEDERATED_USER:
        # GetFederationToken: without a session policy the federated user session has no
        # permissions from identity policies (AWS STS API reference, "GetFederationToken").
        session_ok = False
        gates.append(
            (
                "session",
                "implicit-deny",
                "a federated user without a session policy has no "
                "permissions from identity policies",
            )
        )
    else:
        session_ok = True
        gates.append(("session", "not-applicable", "no session policy"))

    limits_ok = boundary_ok and session_ok
    identity_ok = id_ok and limits_ok
    guard = boundary_allows + session_allows

    def identity_failure(limits_only: bool = False) -> tuple[str, str, str]:
        if not id_ok and not limits_only:
            why = (
                "has no identity policies" if not p.policies else "is allowed by no identity policy"
            )
            return "implicit-deny", "identity", f"{who} {why} for {action}"
        if not boundary_ok:
            assert boundary_run is not None
            return (
                "implicit-deny",
                "boundary",
                f"the permissions boundary {boundary_run[0].name} does not allow {action}",
            )
        if session_run is None:
            return (
                "implicit-deny",
                "session",
                f"{who} is a federated user without a session policy: identity policies "
                "grant it nothing",
            )
        return (
            "implicit-deny",
            "session",
            f"the session policy {session_run[0].name} does not allow {action}",
        )

    if account_level:
        if identity_ok:
            decisive.extend(id_allows + guard)
            return "allow", "identity", _identity_reason(id_allows, p)
        return identity_failure()

    assert res is not None
    if p.account == res.account:
        # Same account: the identity side OR the repository policy. A statement naming the
        # caller directly (user, role session, federated user, "*") grants on its own; naming
        # the role is still limited by the boundary and the session policy; naming the account
        # delegates to IAM ("Policy evaluation logic", "Permissions boundaries for IAM entities").
        if grant == GRANT_DIRECT:
            decisive.extend(res_allows)
            return (
                "allow",
                "resource",
                f"allowed by {_label(*res_allows[0])}, which names {who} directly",
            )
        if grant == GRANT_ROLE and limits_ok:
            decisive.extend(res_allows + guard)
            return (
                "allow",
                "resource",
                f"allowed by {_label(*res_allows[0])}, which names the role of {who}",
            )
        if identity_ok:
            decisive.extend(id_allows + guard)
            return "allow", "identity", _identity_reason(id_allows, p)
        if grant == GRANT_ROLE:
            verdict, gate, reason = identity_failure(limits_only=True)
            return verdict, gate, reason + f" (the repository policy names the role of {who})"
        verdict, gate, reason = identity_failure()
        if gate == "identity" and res_run is not None:
            reason += ", and the repository policy does not grant it to the caller"
        return verdict, gate, reason

    # Across accounts both sides must allow ("Cross-account policy evaluation logic").
    if not identity_ok:
        verdict, gate, reason = identity_failure()
        return verdict, gate, reason + " (cross-account access needs the identity side too)"
    if grant == GRANT_NONE:
        return (
            "implicit-deny",
            "resource",
            f"the repository policy of {res.arn} does not allow {who} (cross-account access "
            "needs the repository policy too)"
            if res_run is not None
            else f"{res.arn} has no repository policy (cross-account access needs one)"
            if action != _CREATE_REPOSITORY
            else f"{action} creates the repository: no repository policy can grant it to "
            "another account",
        )
    decisive.extend(id_allows + guard + res_allows)
    return (
        "allow",
        "resource",
        f"allowed across accounts by {_label(*res_allows[0])} and "
        + (_label(*id_allows[0]) if id_allows else "the root user's own permissions"),
    )


def _identity_reason(
    id_allows: list[tuple[CompiledPolicy, CompiledStatement]], p: Principal
) -> str:
    if id_allows:
        return f"allowed by {_label(*id_allows[0])}"
    return "allowed: the root user has every permission in its own account"
