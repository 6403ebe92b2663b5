"""The request context: the keys AWS fills in for a request, the clock behind the time keys,
and the contexts shared between requests with their condition results.

``build_context(request)`` is what a condition sees: keys filled in from the principal, the
repository and the organization ("AWS global condition context keys"), ``aws:CurrentTime`` /
``aws:EpochTime`` from the clock, then the request's own ``context`` on top, key by key.
:class:`LazyContext` is how the engine reaches it while deciding: built (or found) on first
use, since most decisions never read a key.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from runner import catalog
from runner.model import PrincipalType, Request, RequestContext, Resource
from runner.policy.conditions import CompiledConditions
from runner.speed import IdentityMemo

__all__ = [
    "Clock",
    "LazyContext",
    "as_created",
    "build_context",
    "current_instant",
    "freeze_clock",
    "parse_instant",
    "set_clock",
]

Clock = Callable[[], dt.datetime]

#: The principal types with identity-based policies (and identity keys in the context).
_IDENTITY_TYPES: Final = frozenset(
    {
        PrincipalType.USER,
        PrincipalType.ROLE_SESSION,
        PrincipalType.FEDERATED_USER,
        PrincipalType.ROOT,
    }
)

# ---------------------------------------------------------------------------------------------
# The clock

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


def current_instant() -> dt.datetime:
    """The instant the engine clock gives now (see :func:`set_clock`)."""
    return _clock()


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
    system clock). Tests pass ``now=`` to ``evaluate`` instead where they can."""
    global _clock
    _clock = clock or _system_clock


# ---------------------------------------------------------------------------------------------
# The keys AWS fills in


def _filled_in(request: Request, account_level: bool) -> dict[str, tuple[str, ...]]:
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


# The filled-in keys depend only on the (frozen) principal, repository and organization.
_FILLED_IN: IdentityMemo[RequestContext] = IdentityMemo(4096)
_time_keys_of: tuple[dt.datetime, dict[str, tuple[str, ...]]] | None = None


def _time_keys(when: dt.datetime) -> dict[str, Sequence[str]]:
    global _time_keys_of
    cached = _time_keys_of
    if cached is not None and cached[0] == when:
        return dict(cached[1])
    keys: dict[str, tuple[str, ...]] = {
        "aws:CurrentTime": (when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:EpochTime": (str(int(when.timestamp())),),
    }
    _time_keys_of = (when, keys)
    return dict(keys)


def _context(request: Request, account_level: bool, when: dt.datetime) -> RequestContext:
    base = _FILLED_IN.get(
        (request.principal, request.resource, request.organization),
        account_level,
        lambda: RequestContext(_filled_in(request, account_level)),
    )
    overrides = _time_keys(when)
    if request.context:
        overrides.update(request.context)
    return base.merged(overrides)


def build_context(request: Request, *, now: dt.datetime | None = None) -> RequestContext:
    """The request context AWS would see: keys filled in from the principal, the repository
    and the organization, the time from ``now`` (default: the engine clock), then the
    request's own ``context`` on top, key by key (key names ignore case). Resource tags are
    left out for an account-level action (its resource is ``*``)."""
    account_level = request.action in catalog.ACTIONS and catalog.is_account_level(request.action)
    return _context(request, account_level, now or _clock())


# ---------------------------------------------------------------------------------------------
# Shared contexts

# A whole context (filled-in keys, the request's own keys, the time) is the same for every
# action of an operation and for every check of a case on one principal and repository, and a
# condition block's result depends on nothing but the context. So contexts are shared, each
# with a memo of the condition blocks already evaluated against it: a push (7 actions) against
# large policies evaluates each block once instead of seven times. Checks come case by case,
# so a small memo holds the contexts in use.
_SHARED: IdentityMemo[tuple[RequestContext, dict[int, bool]]] = IdentityMemo(256)


def _own_keys(context: Mapping[str, Sequence[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    # the request's own keys by value: a caller may reuse one mapping with other contents
    return tuple((k, tuple(v)) for k, v in context.items()) if context else ()


class LazyContext:
    """The request context of one request, built (or found among the shared ones) on first
    use. Calling it returns the context, as ``ResourceMatcher.matches`` expects."""

    __slots__ = ("_account_level", "_ctx", "_memo", "_now", "_request")

    def __init__(self, request: Request, account_level: bool, now: dt.datetime) -> None:
        self._request = request
        self._account_level = account_level
        self._now = now
        self._ctx: RequestContext | None = None
        self._memo: dict[int, bool] = {}

    def __call__(self) -> RequestContext:
        ctx = self._ctx
        if ctx is None:
            request = self._request
            ctx, self._memo = _SHARED.get(
                (request.principal, request.resource, request.organization),
                (self._account_level, _own_keys(request.context), self._now),
                lambda: (_context(request, self._account_level, self._now), {}),
            )
            self._ctx = ctx
        return ctx

    def holds(self, conditions: CompiledConditions) -> bool:
        """Whether a condition block holds in this request's context (remembered per context)."""
        ctx = self._ctx if self._ctx is not None else self()
        memo = self._memo
        key = id(conditions)
        result = memo.get(key)
        if result is None:
            result = memo[key] = conditions.evaluate(ctx)
        return result


# ---------------------------------------------------------------------------------------------
# ecr:CreateRepository

# One created view per repository, so that the shared request contexts stay shared.
_CREATED: IdentityMemo[Resource] = IdentityMemo(4096)


def as_created(res: Resource) -> Resource:
    """The repository as ``ecr:CreateRepository`` sees it: no repository policy and no tags
    yet (the call fails with RepositoryAlreadyExistsException if the repository exists)."""
    return _CREATED.get(
        (res,), None, lambda: Resource(res.name, res.arn, res.region, res.account, res.repository)
    )
