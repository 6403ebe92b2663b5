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
from typing import TYPE_CHECKING, Final

from runner import catalog
from runner.errors import Undecided
from runner.model import (
    Organization,
    Principal,
    PrincipalType,
    Request,
    RequestContext,
    Resource,
)
from runner.policy import CompiledStatement
from runner.request_context import instant_text
from runner.speed import IdentityMemo

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner.engine.evidence import GateReport, PolicyEvidence

__all__ = [
    "Clock",
    "LazyContext",
    "as_created",
    "build_context",
    "current_instant",
    "freeze_clock",
    "parse_instant",
    "set_clock",
    "shared_context",
]

Clock = Callable[[], dt.datetime]

# module-level names for the members read while filling in a context (runner/speed.py); a
# member's value is read as ``_value_``, the attribute behind ``.value`` (a Python-level property)
_SERVICE, _ANONYMOUS, _USER = PrincipalType.SERVICE, PrincipalType.ANONYMOUS, PrincipalType.USER
_ROOT, _FEDERATED_USER = PrincipalType.ROOT, PrincipalType.FEDERATED_USER
_ROLE_SESSION = PrincipalType.ROLE_SESSION

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
    """An instant given by a person, in ISO 8601: a date and time with ``Z`` or an offset
    (``2027-01-01T00:00:00Z``, ``2027-01-01T02:00:00+02:00``); without one it is UTC, and a
    date alone is its midnight UTC, as the date conditions of a policy read them. Whole
    seconds, in UTC, between the years 1 and 9999. Raises ValueError with what was expected."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date and time; expected ISO 8601 such as 2027-01-01T00:00:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC).replace(microsecond=0)
    except OverflowError:  # the offset takes it past the years a datetime holds
        raise ValueError(
            f"{text!r} is outside the years 1 to 9999 in UTC; expected ISO 8601 such as "
            "2027-01-01T00:00:00Z"
        ) from None


def freeze_clock(at: dt.datetime | None = None) -> dt.datetime:
    """Evaluate every later request at one instant: ``at``, or now (whole seconds). A run of
    checks uses this so that all its checks see the same ``aws:CurrentTime``, also across
    pytest-xdist workers. Returns the instant."""
    when = at if at is not None else _system_clock()
    set_clock(lambda: when)
    return when


def current_clock() -> Clock:
    """The clock behind ``aws:CurrentTime`` now: what a caller that sets its own gives back
    after it (an in-process pytest run inside another keeps the outer run's instant)."""
    return _clock


def set_clock(clock: Clock | None) -> None:
    """Replace the clock behind ``aws:CurrentTime`` / ``aws:EpochTime`` (None restores the
    system clock). Tests pass ``now=`` to ``evaluate`` instead where they can."""
    global _clock
    _clock = clock or _system_clock


# ---------------------------------------------------------------------------------------------
# The keys AWS fills in


def _filled_in(
    p: Principal,
    res: Resource | None,
    org: Organization | None,
    account_level: bool,
    when: dt.datetime,
) -> RequestContext:
    # Built as RequestContext holds it, by lowercased name (``values``) with each name as
    # written (``names``): a sixth of the instructions of ``RequestContext(keys)``, which
    # lowercases every name twice (callgrind: half of building a context).
    values: dict[str, tuple[str, ...]] = {}
    names: dict[str, str] = {}
    ptype = p.type
    # "AWS global condition context keys": aws:PrincipalIsAWSService is present in every
    # request signed with AWS credentials, so an unsigned (anonymous) request does not carry it.
    if ptype is _SERVICE:
        values["aws:principalisawsservice"] = ("true",)
        names["aws:principalisawsservice"] = "aws:PrincipalIsAWSService"
        if p.service:
            values["aws:principalservicename"] = (p.service,)
            names["aws:principalservicename"] = "aws:PrincipalServiceName"
    elif ptype is not _ANONYMOUS:
        values["aws:principalisawsservice"] = ("false",)
        names["aws:principalisawsservice"] = "aws:PrincipalIsAWSService"
    else:
        # aws:PrincipalAccount, aws:PrincipalType and aws:userid are "included in the request
        # context for all requests, including anonymous requests"; for anonymous requests
        # aws:PrincipalAccount is "anonymous" ("AWS global condition context keys"), and the
        # table of principal key values ("Policy variables") gives aws:userid "anonymous" and
        # aws:PrincipalType "Anonymous".
        values["aws:principalaccount"] = ("anonymous",)
        names["aws:principalaccount"] = "aws:PrincipalAccount"
        values["aws:principaltype"] = (ptype._value_,)
        names["aws:principaltype"] = "aws:PrincipalType"
        values["aws:userid"] = ("anonymous",)
        names["aws:userid"] = "aws:userid"
    # the principal types with identity-based policies (compared by identity: an Enum hashes
    # in Python)
    if (
        ptype is _ROLE_SESSION or ptype is _USER or ptype is _ROOT or ptype is _FEDERATED_USER
    ) and (p.arn and p.account):
        values["aws:principalarn"] = (p.arn,)
        names["aws:principalarn"] = "aws:PrincipalArn"
        values["aws:principalaccount"] = (p.account,)
        names["aws:principalaccount"] = "aws:PrincipalAccount"
        values["aws:principaltype"] = (ptype._value_,)
        names["aws:principaltype"] = "aws:PrincipalType"
        if ptype is _USER and p.username:
            values["aws:username"] = (p.username,)
            names["aws:username"] = "aws:username"
        # aws:userid is known honestly only where it is not an opaque unique ID ("Policy
        # variables", table of aws:userid values): the account ID for the root user,
        # ACCOUNT:NAME for a federated user. Users and roles have AIDA/AROA IDs we cannot know.
        if ptype is _ROOT:
            values["aws:userid"] = (p.account,)
            names["aws:userid"] = "aws:userid"
        elif ptype is _FEDERATED_USER:
            values["aws:userid"] = (f"{p.account}:{p.arn.rsplit('/', 1)[-1]}",)
            names["aws:userid"] = "aws:userid"
        for tag, value in p.tags.items():
            name = f"aws:PrincipalTag/{tag}"
            values[name.lower()] = (value,)
            names[name.lower()] = name
        if (
            org is not None
            and org.id
            and (p.account in org.accounts or p.account == org.management_account)
        ):
            values["aws:principalorgid"] = (org.id,)
            names["aws:principalorgid"] = "aws:PrincipalOrgID"
    # An account-level action (ecr:GetAuthorizationToken, registry settings) acts on the
    # caller's own registry, whatever repository the check names: its resource account is the
    # caller's, as for the RCPs that apply to it ("Resource control policies").
    owner = p.account if account_level else res.account if res is not None else None
    if owner is not None:
        values["aws:resourceaccount"] = (owner,)
        names["aws:resourceaccount"] = "aws:ResourceAccount"
        # aws:ResourceOrgID "is included in the request context only if the account that owns
        # the resource is a member of an organization" ("AWS global condition context keys";
        # ECR is not among the services it excepts)
        if (
            org is not None
            and org.id
            and (owner in org.accounts or owner == org.management_account)
        ):
            values["aws:resourceorgid"] = (org.id,)
            names["aws:resourceorgid"] = "aws:ResourceOrgID"
    if res is not None:
        values["aws:requestedregion"] = (res.region,)
        names["aws:requestedregion"] = "aws:RequestedRegion"
        if not account_level:
            for tag, value in res.tags.items():
                for name in (f"aws:ResourceTag/{tag}", f"ecr:ResourceTag/{tag}"):
                    values[name.lower()] = (value,)
                    names[name.lower()] = name
    values["aws:securetransport"] = ("true",)
    names["aws:securetransport"] = "aws:SecureTransport"
    # aws:ViaAWSService "is always included in the request context" and is false "when the
    # principal makes the call directly" ("AWS global condition context keys"): every request
    # a check describes is the caller's own call (a case's context can say otherwise)
    values["aws:viaawsservice"] = ("false",)
    names["aws:viaawsservice"] = "aws:ViaAWSService"
    time_values, time_names = _time_keys(when)
    values.update(time_values)
    names.update(time_names)
    return RequestContext.from_lowered(values, names)


# The filled-in keys and the time depend only on the (frozen) principal, repository and
# organization and on the instant: a request without keys of its own has this context itself
# (one copy fewer per context: the merge with the time keys was a third of building one).
_FILLED_IN: IdentityMemo[RequestContext] = IdentityMemo(4096)
_TimeKeys = tuple[dict[str, tuple[str, ...]], dict[str, str]]
_time_keys_of: tuple[dt.datetime, _TimeKeys] | None = None


def _time_keys(when: dt.datetime) -> _TimeKeys:
    """The time keys at ``when``: their values and their names, by lowercased name."""
    global _time_keys_of
    cached = _time_keys_of
    if cached is not None and cached[0] == when:
        return cached[1]
    keys: _TimeKeys = (
        {
            "aws:currenttime": (instant_text(when),),
            "aws:epochtime": (str(int(when.timestamp())),),
        },
        {"aws:currenttime": "aws:CurrentTime", "aws:epochtime": "aws:EpochTime"},
    )
    _time_keys_of = (when, keys)
    return keys


def _context(
    p: Principal,
    res: Resource | None,
    org: Organization | None,
    own: Mapping[str, Sequence[str]] | OwnKeys,
    account_level: bool,
    when: dt.datetime,
) -> RequestContext:
    base = _FILLED_IN.get(
        (p, res, org),
        (account_level, when),
        lambda: _filled_in(p, res, org, account_level, when),
    )
    return base.merged(dict(own)) if own else base


def build_context(request: Request, *, now: dt.datetime | None = None) -> RequestContext:
    """The request context AWS would see: keys filled in from the principal, the repository
    and the organization, the time from ``now`` (default: the engine clock), then the
    request's own ``context`` on top, key by key (key names ignore case). Resource tags are
    left out for an account-level action (its resource is ``*``)."""
    account_level = request.action in catalog.ACTIONS and catalog.is_account_level(request.action)
    return _context(
        request.principal,
        request.resource,
        request.organization,
        request.context,
        account_level,
        now or _clock(),
    )


# ---------------------------------------------------------------------------------------------
# Shared contexts

# A whole context (filled-in keys, the request's own keys, the time) is the same for every
# action of an operation and for every check of a case on one principal and repository; and
# whether a statement applies - its resource, principal and condition block all match - depends
# on nothing else (the action only picks the statements: ``CompiledPolicy.by_action``). So one
# LazyContext is shared by all those requests, with a memo of the statements already matched:
# the 5 actions of a principal in bench_scale's corpus match each statement once instead of
# up to five times. Checks come case by case, so a small memo holds the contexts in use; at
# 1024 it also holds bench_engine.py's 280, requested in random order (at 256 they were
# rebuilt over and over: a third more instructions per decision).
_SHARED: dict[tuple[object, ...], LazyContext] = {}
_SHARED_LIMIT: Final = 1024
OwnKeys = tuple[tuple[str, tuple[str, ...]], ...]


def _own_keys(context: Mapping[str, Sequence[str]]) -> OwnKeys:
    # the request's own keys by value: a caller may reuse one mapping with other contents
    return tuple((k, tuple(v)) for k, v in context.items()) if context else ()


class LazyContext:
    """The request context of the requests of one principal, repository, organization, own
    keys, instant and account-levelness (:func:`shared_context`), built on first use, since
    most decisions never read a key. Calling it returns the context, as
    ``ResourceMatcher.matches`` expects. ``applies`` remembers, per statement, whether it
    applies to these requests, ``evidence`` each policy's applicable statements (see
    ``decide._match``) and ``exemptions`` whether the guardrails apply."""

    __slots__ = (
        "_account_level", "_ctx", "_now", "_organization", "_own", "_resource", "applies",
        "arn", "evidence", "exemptions", "principal", "undecided",
    )  # fmt: skip

    def __init__(
        self,
        principal: Principal,
        resource: Resource | None,
        organization: Organization | None,
        own: OwnKeys,
        account_level: bool,
        now: dt.datetime,
    ) -> None:
        self.principal = principal
        self._resource = resource
        #: the resource the policies are matched against (``*`` for an account-level action)
        self.arn = "*" if account_level or resource is None else resource.arn
        self._organization = organization
        self._own = own
        self._account_level = account_level
        self._now = now
        self._ctx: RequestContext | None = None
        #: the first statement of the request being gathered whose applying AWS leaves open
        #: (``decide._match``; reset for each request)
        self.undecided: Undecided | None = None
        # keyed by the statements themselves (they hash by identity, in C); the principal,
        # repository and organization held here keep them alive
        self.applies: dict[CompiledStatement, bool] = {}
        #: a policy's applicable statements, by the id of its tuple of statements about an
        #: action (``decide._match``)
        self.evidence: dict[int, PolicyEvidence] = {}
        #: why SCPs and RCPs do not apply (None: they do), once found (``decide.gather``)
        self.exemptions: tuple[GateReport | None, GateReport | None] | None = None

    def __call__(self) -> RequestContext:
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = _context(
                self.principal,
                self._resource,
                self._organization,
                self._own,
                self._account_level,
                self._now,
            )
        return ctx


def shared_context(
    p: Principal,
    res: Resource | None,
    org: Organization | None,
    own_context: Mapping[str, Sequence[str]],
    account_level: bool,
    now: dt.datetime,
) -> LazyContext:
    """The LazyContext of a request of principal ``p`` on ``res`` in ``org`` with its own
    context keys ``own_context``, shared with every request that has the same principal,
    repository and organization (the same objects: they are frozen), the same own keys (by
    value), the same instant and the same account-levelness."""
    own = _own_keys(own_context) if own_context else ()
    # Consecutive requests mostly share one (the steps of a check, the actions of a case for
    # one principal): the last is tried first, comparing what it holds, without building and
    # hashing a key (a third of the lookup's instructions, callgrind).
    global _last
    last = _last
    if (
        last is not None
        and last.principal is p
        and last._resource is res
        and last._organization is org
        and last._account_level is account_level
        and last._now is now
        and last._own == own
    ):
        return last
    # An entry holds its principal, repository and organization, so their ids are not reused
    # while it exists (runner/speed.py, IdentityMemo).
    key = (id(p), id(res), id(org), account_level, own, now)
    shared = _SHARED.get(key)
    if shared is None:
        if len(_SHARED) >= _SHARED_LIMIT:
            _SHARED.clear()
        shared = _SHARED[key] = LazyContext(p, res, org, own, account_level, now)
    _last = shared
    return shared


#: the LazyContext :func:`shared_context` returned last
_last: LazyContext | None = None


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
