"""The data model shared by every layer: frozen, slotted dataclasses and nothing else.

The engine (``engine.py``) consumes these objects; the loader (``loader.py``) builds them from
YAML; neither knows how the other works. Policies arrive here already compiled and validated
(``runner.policy.compile_policy``), so evaluation never re-parses a document.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runner.request_context import RequestContext as RequestContext
from runner.speed import slot_setters

if TYPE_CHECKING:  # pragma: no cover - import only for the type checker
    from runner.exceptions import KnownException
    from runner.policy.compiled import CompiledPolicy

#: A location inside a policy document: keys and list indexes from the document's root,
#: e.g. ``("Statement", 2, "Condition", "StringEqualz")``. Keys are spelled as in the document.
PolicyPath = tuple[str | int, ...]


def format_path(path: PolicyPath) -> str:
    """``("Statement", 2, "Condition")`` -> ``"Statement[2].Condition"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass(frozen=True, slots=True)
class SourceLoc:
    """A place in a file. ``line`` and ``col`` are 1-based, as editors show them."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class PolicyKind(enum.Enum):
    """Where a policy is attached; each kind has its own grammar (see ``runner.policy``).

    ``label`` is how messages and explanations name the kind ("repository policy", "SCP");
    ``long_label`` spells the organization kinds out ("service control policy") where a
    message speaks of attaching one.
    """

    IDENTITY = "identity"
    BOUNDARY = "boundary"
    SESSION = "session"
    RESOURCE = "resource"
    SCP = "scp"
    RCP = "rcp"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self][0]

    @property
    def long_label(self) -> str:
        return _KIND_LABELS[self][1]


_KIND_LABELS = {
    PolicyKind.IDENTITY: ("identity policy", "identity policy"),
    PolicyKind.BOUNDARY: ("permissions boundary", "permissions boundary"),
    PolicyKind.SESSION: ("session policy", "session policy"),
    PolicyKind.RESOURCE: ("repository policy", "repository policy"),
    PolicyKind.SCP: ("SCP", "service control policy"),
    PolicyKind.RCP: ("RCP", "resource control policy"),
}
#: The kinds an AWS managed policy can be attached as: to users and roles, as an identity policy
#: or a permissions boundary, or passed as a session policy.
MANAGED_POLICY_KINDS = frozenset({PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION})


class Verdict(enum.StrEnum):
    """What the engine decides for one request (``Decision.decision``)."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


class Gate(enum.StrEnum):
    """The parts of an evaluation that can decide a request (``Decision.gate``)."""

    SCP = "scp"
    RCP = "rcp"
    IDENTITY = "identity"
    RESOURCE = "resource"
    BOUNDARY = "boundary"
    SESSION = "session"
    ACCOUNT_LEVEL = "account-level"


class Expectation(enum.StrEnum):
    """What a check expects: ``deny`` holds for either reason; the others pin the verdict."""

    ALLOW = "allow"
    DENY = "deny"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"

    def met_by(self, verdict: str) -> bool:
        if self is Expectation.DENY:
            return verdict != Verdict.ALLOW
        return verdict == self.value


