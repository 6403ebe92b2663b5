"""The evidence a decision rests on: each gate's result and why, each policy's applicable
statements, and the :class:`Evidence` of one request that holds them all.

``decide.gather`` builds it and ``decide.decide`` rules over it; ``explain.py`` words it. The
gate reports are singletons (one per combination, defined here) and compare by identity, as
do the evidence objects, whose parts are interned.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Final

from runner.model import Gate, PolicyKind, Request
from runner.policy import CompiledPolicy, CompiledStatement
from runner.speed import interned

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner.engine.context import LazyContext

__all__ = [
    "BOUNDARY_ALLOWS",
    "BOUNDARY_DENIES",
    "BOUNDARY_NONE",
    "GATE_OF_KIND",
    "IDENTITY_ALLOWS",
    "IDENTITY_DENIES",
    "IDENTITY_NONE_FOR_CALLER",
    "IDENTITY_NO_POLICY",
    "IDENTITY_ROOT_USER",
    "RCP_ALLOWS",
    "RCP_MANAGEMENT_ACCOUNT",
    "RCP_NONE_ATTACHED",
    "RCP_NOT_A_MEMBER",
    "RCP_NO_ORGANIZATION",
    "RCP_NO_RESOURCE_ACCOUNT",
    "RCP_SERVICE_LINKED_ROLE",
    "RESOURCE_ACCOUNT_LEVEL",
    "RESOURCE_CREATES_REPOSITORY",
    "RESOURCE_DENIES",
    "RESOURCE_NAMES_ACCOUNT",
    "RESOURCE_NAMES_CALLER",
    "RESOURCE_NAMES_ROLE",
    "RESOURCE_NO_POLICY",
    "SCP_ALLOWS",
    "SCP_DENIES",
    "SCP_MANAGEMENT_ACCOUNT",
    "SCP_NONE_ATTACHED",
    "SCP_NOT_A_MEMBER",
    "SCP_NO_ACCOUNT",
    "SCP_NO_ORGANIZATION",
    "SCP_SERVICE_LINKED_ROLE",
    "SCP_SERVICE_PRINCIPAL",
    "SESSION_ALLOWS",
    "SESSION_DENIES",
    "SESSION_FEDERATED_WITHOUT_POLICY",
    "SESSION_NONE",
    "Evidence",
    "GateReport",
    "GateReports",
    "GateResult",
    "PolicyEvidence",
    "Skipped",
    "Why",
    "gate_reports",
    "make_evidence",
    "policy_evidence",
]


class GateResult(enum.StrEnum):
    """What one gate says about a request (a gate that does not take part: ``not-applicable``)."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"
    NOT_APPLICABLE = "not-applicable"


class Why(enum.Enum):
    """Why a gate has its result, or why a policy was not consulted."""

    # a guardrail that does not apply (SCPs, RCPs)
    NO_ORGANIZATION = enum.auto()
    SERVICE_PRINCIPAL = enum.auto()
    NO_ACCOUNT = enum.auto()
    NO_RESOURCE_ACCOUNT = enum.auto()
    MANAGEMENT_ACCOUNT = enum.auto()
    NOT_A_MEMBER = enum.auto()
    SERVICE_LINKED_ROLE = enum.auto()
    NONE_ATTACHED = enum.auto()
    # a gate that takes part
    STATEMENT_ALLOWS = enum.auto()
    NO_STATEMENT_ALLOWS = enum.auto()
    NO_RCP_DENIES = enum.auto()
    NAMES_CALLER = enum.auto()
    NAMES_ROLE = enum.auto()
    NAMES_ACCOUNT = enum.auto()
    ROOT_USER = enum.auto()
    NO_POLICY = enum.auto()
    FEDERATED_WITHOUT_SESSION_POLICY = enum.auto()
    NO_IDENTITY_SIDE = enum.auto()
    # the repository policy does not take part
    ACCOUNT_LEVEL = enum.auto()
    CREATES_REPOSITORY = enum.auto()


@dataclass(frozen=True, slots=True, eq=False)
class GateReport:
    """One gate's result and why (the statement behind an allow is in the evidence). There is
    one report per combination, defined below: reports compare by identity."""

    gate: Gate
    result: GateResult
    why: Why


