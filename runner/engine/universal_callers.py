"""The callers a universal check considers: finitely many, standing for every possible caller.

Defined principals are themselves (a defined role also through its other sessions). Every
other caller is *unmodelled*; what can tell two unmodelled callers of one kind apart is their
ARN (account, path, name), and only through the tests that the guard policies (repository
policy, SCPs, RCPs) and the spec apply to it: Principal elements, conditions on
aws:PrincipalArn / aws:PrincipalAccount / aws:username / aws:userid, the organization's
accounts, the repository's account, closed accounts, the class's accounts, the defined
principals' ARNs, service-linked role paths. So per kind the ARN is enumerated as text with
``universal_strings.cells``, the ARN's shape being a constraint: one caller per realizable
combination of those tests. Role sessions: the session names Principal elements mention, and
one more. Service principals: the same over service names; anonymous: one caller. The tests
themselves (the shapes of ARNs, what conditions and Principal elements test) are built in
:mod:`runner.engine.universal_arns`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runner.engine.universal_arns import (
    ANY_RUN,
    ARN_PREFIX,
    Collected,
    Resolve,
    account_test,
    arn_shape,
    label_of,
    negative_shape,
    no_variables,
    not_text,
    segment,
    text_programs,
)
from runner.engine.universal_strings import (
    LIT,
    ONE,
    RUN,
    CharClass,
    StateBudgetExceeded,
    Test,
    Token,
    cells,
    literal_program,
    matches,
)
from runner.engine.universal_values import Entry, Family, Undecidable
from runner.model import (
    CallerClass,
    CallerKind,
    Membership,
    ModelError,
    Organization,
    PolicyKind,
    Principal,
    PrincipalType,
    principal_from_arn,
    service_principal,
)
from runner.policy import CompiledPolicy, compile_policy

__all__ = [
    "ALLOW_ALL",
    "Caller",
    "CallerClass",
    "CallerKind",
    "Membership",
    "Resolve",
    "bare_session",
    "has_path",
    "kind_of",
]


_KIND_OF_TYPE = {
    PrincipalType.USER: CallerKind.USER,
    PrincipalType.ROLE_SESSION: CallerKind.ROLE,
    PrincipalType.ROOT: CallerKind.ROOT,
    PrincipalType.FEDERATED_USER: CallerKind.FEDERATED,
    PrincipalType.SERVICE: CallerKind.SERVICE,
    PrincipalType.ANONYMOUS: CallerKind.ANONYMOUS,
}
_IAM_KINDS = (CallerKind.USER, CallerKind.ROLE, CallerKind.ROOT, CallerKind.FEDERATED)


def kind_of(p: Principal) -> CallerKind:
    return _KIND_OF_TYPE[p.type]


#: The identity policy of an unmodelled caller: unknown, so taken to allow everything.
ALLOW_ALL: CompiledPolicy = compile_policy(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    PolicyKind.IDENTITY,
    name="unmodelled identity policy (allows everything)",
)
#: The session policy of an unmodelled federated user (GetFederationToken needs one to grant
#: anything; unknown, so taken to allow everything).
ALLOW_ALL_SESSION: CompiledPolicy = compile_policy(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    PolicyKind.SESSION,
    name="unmodelled session policy (allows everything)",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """One representative caller. ``name`` is the defined principal's name (None when
    unmodelled); ``free_tags``: its principal tags range over every value."""

    principal: Principal
    kind: CallerKind
    name: str | None
    description: str
    inside: bool
    free_tags: bool = False
    notes: tuple[str, ...] = field(default=())


def _inside(p: Principal, org: Organization | None) -> bool:
    if org is None or p.account is None or p.type not in _IAM_PTYPES:
        return False
    return p.account in org.accounts or p.account == org.management_account


_IAM_PTYPES = frozenset(
    {
        PrincipalType.USER,
        PrincipalType.ROLE_SESSION,
        PrincipalType.ROOT,
        PrincipalType.FEDERATED_USER,
    }
)


def in_class(cls: CallerClass, kind: CallerKind, account: str | None, inside: bool) -> bool:
    if cls.kinds is not None and kind not in cls.kinds:
        return False
    if cls.accounts is not None and (account is None or account not in cls.accounts):
        return False
    if cls.organization is Membership.INSIDE and not inside:
        return False
    return not (cls.organization is Membership.OUTSIDE and inside)


# ---------------------------------------------------------------------------------------------
# Enumeration


@dataclass(frozen=True, slots=True)
class Universe:
    """Everything that tells callers apart, besides the guard policies."""

    cls: CallerClass
    defined: Mapping[str, Principal]
    closed: frozenset[str]
    organization: Organization | None
    resource_account: str | None


def _fresh_session(taken: set[str]) -> str:
    name = "other-session"
    n = 2
    while name in taken:
        name = f"other-session-{n}"
        n += 1
    return name


def _role_sessions(p: Principal, sessions: Mapping[tuple[str, str], set[str]]) -> list[str]:
    assert p.arn is not None and p.account is not None
    role = p.arn.rsplit("/", 1)[-1]
    named = sorted(sessions.get((p.account, role), set()))
    return [*named, _fresh_session({*named, (p.session_arn or "").rsplit("/", 1)[-1]})]


def defined_callers(u: Universe, sessions: Mapping[tuple[str, str], set[str]]) -> list[Caller]:
    out: list[Caller] = []
    for name, p in u.defined.items():
        kind = kind_of(p)
        inside = _inside(p, u.organization)
        if name in u.cls.excluded or not in_class(u.cls, kind, p.account, inside):
            continue
        out.append(Caller(p, kind, name, f"the defined principal {name}", inside))
        if kind is CallerKind.ROLE and p.arn is not None:
            own = (p.session_arn or "").rsplit("/", 1)[-1]
            for session in _role_sessions(p, sessions):
                if session == own:
                    continue
                other = Principal(
                    name,
                    p.type,
                    arn=p.arn,
                    session_arn=f"arn:aws:sts::{p.account}:assumed-role/"
                    f"{p.arn.rsplit('/', 1)[-1]}/{session}",
                    account=p.account,
                    policies=p.policies,
                    boundary=p.boundary,
                    session_policy=None,
                    tags=p.tags,
                )
                what = f"the defined role {name} in another session ({session})"
                if p.session_policy is not None:
                    what += ", without the session policy"
                out.append(Caller(other, kind, name, what, inside))
    return out


def unmodelled_iam(
    u: Universe,
    kind: CallerKind,
    got: Collected,
) -> list[Caller]:
    """One unmodelled caller of ``kind`` per realizable combination of the tests on ARNs."""
    org = u.organization
    labelled: list[tuple[str, Test]] = list(got.tests)
    member = [a for a in sorted(org.accounts)] if org is not None else []
    mgmt = org.management_account if org is not None else None
    marks: dict[str, list[int]] = {
        "member": [],
        "mgmt": [],
        "closed": [],
        "class": [],
        "defined": [],
    }

    def add(mark: str, label: str, test: Test) -> None:
        marks[mark].append(len(labelled))
        labelled.append((label, test))

    for account in member:
        add("member", "member account", account_test(kind, literal_program(account)))
    if mgmt:
        add("mgmt", "management account", account_test(kind, literal_program(mgmt)))
    for account in sorted(u.closed):
        add("closed", "closed account", account_test(kind, literal_program(account)))
    for account in sorted(u.cls.accounts or ()):
        add("class", "class account", account_test(kind, literal_program(account)))
    for p in u.defined.values():
        if kind_of(p) is kind and p.arn is not None:
            add("defined", "defined principal", Test((literal_program(p.arn),)))
    if u.resource_account:
        labelled.append(
            ("resource account", account_test(kind, literal_program(u.resource_account)))
        )
    if kind is CallerKind.ROLE:
        slr = (ANY_RUN, *literal_program(":role/aws-service-role/"), ANY_RUN)
        labelled.append(("service-linked role", Test((slr,))))
    shape = arn_shape(kind)
    negative = negative_shape(kind)
    # A test that no ARN of this kind passes (a role's ARN for users), or that every one
    # passes, tells no callers apart: it is left out of the product and kept as a constant.
    kept: list[Test] = []
    index_of: dict[Test, int] = {}
    where: list[tuple[bool, int]] = []  # (constant?, the constant or the index in kept)
    try:
        for _, test in labelled:
            if test in index_of:
                where.append((False, index_of[test]))
                continue
            seen = _values_of(kind, shape, negative, test)
            if len(seen) == 1:
                where.append((True, int(seen.pop())))
                continue
            index_of[test] = len(kept)
            where.append((False, len(kept)))
            kept.append(test)
        found = cells([*shape, *negative, *kept], require=len(shape))
    except StateBudgetExceeded:
        raise Undecidable(
            f"the tests on the ARNs of {kind.label}s are too many to enumerate exactly "
            f"({len(labelled)} tests)"
        ) from None
    except Undecidable as exc:
        shown = "; ".join(sorted({label for label, test in labelled if test.lower}))
        raise Undecidable(f"{shown}: {exc}") from None
    offset = len(negative)
    out: list[Caller] = []
    for vector, arn in sorted(found.items(), key=lambda kv: (len(kv[1]), kv[1])):
        if any(vector[:offset]):
            continue
        rest = vector[offset:]
        bits = [bool(value) if constant else rest[value] for constant, value in where]
        if any(bits[i] for i in marks["defined"]):
            continue
        # A closed account has no unmodelled user, role or federated user; its root user
        # always exists (an account cannot be without one) and keeps the root's own rights.
        if kind is not CallerKind.ROOT and any(bits[i] for i in marks["closed"]):
            continue
        if u.cls.accounts is not None and not any(bits[i] for i in marks["class"]):
            continue
        inside = any(bits[i] for i in marks["member"] + marks["mgmt"])
        if u.cls.organization is Membership.INSIDE and not inside:
            continue
        if u.cls.organization is Membership.OUTSIDE and inside:
            continue
        out.extend(_iam_caller(kind, arn, inside, got.sessions, org is not None))
    return out


def _values_of(kind: CallerKind, shape: list[Test], negative: list[Test], test: Test) -> set[bool]:
    """The results ``test`` can have on ARNs of ``kind``: quick answers for an exact ARN and
    for an account, the product of the shape and the test otherwise."""
    if len(test.programs) == 1 and not test.lower:
        program = test.programs[0]
        if all(t.kind == LIT for t in program):
            text = "".join(t.char for t in program)
            valid = all(matches(s, text) for s in shape) and not any(
                matches(n, text) for n in negative
            )
            return {True, False} if valid else {False}
        head = program[:-1]
        if program[-1] == ANY_RUN and all(t.kind == LIT for t in head):
            text = "".join(t.char for t in head)
            prefix = ARN_PREFIX[kind]
            account = text[len(prefix) : -1]
            if text.startswith(prefix) and text.endswith(":") and _ACCOUNT_ID.match(account):
                return {True, False}
    return {vector[0] for vector in cells([*shape, test], require=len(shape))}


_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


def _iam_caller(
    kind: CallerKind,
    arn: str,
    inside: bool,
    sessions: Mapping[tuple[str, str], set[str]],
    has_org: bool = True,
) -> list[Caller]:
    if not has_org:
        where = "the spec has no organization"
    else:
        where = "inside the organization" if inside else "outside the organization"
    try:
        if kind is CallerKind.ROLE:
            base = principal_from_arn("unmodelled", arn, session="sessionless")
            out: list[Caller] = []
            names = _role_sessions(base, sessions)
            if has_path(arn):
                # a session ARN drops the role's path: the witness names the role ARN, which
                # an ordinary check takes in the session named after the role
                default = bare_session(arn)
                if default not in names[:-1]:
                    names[-1] = default
            for session in names:
                p = principal_from_arn("unmodelled", arn, session=session, policies=[ALLOW_ALL])
                desc = f"an unmodelled role session {p.session_arn} of {arn}"
                if p.is_service_linked_role:
                    desc += " (a service-linked role: SCPs and RCPs do not restrict it)"
                desc += f" (account {p.account}, {where})"
                out.append(Caller(p, kind, None, desc, inside, free_tags=True))
            return out
        if kind is CallerKind.ROOT:
            p = principal_from_arn("unmodelled", arn)
            desc = f"the root user of account {p.account} ({where}), not defined by the spec"
            return [Caller(p, kind, None, desc, inside)]
        if kind is CallerKind.FEDERATED:
            p = principal_from_arn(
                "unmodelled", arn, policies=[ALLOW_ALL], session_policy=ALLOW_ALL_SESSION
            )
            desc = f"an unmodelled federated user {arn} (account {p.account}, {where})"
            return [Caller(p, kind, None, desc, inside, free_tags=True)]
        p = principal_from_arn("unmodelled", arn, policies=[ALLOW_ALL])
        desc = f"an unmodelled IAM user {arn} (account {p.account}, {where})"
        return [Caller(p, kind, None, desc, inside, free_tags=True)]
    except ModelError as exc:  # pragma: no cover - the shape tests keep ARNs valid
        raise Undecidable(f"internal: enumerated an invalid ARN {arn!r}: {exc}") from None


def has_path(role_arn: str) -> bool:
    """Whether a role ARN has a path (``role/PATH/NAME``), which its session ARNs drop."""
    return "/" in role_arn.split(":role/", 1)[1]


def bare_session(role_arn: str) -> str:
    """The session an ordinary check gives a role named by its ARN (runner/spec/arns.py)."""
    role = role_arn.rsplit("/", 1)[-1]
    return role if len(role) >= 2 else f"{role}-session"


_SERVICE_SHAPE = (
    Token(ONE, cls=CharClass.SERVICE_FIRST.value),
    Token(RUN, cls=CharClass.SERVICE.value),
    *literal_program(".amazonaws.com"),
)


def unmodelled_services(
    u: Universe,
    entries: Sequence[tuple[Entry, str]],
    guard: Sequence[tuple[CompiledPolicy, object]],
    resolve: Resolve = no_variables,
) -> list[Caller]:
    tests: list[Test] = []
    for entry, version in entries:
        if entry.key.lower() != "aws:principalservicename" or entry.family is Family.NULL:
            continue
        if entry.family is Family.ARN:
            continue  # a service principal's name is not an ARN: never matches
        if entry.family not in (Family.STRING, Family.STRING_IC, Family.STRING_LIKE):
            raise not_text(entry, "the names of unmodelled service principals")
        for atoms, lower in text_programs(entry, version, resolve):
            if entry.family is Family.STRING_LIKE:
                program = segment(atoms, CharClass.ANY, lower=False)
            else:
                program = literal_program("".join(t for _, t in atoms))
            if lower:
                program = tuple(Token(LIT, t.char.lower()) if t.kind == LIT else t for t in program)
            tests.append(Test((program,), lower=lower))
    for _policy, stmt in guard:
        pm = getattr(stmt, "principal", None)
        if pm is not None:
            tests.extend(Test((literal_program(s),)) for s in pm.services)
    defined = [
        p.service for p in u.defined.values() if p.type is PrincipalType.SERVICE and p.service
    ]
    first_defined = len(tests)
    tests.extend(Test((literal_program(s),)) for s in defined)
    shape = [Test((_SERVICE_SHAPE, (*_SERVICE_SHAPE, *literal_program(".cn"))))]
    try:
        found = cells([*shape, *tests], require=1)
    except StateBudgetExceeded:
        raise Undecidable(
            "the tests on service principal names are too many to enumerate"
        ) from None
    except Undecidable as exc:
        shown = "; ".join(
            sorted(label_of(e) for e, _ in entries if e.key.lower() == "aws:principalservicename")
        )
        raise Undecidable(f"{shown}: {exc}") from None
    out: list[Caller] = []
    for vector, name in sorted(found.items(), key=lambda kv: (len(kv[1]), kv[1])):
        if any(vector[first_defined:]):
            continue
        try:
            p = service_principal("unmodelled", name)
        except ModelError:  # pragma: no cover - the shape keeps names valid
            continue
        out.append(
            Caller(
                p,
                CallerKind.SERVICE,
                None,
                f"the service principal {name}, not defined by the spec",
                False,
            )
        )
    return out