class Outcome(enum.StrEnum):
    """How a check ended: ``error`` when its setup failed or evaluation raised; ``xfail`` when
    it failed and its case's known exception accepts that until a date (``runner.exceptions``)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    XFAIL = "xfail"


class PrincipalType(enum.Enum):
    """The kinds of caller the engine models. Values are what ``aws:PrincipalType`` says."""

    USER = "User"
    ROLE_SESSION = "AssumedRole"
    FEDERATED_USER = "FederatedUser"
    ROOT = "Account"
    SERVICE = "Service"
    ANONYMOUS = "Anonymous"


class ModelError(ValueError):
    """A value that cannot describe a real AWS entity (for example a malformed ARN)."""


_ACCOUNT = r"(?P<account>\d{12})"
_PATH_NAME = r"(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]+)"
_USER_ARN = re.compile(rf"^arn:aws:iam::{_ACCOUNT}:user/{_PATH_NAME}$")
_ROLE_ARN = re.compile(rf"^arn:aws:iam::{_ACCOUNT}:role/{_PATH_NAME}$")
_ROOT_ARN = re.compile(rf"^arn:aws:iam::{_ACCOUNT}:root$")
_SESSION_ARN = re.compile(
    rf"^arn:aws:sts::{_ACCOUNT}:assumed-role/(?P<name>[\w+=,.@-]+)/(?P<session>[\w+=,.@-]+)$"
)
_FEDERATED_ARN = re.compile(rf"^arn:aws:sts::{_ACCOUNT}:federated-user/(?P<name>[\w+=,.@-]+)$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
#: A service principal's name (``codebuild.amazonaws.com``): the model and the policy grammar.
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?$")
_REPO_ARN = re.compile(
    r"^arn:aws:ecr:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):(?P<account>\d{12}):repository/"
    r"(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)$"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request.

    ``arn`` is the identity ARN that ``aws:PrincipalArn`` reports: the user ARN, the *role* ARN
    for a role session, the federated-user ARN, the root ARN; ``None`` for a service or an
    anonymous caller. ``session_arn`` is the ``arn:aws:sts::...:assumed-role/ROLE/SESSION`` ARN
    of a role session (``None`` otherwise). Build one with :func:`principal_from_arn`,
    :func:`service_principal` or :func:`anonymous_principal`.
    """

    name: str
    type: PrincipalType
    arn: str | None = None
    session_arn: str | None = None
    account: str | None = None
    service: str | None = None
    username: str | None = None
    policies: tuple[CompiledPolicy, ...] = ()
    boundary: CompiledPolicy | None = None
    session_policy: CompiledPolicy | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_service_linked_role(self) -> bool:
        return self.type is PrincipalType.ROLE_SESSION and bool(
            self.arn and ":role/aws-service-role/" in self.arn
        )


#: How every service-linked role's name starts ("Using service-linked roles": names such as
#: AWSServiceRoleForECRReplication), lowercased (IAM role names are unique ignoring case)
SERVICE_LINKED_ROLE_PREFIX = "awsservicerolefor"