_NA, _ALLOW, _DENY = GateResult.NOT_APPLICABLE, GateResult.ALLOW, GateResult.IMPLICIT_DENY
SCP_NO_ORGANIZATION: Final = GateReport(Gate.SCP, _NA, Why.NO_ORGANIZATION)
SCP_SERVICE_PRINCIPAL: Final = GateReport(Gate.SCP, _NA, Why.SERVICE_PRINCIPAL)
SCP_NO_ACCOUNT: Final = GateReport(Gate.SCP, _NA, Why.NO_ACCOUNT)
SCP_MANAGEMENT_ACCOUNT: Final = GateReport(Gate.SCP, _NA, Why.MANAGEMENT_ACCOUNT)
SCP_NOT_A_MEMBER: Final = GateReport(Gate.SCP, _NA, Why.NOT_A_MEMBER)
SCP_SERVICE_LINKED_ROLE: Final = GateReport(Gate.SCP, _NA, Why.SERVICE_LINKED_ROLE)
SCP_NONE_ATTACHED: Final = GateReport(Gate.SCP, _NA, Why.NONE_ATTACHED)
SCP_ALLOWS: Final = GateReport(Gate.SCP, _ALLOW, Why.STATEMENT_ALLOWS)
SCP_DENIES: Final = GateReport(Gate.SCP, _DENY, Why.NO_STATEMENT_ALLOWS)
RCP_NO_ORGANIZATION: Final = GateReport(Gate.RCP, _NA, Why.NO_ORGANIZATION)
RCP_NO_RESOURCE_ACCOUNT: Final = GateReport(Gate.RCP, _NA, Why.NO_RESOURCE_ACCOUNT)
RCP_MANAGEMENT_ACCOUNT: Final = GateReport(Gate.RCP, _NA, Why.MANAGEMENT_ACCOUNT)
RCP_NOT_A_MEMBER: Final = GateReport(Gate.RCP, _NA, Why.NOT_A_MEMBER)
RCP_SERVICE_LINKED_ROLE: Final = GateReport(Gate.RCP, _NA, Why.SERVICE_LINKED_ROLE)
RCP_NONE_ATTACHED: Final = GateReport(Gate.RCP, _NA, Why.NONE_ATTACHED)
#: RCPFullAWSAccess allows everything; attached RCPs can only deny
RCP_ALLOWS: Final = GateReport(Gate.RCP, _ALLOW, Why.NO_RCP_DENIES)
RESOURCE_ACCOUNT_LEVEL: Final = GateReport(Gate.RESOURCE, _NA, Why.ACCOUNT_LEVEL)
RESOURCE_CREATES_REPOSITORY: Final = GateReport(Gate.RESOURCE, _DENY, Why.CREATES_REPOSITORY)
RESOURCE_NO_POLICY: Final = GateReport(Gate.RESOURCE, _DENY, Why.NO_POLICY)
RESOURCE_DENIES: Final = GateReport(Gate.RESOURCE, _DENY, Why.NO_STATEMENT_ALLOWS)
RESOURCE_NAMES_CALLER: Final = GateReport(Gate.RESOURCE, _ALLOW, Why.NAMES_CALLER)
RESOURCE_NAMES_ROLE: Final = GateReport(Gate.RESOURCE, _ALLOW, Why.NAMES_ROLE)
RESOURCE_NAMES_ACCOUNT: Final = GateReport(Gate.RESOURCE, _ALLOW, Why.NAMES_ACCOUNT)
IDENTITY_NONE_FOR_CALLER: Final = GateReport(Gate.IDENTITY, _NA, Why.NO_IDENTITY_SIDE)
IDENTITY_ROOT_USER: Final = GateReport(Gate.IDENTITY, _ALLOW, Why.ROOT_USER)
IDENTITY_ALLOWS: Final = GateReport(Gate.IDENTITY, _ALLOW, Why.STATEMENT_ALLOWS)
IDENTITY_NO_POLICY: Final = GateReport(Gate.IDENTITY, _DENY, Why.NO_POLICY)
IDENTITY_DENIES: Final = GateReport(Gate.IDENTITY, _DENY, Why.NO_STATEMENT_ALLOWS)
BOUNDARY_NONE: Final = GateReport(Gate.BOUNDARY, _NA, Why.NO_POLICY)
BOUNDARY_ALLOWS: Final = GateReport(Gate.BOUNDARY, _ALLOW, Why.STATEMENT_ALLOWS)
BOUNDARY_DENIES: Final = GateReport(Gate.BOUNDARY, _DENY, Why.NO_STATEMENT_ALLOWS)
SESSION_NONE: Final = GateReport(Gate.SESSION, _NA, Why.NO_POLICY)
SESSION_ALLOWS: Final = GateReport(Gate.SESSION, _ALLOW, Why.STATEMENT_ALLOWS)
SESSION_DENIES: Final = GateReport(Gate.SESSION, _DENY, Why.NO_STATEMENT_ALLOWS)
SESSION_FEDERATED_WITHOUT_POLICY: Final = GateReport(
    Gate.SESSION, _DENY, Why.FEDERATED_WITHOUT_SESSION_POLICY
)


