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
one more. Service principals: the same over service names; anonymous: one caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from runner.engine.universal_strings import (
    LIT,
    ONE,
    RUN,
    TEXT,
    CharClass,
    Program,
    StateBudgetExceeded,
    Test,
    Token,
    atoms_to_program,
    cells,
    literal_program,
    matches,
    parse_template,
    render_atoms,
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
_KIND_WORDS = {
    CallerKind.USER: "IAM user",
    CallerKind.ROLE: "role session",
    CallerKind.ROOT: "root user",
    CallerKind.FEDERATED: "federated user",
    CallerKind.SERVICE: "service principal",
    CallerKind.ANONYMOUS: "anonymous caller",
}


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
# Programs over an ARN

_DIGITS12 = tuple(Token(ONE, cls=CharClass.DIGIT.value) for _ in range(12))
_ANY_RUN = Token(RUN, cls=CharClass.ANY.value)
_ACCOUNT_RUN = Token(RUN, cls=CharClass.NOT_COLON.value)
_PREFIX = {
    CallerKind.USER: "arn:aws:iam::",
    CallerKind.ROLE: "arn:aws:iam::",
    CallerKind.ROOT: "arn:aws:iam::",
    CallerKind.FEDERATED: "arn:aws:sts::",
}
_INFIX = {
    CallerKind.USER: ":user/",
    CallerKind.ROLE: ":role/",
    CallerKind.ROOT: ":root",
    CallerKind.FEDERATED: ":federated-user/",
}


def _shape(kind: CallerKind) -> list[Test]:
    """Tests that every ARN of ``kind`` passes (first) and must fail (after): runner.model's
    ARN patterns (a path of names separated by single slashes, ending with a name)."""
    head = literal_program(_PREFIX[kind]) + _DIGITS12 + literal_program(_INFIX[kind])
    if kind is CallerKind.ROOT:
        return [Test((head,))]
    if kind is CallerKind.FEDERATED:
        name = (Token(ONE, cls=CharClass.NAME.value), Token(RUN, cls=CharClass.NAME.value))
        return [Test((head + name,))]
    path = (Token(ONE, cls=CharClass.NAME.value), Token(RUN, cls=CharClass.NAME_OR_SLASH.value))
    return [Test((head + path,))]


def _negative_shape(kind: CallerKind) -> list[Test]:
    if kind not in (CallerKind.USER, CallerKind.ROLE):
        return []
    return [
        Test(((_ANY_RUN, Token(LIT, "/"), Token(LIT, "/"), _ANY_RUN),)),
        Test(((_ANY_RUN, Token(LIT, "/")),)),
    ]


def _segment(atoms: Sequence[tuple[bool, str]], cls: CharClass, lower: bool) -> Program:
    out: list[Token] = []
    for wild, text in atoms:
        if wild:
            out.append(Token(RUN if text == "*" else ONE, cls=cls.value))
        else:
            out.extend(Token(LIT, c) for c in (text.lower() if lower else text))
    return tuple(out)


def _account_test(kind: CallerKind, segment: Program, lower: bool = False) -> Test:
    prefix = literal_program(_PREFIX[kind])
    return Test((prefix + segment + (Token(LIT, ":"), _ANY_RUN),), lower=lower)


def _last_name_test(
    kind: CallerKind, segment: Program, account: Program | None, lower: bool
) -> Test:
    """The last name of a user/role ARN (after its path) passes ``segment``."""
    acct = account if account is not None else (_ACCOUNT_RUN,)
    head = literal_program(_PREFIX[kind]) + acct + literal_program(_INFIX[kind])
    return Test(((*head, *segment), (*head, _ANY_RUN, Token(LIT, "/"), *segment)), lower=lower)


@dataclass
class _Collected:
    """What the guard policies say about callers of one kind."""

    tests: list[tuple[str, Test]] = field(default_factory=list)
    sessions: dict[tuple[str, str], set[str]] = field(default_factory=dict)


#: The value of a policy variable's key for every caller (a fixed or repository-derived key),
#: None when absent; it raises Undecidable for a key that depends on the caller or ranges.
Resolve = Callable[[str, Entry], tuple[str, ...] | None]


def _no_variables(key: str, entry: Entry) -> tuple[str, ...] | None:
    raise Undecidable(
        f"the policy variable ${{{key}}} in {entry.operator} {entry.key} ({entry.where}) "
        "cannot be resolved before the callers are enumerated"
    )


def _label(entry: Entry) -> str:
    return f"{entry.operator} {entry.key} in {entry.where}"


def _not_text(entry: Entry, what: str) -> Undecidable:
    return Undecidable(
        f"{entry.operator} {entry.key} in {entry.where} compares a caller's name or account as "
        f"{entry.family.value}; {what} are enumerated only against text comparisons "
        "(String, Arn operators)"
    )


def _text_programs(
    entry: Entry, version: str, resolve: Resolve = _no_variables
) -> list[tuple[list[tuple[bool, str]], bool]]:
    """(atoms, lower) of each value of a text entry; a policy variable is replaced by its
    value from ``resolve`` (the same for every caller), which refuses any other variable."""
    out: list[tuple[list[tuple[bool, str]], bool]] = []
    for raw in entry.values:
        atoms = render_atoms(
            parse_template(raw, version),
            lambda key: resolve(key, entry),
            wild=entry.family in (Family.STRING_LIKE, Family.ARN),
        )
        if atoms is None:
            continue
        out.append((atoms, entry.family is Family.STRING_IC))
    return out


def collect(
    kind: CallerKind,
    entries: Sequence[tuple[Entry, str]],
    guard: Sequence[tuple[CompiledPolicy, object]],
    account_keys: frozenset[str],
    resolve: Resolve = _no_variables,
) -> _Collected:
    """The tests on ARNs of ``kind`` from condition ``entries`` (with their policy version)
    on caller keys and from the Principal elements of ``guard`` statements."""
    got = _Collected()
    for entry, version in entries:
        key = entry.key.lower()
        relevant = (
            key == "aws:principalarn"
            or key in account_keys
            or (key == "aws:userid" and kind in (CallerKind.ROOT, CallerKind.FEDERATED))
            or (key == "aws:username" and kind is CallerKind.USER)
        )
        if not relevant or entry.family is Family.NULL:
            continue
        if entry.family not in (Family.STRING, Family.STRING_IC, Family.STRING_LIKE, Family.ARN):
            raise _not_text(entry, f"the names and accounts of unmodelled {_KIND_WORDS[kind]}s")
        for atoms, lower in _text_programs(entry, version, resolve):
            if key == "aws:principalarn":
                if entry.family is Family.ARN:
                    program = atoms_to_program(atoms, "arn")
                elif entry.family is Family.STRING_LIKE:
                    program = atoms_to_program(atoms, TEXT)
                else:
                    program = literal_program("".join(t for _, t in atoms))
                if program is None:
                    continue
                if lower:
                    program = tuple(
                        Token(LIT, t.char.lower()) if t.kind == LIT else t for t in program
                    )
                got.tests.append((_label(entry), Test((program,), lower=lower)))
            elif key in account_keys or (key == "aws:userid" and kind is CallerKind.ROOT):
                if entry.family is Family.ARN:
                    continue  # an account ID is not an ARN: never matches
                wild = entry.family is Family.STRING_LIKE
                seg = _segment(
                    atoms if wild else [(False, "".join(t for _, t in atoms))],
                    CharClass.NOT_COLON,
                    lower,
                )
                got.tests.append((_label(entry), _account_test(kind, seg, lower)))
            elif key == "aws:username" and kind is CallerKind.USER:
                if entry.family is Family.ARN:
                    continue
                wild = entry.family is Family.STRING_LIKE
                seg = _segment(
                    atoms if wild else [(False, "".join(t for _, t in atoms))],
                    CharClass.NOT_SLASH,
                    lower,
                )
                got.tests.append((_label(entry), _last_name_test(kind, seg, None, lower)))
            elif key == "aws:userid" and kind is CallerKind.FEDERATED:
                if any(w for w, _ in atoms) or lower:
                    raise Undecidable(
                        f"{entry.operator} {entry.key} with a wildcard or in any case, in "
                        f"{entry.where}: the federated user's aws:userid (ACCOUNT:NAME) is not "
                        "enumerated that way"
                    )
                text = "".join(t for _, t in atoms)
                account, _, name = text.partition(":")
                arn = f"arn:aws:sts::{account}:federated-user/{name}"
                got.tests.append((_label(entry), Test((literal_program(arn),))))
    for _policy, stmt in guard:
        pm = getattr(stmt, "principal", None)
        if pm is None:
            continue
        for account in pm.accounts:
            got.tests.append(("Principal account", _account_test(kind, literal_program(account))))
        for arn in pm.arns:
            if arn.startswith("arn:aws:sts::") and ":assumed-role/" in arn:
                account = arn.split(":")[4]
                role, _, session = arn.split(":assumed-role/", 1)[1].partition("/")
                got.sessions.setdefault((account, role), set()).add(session)
                if kind is CallerKind.ROLE:
                    got.tests.append(
                        (
                            "Principal role session",
                            _last_name_test(
                                kind, literal_program(role), literal_program(account), False
                            ),
                        )
                    )
            else:
                got.tests.append(("Principal ARN", Test((literal_program(arn),))))
    return got


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
    got: _Collected,
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
        add("member", "member account", _account_test(kind, literal_program(account)))
    if mgmt:
        add("mgmt", "management account", _account_test(kind, literal_program(mgmt)))
    for account in sorted(u.closed):
        add("closed", "closed account", _account_test(kind, literal_program(account)))
    for account in sorted(u.cls.accounts or ()):
        add("class", "class account", _account_test(kind, literal_program(account)))
    for p in u.defined.values():
        if kind_of(p) is kind and p.arn is not None:
            add("defined", "defined principal", Test((literal_program(p.arn),)))
    if u.resource_account:
        labelled.append(
            ("resource account", _account_test(kind, literal_program(u.resource_account)))
        )
    if kind is CallerKind.ROLE:
        slr = (_ANY_RUN, *literal_program(":role/aws-service-role/"), _ANY_RUN)
        labelled.append(("service-linked role", Test((slr,))))
    shape = _shape(kind)
    negative = _negative_shape(kind)
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
            f"the tests on the ARNs of {_KIND_WORDS[kind]}s are too many to enumerate exactly "
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
        if program[-1] == _ANY_RUN and all(t.kind == LIT for t in head):
            text = "".join(t.char for t in head)
            prefix = _PREFIX[kind]
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
    resolve: Resolve = _no_variables,
) -> list[Caller]:
    tests: list[Test] = []
    for entry, version in entries:
        if entry.key.lower() != "aws:principalservicename" or entry.family is Family.NULL:
            continue
        if entry.family is Family.ARN:
            continue  # a service principal's name is not an ARN: never matches
        if entry.family not in (Family.STRING, Family.STRING_IC, Family.STRING_LIKE):
            raise _not_text(entry, "the names of unmodelled service principals")
        for atoms, lower in _text_programs(entry, version, resolve):
            if entry.family is Family.STRING_LIKE:
                program = _segment(atoms, CharClass.ANY, lower=False)
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
            sorted(_label(e) for e, _ in entries if e.key.lower() == "aws:principalservicename")
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