def principal_from_arn(
    name: str,
    arn: str,
    *,
    session: str | None = None,
    policies: Sequence[CompiledPolicy] = (),
    boundary: CompiledPolicy | None = None,
    session_policy: CompiledPolicy | None = None,
    tags: Mapping[str, str] | None = None,
    session_at_root_path: bool = False,
) -> Principal:
    """A principal from an IAM or STS ARN.

    A role ARN (``arn:aws:iam::A:role/PATH/NAME``) makes a role session named ``session``
    (default: ``name``). An assumed-role ARN is taken as that session of the role at path
    ``/`` (a role path cannot be recovered from it); one whose role has a service-linked
    role's name is refused (:data:`SERVICE_LINKED_ROLE_PREFIX`) unless
    ``session_at_root_path``. Raises :class:`ModelError` for anything else.
    """

    def make(
        ptype: PrincipalType,
        principal_arn: str,
        account: str,
        session_arn: str | None = None,
        username: str | None = None,
    ) -> Principal:
        return Principal(
            name,
            ptype,
            arn=principal_arn,
            session_arn=session_arn,
            account=account,
            username=username,
            policies=tuple(policies),
            boundary=boundary,
            session_policy=session_policy,
            tags=dict(tags or {}),
        )

    if m := _ROLE_ARN.match(arn):
        sess = name if session is None else session
        if not _SESSION_NAME.match(sess):
            rule = "a role session name has 2 to 64 letters, digits or the characters =,.@_-"
            if session is None:
                raise ModelError(
                    f"the principal's name {name!r} is its role session name unless 'session' "
                    f"gives one, and {rule}; write {name}: {{arn: {arn}, session: NAME}}"
                )
            raise ModelError(f"invalid role session name {sess!r}: {rule}")
        session_arn = f"arn:aws:sts::{m['account']}:assumed-role/{m['name']}/{sess}"
        return make(PrincipalType.ROLE_SESSION, arn, m["account"], session_arn)
    if m := _SESSION_ARN.match(arn):
        if session is not None and session != m["session"]:
            raise ModelError(f"session {session!r} contradicts the session in {arn!r}")
        role = m["name"]
        if not session_at_root_path and role.lower().startswith(SERVICE_LINKED_ROLE_PREFIX):
            raise ModelError(
                f"{arn} is a session of {role}, named as a service-linked role is; a session "
                "ARN does not carry the role's path, and SCPs and RCPs do not restrict a "
                "service-linked role (path /aws-service-role/SERVICE/), so the tool cannot "
                "tell which role this is: give the role's ARN and the session, {arn: "
                f"arn:aws:iam::{m['account']}:role/aws-service-role/SERVICE/{role}, session: "
                f"{m['session']}}} (role/{role} for a role at path /)"
            )
        role_arn = f"arn:aws:iam::{m['account']}:role/{role}"
        return make(PrincipalType.ROLE_SESSION, role_arn, m["account"], arn)
    if session is not None:
        raise ModelError("'session' applies only to a role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    if m := _USER_ARN.match(arn):
        return make(PrincipalType.USER, arn, m["account"], username=m["name"])
    if m := _FEDERATED_ARN.match(arn):
        return make(PrincipalType.FEDERATED_USER, arn, m["account"])
    if m := _ROOT_ARN.match(arn):
        return make(PrincipalType.ROOT, arn, m["account"])
    raise ModelError(_not_a_principal(arn))


def _not_a_principal(arn: str) -> str:
    return (
        f"not a principal ARN: {arn!r}; expected arn:aws:iam::ACCOUNT:user/NAME, "
        "arn:aws:iam::ACCOUNT:role/NAME, arn:aws:iam::ACCOUNT:root, "
        "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or arn:aws:sts::ACCOUNT:federated-user/NAME"
    )


_ARN_TYPES = (
    (_ROLE_ARN, PrincipalType.ROLE_SESSION),
    (_SESSION_ARN, PrincipalType.ROLE_SESSION),
    (_USER_ARN, PrincipalType.USER),
    (_FEDERATED_ARN, PrincipalType.FEDERATED_USER),
    (_ROOT_ARN, PrincipalType.ROOT),
)


def principal_type(arn: str) -> PrincipalType:
    """The type of the principal that :func:`principal_from_arn` makes of ``arn`` (a role ARN
    makes a role session); raises :class:`ModelError` for an ARN it refuses whatever the
    name and session."""
    for pattern, ptype in _ARN_TYPES:
        if pattern.match(arn):
            return ptype
    raise ModelError(_not_a_principal(arn))


def service_principal(name: str, service: str) -> Principal:
    """A service principal such as ``codebuild.amazonaws.com``."""
    if not SERVICE_PRINCIPAL.match(service):
        raise ModelError(f"not a service principal: {service!r}; expected NAME.amazonaws.com")
    return Principal(name, PrincipalType.SERVICE, service=service)


def anonymous_principal(name: str) -> Principal:
    """An unsigned request."""
    return Principal(name, PrincipalType.ANONYMOUS)


@dataclass(frozen=True, slots=True)
class Resource:
    """An ECR repository. ``policy`` is its repository policy, if any."""

    name: str
    arn: str
    region: str
    account: str
    repository: str
    policy: CompiledPolicy | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def repository(
    name: str,
    arn: str,
    *,
    policy: CompiledPolicy | None = None,
    tags: Mapping[str, str] | None = None,
) -> Resource:
    """A repository from its ARN; raises :class:`ModelError` for a malformed one."""
    m = _REPO_ARN.match(arn)
    if not m:
        raise ModelError(
            f"not an ECR repository ARN: {arn!r}; expected "
            "arn:aws:ecr:REGION:ACCOUNT:repository/NAME (lowercase name, / allowed)"
        )
    return Resource(name, arn, m["region"], m["account"], m["name"], policy, dict(tags or {}))


@dataclass(frozen=True, slots=True)
class Organization:
    """AWS Organizations guardrails. ``scps`` are the attached SCPs (FullAWSAccess included
    when attached); ``rcps`` the attached RCPs *besides* the always-implied RCPFullAWSAccess."""

    id: str | None = None
    management_account: str | None = None
    accounts: frozenset[str] = frozenset()
    scps: tuple[CompiledPolicy, ...] = ()
    rcps: tuple[CompiledPolicy, ...] = ()


#: The default of Request.context: a new empty dict for each request, as a default_factory.
_NO_CONTEXT: Mapping[str, Sequence[str]] = {}


@dataclass(frozen=True, slots=True, init=False)
class Request:
    """One request to decide. ``action`` is a catalog action name (``ecr:BatchGetImage``).
    ``resource`` is the repository named by the check, or None; for an account-level action
    the engine evaluates against resource ``*`` in the caller's own account
    (``aws:ResourceAccount``) and ignores the repository policy, but still takes the region
    from the repository. ``context`` holds the spec's explicit
    keys; the engine fills in the rest (see ``engine.build_context``)."""

    principal: Principal
    action: str
    resource: Resource | None = None
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    organization: Organization | None = None

    # built for every step of every check: see runner.speed.slot_setters
    def __init__(
        self,
        principal: Principal,
        action: str,
        resource: Resource | None = None,
        context: Mapping[str, Sequence[str]] = _NO_CONTEXT,
        organization: Organization | None = None,
    ) -> None:
        s0, s1, s2, s3, s4 = _REQUEST_SETTERS
        s0(self, principal)
        s1(self, action)
        s2(self, resource)
        s3(self, {} if context is _NO_CONTEXT else context)
        s4(self, organization)


_REQUEST_SETTERS = slot_setters(Request)


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One thing wrong with a policy document, at ``path`` inside it."""

    path: PolicyPath
    message: str

    def __str__(self) -> str:
        where = format_path(self.path)
        return f"{where}: {self.message}" if where else self.message


class PolicyInvalid(ValueError):
    """A policy document that AWS would reject where it is attached; ``problems`` has them all."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems: tuple[PolicyProblem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


#: What a check expects: ``allow``, ``deny`` (any reason), ``explicit-deny`` or ``implicit-deny``.
EXPECTATIONS = ("allow", "deny", "explicit-deny", "implicit-deny")


class CallerKind(enum.StrEnum):
    """The ``type`` of a class of callers (spec-format.md, "Universal checks")."""

    USER = "user"
    ROLE = "role"
    ROOT = "root"
    FEDERATED = "federated"
    SERVICE = "service"
    ANONYMOUS = "anonymous"

    @property
    def label(self) -> str:
        return _CALLER_KIND_LABELS[self]


_CALLER_KIND_LABELS = {
    CallerKind.USER: "IAM user",
    CallerKind.ROLE: "role session",
    CallerKind.ROOT: "root user",
    CallerKind.FEDERATED: "federated user",
    CallerKind.SERVICE: "service principal",
    CallerKind.ANONYMOUS: "anonymous caller",
}


class Membership(enum.StrEnum):
    """The ``organization`` of a class: IAM callers of the organization's accounts (the
    management account's too), or every other caller."""

    INSIDE = "inside"
    OUTSIDE = "outside"


@dataclass(frozen=True, slots=True)
class CallerClass:
    """A class of callers (``anyone: {...}``): every condition given must hold. ``name`` is
    the class's principal name (``anyone`` for the reserved principal)."""

    name: str = "anyone"
    organization: Membership | None = None
    accounts: frozenset[str] | None = None
    kinds: frozenset[CallerKind] | None = None
    excluded: frozenset[str] = frozenset()

    def describe(self) -> str:
        """The class in words: ``role sessions of account 111122223333 except ci``."""
        parts: list[str] = []
        if self.kinds is not None:
            parts.append(" or ".join(sorted(k.label + "s" for k in self.kinds)))
        else:
            parts.append("every caller")
        if self.accounts is not None:
            parts.append("of account " + ", ".join(sorted(self.accounts)))
        if self.organization is Membership.INSIDE:
            parts.append("inside the organization")
        elif self.organization is Membership.OUTSIDE:
            parts.append("outside the organization")
        if self.excluded:
            parts.append("except " + ", ".join(sorted(self.excluded)))
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Universal:
    """What a universal check speaks of: its class, every principal the spec defines (by
    name) and the spec's closed accounts (``closed-accounts``)."""

    caller_class: CallerClass
    defined: Mapping[str, Principal]
    closed_accounts: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, init=False)