@dataclass(frozen=True, slots=True, eq=False)
class GateReports:
    """The result of every gate. ``boundary`` and ``session`` are None for a caller without
    an identity side (a service principal, an anonymous caller)."""

    scp: GateReport
    rcp: GateReport
    resource: GateReport
    identity: GateReport
    boundary: GateReport | None
    session: GateReport | None


#: The gate each kind of policy belongs to; policies are gathered, and denies looked for, in
#: this order.
GATE_OF_KIND: Final = {
    PolicyKind.SCP: Gate.SCP,
    PolicyKind.RCP: Gate.RCP,
    PolicyKind.RESOURCE: Gate.RESOURCE,
    PolicyKind.IDENTITY: Gate.IDENTITY,
    PolicyKind.BOUNDARY: Gate.BOUNDARY,
    PolicyKind.SESSION: Gate.SESSION,
}


@dataclass(frozen=True, slots=True, eq=False)
class PolicyEvidence:
    """One policy that took part: its applicable ``Deny`` and ``Allow`` statements (action,
    resource, principal and conditions all match), in document order."""

    policy: CompiledPolicy
    denies: tuple[CompiledStatement, ...]
    allows: tuple[CompiledStatement, ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A policy attached to the repository that does not take part, and why."""

    policy: CompiledPolicy
    why: Why


@dataclass(frozen=True, slots=True, eq=False)
class Evidence:
    """Everything the decision rests on. ``request`` is the request as decided (for
    ``ecr:CreateRepository``, the repository as it is created); ``arn`` the resource matched
    (``*`` for an account-level action). ``policies`` are in gate order (SCPs, RCPs, the
    repository policy, identity policies, boundary, session policy)."""

    request: Request
    arn: str
    account_level: bool
    context: LazyContext
    policies: tuple[PolicyEvidence, ...]
    skipped: tuple[Skipped, ...]
    gates: GateReports

    def allows(self, kind: PolicyKind) -> list[tuple[CompiledPolicy, CompiledStatement]]:
        """The applicable Allow statements of the policies of ``kind``, with their policies."""
        return [(ev.policy, s) for ev in self.policies if ev.policy.kind is kind for s in ev.allows]

    def denies(self) -> list[tuple[CompiledPolicy, CompiledStatement]]:
        """Every applicable Deny statement, in gate order, with its policy."""
        return [(ev.policy, s) for ev in self.policies for s in ev.denies]


# Evidence is built for every request. Setting its slots through their descriptors costs half
# of the frozen dataclass's own __init__, which finds and calls object.__setattr__ once per
# field (7 fields: 6,100 instructions against 11,200, callgrind; 1.1 us against 2.3 us,
# timeit); assigning to it later still raises FrozenInstanceError, as its class's __setattr__
# is untouched. Policy evidence is built the same way when it is not found interned.
_new_object = object.__new__
(
    _set_request,
    _set_arn,
    _set_account_level,
    _set_context,
    _set_policies,
    _set_skipped,
    _set_gates,
) = (getattr(Evidence, f.name).__set__ for f in fields(Evidence))


def make_evidence(
    request: Request,
    arn: str,
    account_level: bool,
    context: LazyContext,
    policies: tuple[PolicyEvidence, ...],
    skipped: tuple[Skipped, ...],
    gates: GateReports,
) -> Evidence:
    """``Evidence(request, arn, ...)``, built faster."""
    ev: Evidence = _new_object(Evidence)
    _set_request(ev, request)
    _set_arn(ev, arn)
    _set_account_level(ev, account_level)
    _set_context(ev, context)
    _set_policies(ev, policies)
    _set_skipped(ev, skipped)
    _set_gates(ev, gates)
    return ev


_set_policy, _set_denies, _set_allows = (
    getattr(PolicyEvidence, f.name).__set__ for f in fields(PolicyEvidence)
)


def _policy_evidence(
    policy: CompiledPolicy,
    denies: tuple[CompiledStatement, ...],
    allows: tuple[CompiledStatement, ...],
) -> PolicyEvidence:
    ev: PolicyEvidence = _new_object(PolicyEvidence)
    _set_policy(ev, policy)
    _set_denies(ev, denies)
    _set_allows(ev, allows)
    return ev


#: ``PolicyEvidence(...)`` and ``GateReports(...)``, one instance per distinct set of parts: the
#: same few policy results and gate combinations recur across requests (runner/speed.py).
policy_evidence = interned(8192)(_policy_evidence)
gate_reports = interned(1024)(GateReports)