class Check:
    """One expectation: one principal, one resource (or none), one action or operation.

    ``action`` is what the spec names after expansion: a canonical ECR action
    (``ecr:PutImage``) or an operation (``pull``, ``push``). ``steps`` are the ECR actions to
    evaluate (one for an action, several for an operation). ``context`` is the case's explicit
    context merged over the file's. ``test_id`` is the part of the pytest id after the file,
    e.g. ``CI pushes to prod[ci-prod-push]``; it is unique within its spec file.
    """

    file: str
    loc: SourceLoc
    case: str
    case_index: int
    test_id: str
    principal: Principal
    resource: Resource | None
    action: str
    steps: tuple[str, ...]
    expected: str
    context: Mapping[str, tuple[str, ...]]
    organization: Organization | None
    #: Set when this one check cannot be evaluated (``file:line:col: message``), for example
    #: a key AWS always sets that the case must give; the spec's other checks still run.
    error: str | None = None
    #: The case's accepted failure with its end date (``exception:``), if it has one.
    exception: KnownException | None = None
    #: Set for a universal check (spec-format.md, "Universal checks"): the class of callers
    #: it speaks of; ``principal`` is then a stand-in named after the class.
    universal: Universal | None = None

    # built for every check (~20,000 in benchmarks/bench_scale.py eval): see
    # runner.speed.slot_setters; the same parameters and defaults as the dataclass's own
    def __init__(
        self,
        file: str,
        loc: SourceLoc,
        case: str,
        case_index: int,
        test_id: str,
        principal: Principal,
        resource: Resource | None,
        action: str,
        steps: tuple[str, ...],
        expected: str,
        context: Mapping[str, tuple[str, ...]],
        organization: Organization | None,
        error: str | None = None,
        exception: KnownException | None = None,
        universal: Universal | None = None,
    ) -> None:
        (s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14) = _CHECK_SETTERS
        s0(self, file)
        s1(self, loc)
        s2(self, case)
        s3(self, case_index)
        s4(self, test_id)
        s5(self, principal)
        s6(self, resource)
        s7(self, action)
        s8(self, steps)
        s9(self, expected)
        s10(self, context)
        s11(self, organization)
        s12(self, error)
        s13(self, exception)
        s14(self, universal)


_CHECK_SETTERS = slot_setters(Check)


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """A named policy as loaded, for the report's statement coverage."""

    name: str
    policy: CompiledPolicy
    loc: SourceLoc


@dataclass(frozen=True, slots=True)
class Spec:
    """A loaded spec file: its checks in order and every policy it (or its includes) defines."""

    path: str
    description: str | None
    checks: tuple[Check, ...]
    policies: tuple[PolicyInfo, ...]
    #: Located problems that do not stop the spec (an unknown condition key, say), each
    #: ``file:line:col: message``: pytest warnings, the CLI's stderr, the report.
    warnings: tuple[str, ...] = ()
    #: Accounts whose every principal the spec defines (an ``authorization-details`` import
    #: closes its account): no unmodelled IAM caller comes from them.
    closed_accounts: frozenset[str] = frozenset()
