"""The universal checks tested the way a proof must be: random policies (repository, identity,
boundary, SCP, RCP; conditions with wildcards, IP ranges, dates, tags, missing keys), then
many concrete callers and contexts drawn from the policies' own constants, mutations of them
and fresh values, each decided by the ordinary engine. No sample may break a check that
passed, and every witness must be confirmed by the ordinary engine and belong to its class."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from runner import catalog
from runner.engine import evaluate
from runner.engine.universal import (
    CallerClass,
    CallerKind,
    Membership,
    Question,
    Undecidable,
    decide,
    replay,
    witness_dict,
)
from runner.engine.universal_callers import ALLOW_ALL, ALLOW_ALL_SESSION
from runner.model import (
    Expectation,
    Organization,
    PolicyKind,
    Principal,
    PrincipalType,
    Request,
    anonymous_principal,
    principal_from_arn,
    repository,
    service_principal,
)
from runner.policy import FULL_AWS_ACCESS, CompiledPolicy, compile_policy

PROD, STAGING, MGMT, OTHER = "111122223333", "444455556666", "999999999999", "777788889999"
ORG_ID = "o-a1b2c3d4e5"
ACCOUNTS = [PROD, STAGING, MGMT, OTHER]
ROLES = ["ci", "ci-admin", "deploy"]
USERS = ["alice", "bob"]
SERVICES = ["codebuild.amazonaws.com", "ec2.amazonaws.com"]
VPCES = [
    "vpce-1a",
    "vpce-1*",
    "vpce-12*",
    "vpce-?b",
    "prod",
    "dev",
    "VPCE-1A",
    "\u03b1\u03a3",
    "\u00e9t\u00e9",
]
OTHER_ORGS = ["o-partner0001", "o-zzzzzzzzzz"]
CIDRS = ["203.0.113.0/24", "203.0.113.128/25", "10.0.0.0/8", "2001:db8::/32"]
DATES = ["2026-06-01T00:00:00Z", "2030-01-01T00:00:00Z"]
TEAMS = ["platform", "data", "plat*"]
TAG_KEYS = ["team", "env", "sys*"]
ACTIONS = ["ecr:BatchGetImage", "ecr:PutImage", "ecr:GetAuthorizationToken", "ecr:TagResource"]
REPO_ARN = f"arn:aws:ecr:us-east-1:{PROD}:repository/prod/app"
NOW = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)

# --- policies -------------------------------------------------------------------------------

conditions = st.sampled_from(
    [
        ("StringEquals", "aws:PrincipalOrgID", [ORG_ID]),
        ("StringEqualsIfExists", "aws:PrincipalOrgID", [ORG_ID]),
        ("StringNotEqualsIfExists", "aws:PrincipalOrgID", [ORG_ID]),
        ("StringLike", "aws:SourceVpce", ["vpce-1*"]),
        ("StringNotLike", "aws:SourceVpce", ["vpce-12*"]),
        ("StringEquals", "aws:SourceVpce", ["vpce-1a", "vpce-2b"]),
        ("StringLikeIfExists", "aws:SourceVpce", ["vpce-?b"]),
        ("IpAddress", "aws:SourceIp", ["203.0.113.0/24"]),
        ("NotIpAddress", "aws:SourceIp", ["203.0.113.128/25", "2001:db8::/32"]),
        ("IpAddressIfExists", "aws:SourceIp", ["10.0.0.0/8"]),
        ("DateLessThan", "aws:CurrentTime", ["2030-01-01T00:00:00Z"]),
        ("DateGreaterThanEquals", "aws:CurrentTime", ["2026-06-01T00:00:00Z"]),
        ("StringEquals", "aws:PrincipalTag/team", ["platform"]),
        ("StringLike", "aws:PrincipalTag/team", ["plat*"]),
        ("StringEqualsIgnoreCase", "aws:PrincipalTag/team", ["DATA"]),
        ("Null", "aws:PrincipalTag/team", ["true"]),
        ("Null", "aws:SourceVpce", ["false"]),
        ("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::*:role/ci*"]),
        ("ArnNotLike", "aws:PrincipalArn", ["arn:aws:iam::*:role/ci-admin"]),
        ("ArnEquals", "aws:PrincipalArn", [f"arn:aws:iam::{STAGING}:role/deploy"]),
        ("StringEquals", "aws:PrincipalAccount", [STAGING, OTHER]),
        ("StringLike", "aws:PrincipalAccount", ["4444*"]),
        ("StringNotEquals", "aws:PrincipalAccount", [PROD]),
        ("StringEquals", "aws:username", ["alice"]),
        ("StringEquals", "aws:ResourceTag/env", ["prod"]),
        ("Bool", "aws:SecureTransport", ["false"]),
        ("BoolIfExists", "aws:ViaAWSService", ["true"]),
        ("Bool", "aws:ViaAWSService", ["false"]),
        ("StringNotEqualsIfExists", "aws:ResourceOrgID", [ORG_ID]),
        ("StringEquals", "aws:ResourceOrgID", [ORG_ID]),
        ("ForAnyValue:StringEquals", "aws:TagKeys", ["team"]),
        ("ForAllValues:StringLike", "aws:TagKeys", ["team", "env"]),
        ("ForAnyValue:StringLike", "aws:TagKeys", ["sys*"]),
        ("StringEquals", "aws:PrincipalType", ["AssumedRole"]),
        ("Bool", "aws:PrincipalIsAWSService", ["true"]),
        ("StringEquals", "aws:PrincipalServiceName", ["codebuild.amazonaws.com"]),
        ("StringEquals", "aws:SourceVpce", ["${aws:ResourceTag/env}"]),
        ("StringNotEqualsIgnoreCase", "aws:SourceVpce", ["VPCE-1A"]),
        ("NumericLessThan", "aws:MultiFactorAuthAge", ["3600"]),
        ("NumericGreaterThanEquals", "ecr:Weight", ["2.5"]),
        ("NumericNotEquals", "ecr:Weight", ["3"]),
        ("ForAllValues:StringNotEquals", "aws:TagKeys", ["sys"]),
        ("ForAnyValue:StringNotLike", "aws:TagKeys", ["t*"]),
        ("StringLike", "aws:PrincipalTag/team", ["${aws:PrincipalAccount}*"]),
        # variables in the tests that tell callers apart (a fixed key, the repository's account)
        ("StringLike", "aws:PrincipalArn", [f"arn:aws:iam::{STAGING}:role/${{aws:SourceVpc}}"]),
        ("ArnNotLike", "aws:PrincipalArn", ["arn:aws:iam::${aws:ResourceAccount}:role/ci"]),
        ("StringEquals", "aws:username", ["${aws:SourceVpc}"]),
        # keys AWS sets for service principals with values the tool cannot know
        ("StringEquals", "aws:PrincipalAccount", [PROD]),
        ("StringNotEquals", "aws:PrincipalType", ["Service"]),
        # other organizations
        ("StringEquals", "aws:PrincipalOrgID", OTHER_ORGS[:1]),
        ("StringLike", "aws:PrincipalOrgID", ["o-*"]),
        # time boundaries outside the dates the engine writes
        ("DateLessThan", "aws:CurrentTime", ["1969-12-31T00:00:00Z"]),
        ("DateGreaterThan", "aws:CurrentTime", ["1969-12-31T00:00:00Z"]),
        ("NumericGreaterThan", "aws:EpochTime", ["100000000000000000000"]),
        ("NumericLessThan", "aws:EpochTime", ["-5"]),
        # non-text comparisons of names and accounts
        ("NumericLessThan", "aws:PrincipalAccount", ["200000000000"]),
        ("Bool", "aws:username", ["true"]),
        # IgnoreCase of text with non-ASCII letters; a key tested as one value and as a set
        ("StringEqualsIgnoreCase", "aws:SourceVpce", ["\u00c9T\u00c9"]),
        ("StringEquals", "aws:TagKeys", ["team"]),
    ]
)

principals_element = st.sampled_from(
    [
        "*",
        {"AWS": PROD},
        {"AWS": STAGING},
        {"AWS": f"arn:aws:iam::{STAGING}:role/deploy"},
        {"AWS": f"arn:aws:iam::{PROD}:role/ci"},
        {"AWS": f"arn:aws:iam::{OTHER}:user/bob"},
        {"AWS": f"arn:aws:sts::{STAGING}:assumed-role/deploy/release"},
        {"AWS": f"arn:aws:sts::{OTHER}:federated-user/fed"},
        {"AWS": f"arn:aws:iam::{OTHER}:root"},
        {"Service": "codebuild.amazonaws.com"},
    ]
)

actions = st.lists(
    st.sampled_from([*ACTIONS, "ecr:*", "ecr:Get*"]), min_size=1, max_size=2, unique=True
)


@st.composite
def condition_block(draw: st.DrawFn) -> dict[str, dict[str, list[str]]]:
    block: dict[str, dict[str, list[str]]] = {}
    for op, key, values in draw(st.lists(conditions, max_size=2)):
        block.setdefault(op, {})[key] = values
    return block


@st.composite
def statement(draw: st.DrawFn, kind: PolicyKind) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Effect": "Deny" if kind is PolicyKind.RCP else draw(st.sampled_from(["Allow", "Deny"])),
        "Action": draw(actions),
    }
    if kind in (PolicyKind.RESOURCE, PolicyKind.RCP):
        out["Principal"] = "*" if kind is PolicyKind.RCP else draw(principals_element)
        if kind is PolicyKind.RESOURCE and out["Effect"] == "Deny" and draw(st.booleans()):
            del out["Principal"]
            out["NotPrincipal"] = draw(
                st.sampled_from(
                    [
                        {"AWS": [PROD, f"arn:aws:iam::{PROD}:role/ci"]},
                        {"AWS": [STAGING, f"arn:aws:iam::{STAGING}:user/alice"]},
                        {"Service": "codebuild.amazonaws.com"},
                    ]
                )
            )
    if kind is not PolicyKind.RESOURCE:
        out["Resource"] = draw(
            st.sampled_from(["*", REPO_ARN, "arn:aws:ecr:*:*:repository/prod/*"])
        )
    block = draw(condition_block())
    if block:
        out["Condition"] = block
    return out


def compiled(kind: PolicyKind, name: str, statements: Sequence[dict[str, Any]]) -> CompiledPolicy:
    return compile_policy({"Version": "2012-10-17", "Statement": list(statements)}, kind, name=name)


@st.composite
def questions(draw: st.DrawFn) -> Question:
    repo_policy = compiled(
        PolicyKind.RESOURCE,
        "repo",
        draw(st.lists(statement(PolicyKind.RESOURCE), min_size=1, max_size=3)),
    )
    res = repository(
        "prod", REPO_ARN, policy=repo_policy, tags={"env": draw(st.sampled_from(["prod", "dev"]))}
    )
    scps: list[CompiledPolicy] = [FULL_AWS_ACCESS]
    if draw(st.booleans()):
        scps.append(
            compiled(
                PolicyKind.SCP,
                "scp",
                draw(st.lists(statement(PolicyKind.SCP), min_size=1, max_size=2)),
            )
        )
    rcps: list[CompiledPolicy] = []
    if draw(st.booleans()):
        rcps.append(
            compiled(
                PolicyKind.RCP,
                "rcp",
                draw(st.lists(statement(PolicyKind.RCP), min_size=1, max_size=2)),
            )
        )
    org = Organization(ORG_ID, MGMT, frozenset({PROD, STAGING}), tuple(scps), tuple(rcps))
    defined: dict[str, Principal] = {}
    for i in range(draw(st.integers(0, 2))):
        identity = compiled(
            PolicyKind.IDENTITY,
            f"id{i}",
            draw(st.lists(statement(PolicyKind.IDENTITY), min_size=1, max_size=2)),
        )
        boundary = (
            compiled(
                PolicyKind.BOUNDARY,
                f"b{i}",
                draw(st.lists(statement(PolicyKind.BOUNDARY), min_size=1, max_size=2)),
            )
            if draw(st.booleans())
            else None
        )
        account = draw(st.sampled_from([PROD, STAGING, OTHER]))
        if draw(st.booleans()):
            arn = f"arn:aws:iam::{account}:role/{draw(st.sampled_from(ROLES))}"
            p = principal_from_arn(
                f"p{i}",
                arn,
                session="run-1",
                policies=[identity],
                boundary=boundary,
                tags={"team": draw(st.sampled_from(["platform", "data"]))},
            )
        else:
            arn = f"arn:aws:iam::{account}:user/{draw(st.sampled_from(USERS))}"
            p = principal_from_arn(f"p{i}", arn, policies=[identity], boundary=boundary)
        if all(other.arn != p.arn for other in defined.values()):
            defined[f"p{i}"] = p
    if draw(st.booleans()):
        defined["build"] = service_principal("build", "codebuild.amazonaws.com")
    cls = draw(
        st.sampled_from(
            [
                CallerClass(),
                CallerClass("out", organization=Membership.OUTSIDE),
                CallerClass("in", organization=Membership.INSIDE),
                CallerClass("prod", accounts=frozenset({PROD})),
                CallerClass("roles", kinds=frozenset({CallerKind.ROLE})),
                CallerClass(
                    "people",
                    kinds=frozenset({CallerKind.USER, CallerKind.FEDERATED, CallerKind.ROOT}),
                ),
                CallerClass(
                    "machines", kinds=frozenset({CallerKind.SERVICE, CallerKind.ANONYMOUS})
                ),
                CallerClass("others", excluded=frozenset(defined)),
            ]
        )
    )
    action = draw(st.sampled_from([*ACTIONS, "pull"]))
    steps = catalog.OPERATIONS.get(action, (action,))
    context: dict[str, tuple[str, ...]] = {}
    if draw(st.booleans()):
        context["aws:SourceVpc"] = (draw(st.sampled_from(["ci", "deploy", "alice", "true"])),)
    if draw(st.integers(0, 3)) == 0:
        context["aws:PrincipalAccount"] = (draw(st.sampled_from([PROD, OTHER])),)
    if draw(st.booleans()):
        context["aws:SourceIp"] = (
            draw(st.sampled_from(["203.0.113.7", "203.0.113.200", "192.0.2.1"])),
        )
    closed = frozenset(draw(st.lists(st.sampled_from(ACCOUNTS), max_size=2)))
    expected = draw(st.sampled_from(list(Expectation)))
    return Question(cls, defined, res, action, tuple(steps), expected, context, org, closed)


# --- concrete samples -----------------------------------------------------------------------

_KIND = {
    PrincipalType.USER: CallerKind.USER,
    PrincipalType.ROLE_SESSION: CallerKind.ROLE,
    PrincipalType.ROOT: CallerKind.ROOT,
    PrincipalType.FEDERATED_USER: CallerKind.FEDERATED,
    PrincipalType.SERVICE: CallerKind.SERVICE,
    PrincipalType.ANONYMOUS: CallerKind.ANONYMOUS,
}
_IAM = {CallerKind.USER, CallerKind.ROLE, CallerKind.ROOT, CallerKind.FEDERATED}


def belongs(q: Question, p: Principal, name: str | None) -> bool:
    """Class membership, written again independently of the implementation."""
    cls, org = q.caller_class, q.organization
    kind = _KIND[p.type]
    inside = (
        kind in _IAM
        and org is not None
        and (p.account in org.accounts or p.account == org.management_account)
    )
    if cls.kinds is not None and kind not in cls.kinds:
        return False
    if cls.accounts is not None and p.account not in cls.accounts:
        return False
    if cls.organization is Membership.INSIDE and not inside:
        return False
    if cls.organization is Membership.OUTSIDE and inside:
        return False
    return not (name is not None and name in cls.excluded)


def mutate(rng: random.Random, text: str) -> str:
    choice = rng.randrange(6)
    if choice == 0:
        return text + rng.choice("a1-/")
    if choice == 1:
        return text[:-1]
    if choice == 2:
        return text.upper()
    if choice == 3:
        return text.replace("*", rng.choice(["", "x", "2b", "12"])).replace("?", rng.choice("ab"))
    if choice == 4:
        return rng.choice("xyz") + text
    return text


def fresh_account(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(12))


def sample_caller(rng: random.Random, q: Question) -> tuple[Principal, str | None] | None:
    if q.defined and rng.random() < 0.3:
        name = rng.choice(sorted(q.defined))
        p = q.defined[name]
        if p.type is PrincipalType.ROLE_SESSION and rng.random() < 0.5:
            session = rng.choice(["release", "other", "run-2"])
            p = Principal(
                p.name,
                p.type,
                arn=p.arn,
                session_arn=f"{str(p.session_arn).rsplit('/', 1)[0]}/{session}",
                account=p.account,
                policies=p.policies,
                boundary=p.boundary,
                tags=p.tags,
            )
        return p, name
    kind = rng.choice(list(CallerKind))
    if kind is CallerKind.ANONYMOUS:
        if any(p.type is PrincipalType.ANONYMOUS for p in q.defined.values()):
            return None
        return anonymous_principal("sample"), None
    if kind is CallerKind.SERVICE:
        service = rng.choice([*SERVICES, "lambda.amazonaws.com", "codebuild.amazonaws.com.cn"])
        for name, p in q.defined.items():
            if p.service == service:
                return p, name
        return service_principal("sample", service), None
    account = rng.choice([*ACCOUNTS, fresh_account(rng), "444400000000", "100000000000"])
    if account in q.closed_accounts and kind is not CallerKind.ROOT:
        return None  # a closed account's root user still exists
    tags = {}
    if rng.random() < 0.6:
        tags["team"] = mutate(rng, rng.choice(TEAMS))
    if kind is CallerKind.ROOT:
        p = principal_from_arn("sample", f"arn:aws:iam::{account}:root")
    elif kind is CallerKind.FEDERATED:
        p = principal_from_arn(
            "sample",
            f"arn:aws:sts::{account}:federated-user/{rng.choice(['fed', 'bob', 'x1'])}",
            policies=[ALLOW_ALL],
            session_policy=ALLOW_ALL_SESSION,
            tags=tags,
        )
    else:
        names = ROLES if kind is CallerKind.ROLE else [*USERS, "true"]
        name = mutate(rng, rng.choice(names)).strip("-/").replace("*", "x") or "n"
        name = name.replace("//", "/")
        path = (
            rng.choice(["", "", "team/", "aws-service-role/"])
            if kind is CallerKind.ROLE
            else rng.choice(["", "dev/"])
        )
        arn = f"arn:aws:iam::{account}:{'role' if kind is CallerKind.ROLE else 'user'}/{path}{name}"
        try:
            p = principal_from_arn(
                "sample",
                arn,
                session=rng.choice(["release", "s1", "other"]) if kind is CallerKind.ROLE else None,
                policies=[ALLOW_ALL],
                tags=tags,
            )
        except ValueError:
            return None
    for d in q.defined.values():
        if d.arn is not None and d.arn == p.arn:
            return None  # that caller is the defined principal
    return p, None


def _single_valued(q: Question, key: str) -> bool:
    """Whether a policy of the check tests ``key`` without ForAllValues:/ForAnyValue: (the
    ordinary loader then refuses several values for it)."""
    policies: list[CompiledPolicy] = []
    if q.resource is not None and q.resource.policy is not None:
        policies.append(q.resource.policy)
    if q.organization is not None:
        policies.extend([*q.organization.scps, *q.organization.rcps])
    for p in q.defined.values():
        policies.extend(p.policies)
        if p.boundary is not None:
            policies.append(p.boundary)
    return any(pol.single_valued_test(key, q.steps) is not None for pol in policies)


def sample_context(
    rng: random.Random, q: Question, p: Principal | None = None
) -> dict[str, tuple[str, ...]]:
    ctx: dict[str, tuple[str, ...]] = {}
    if p is not None and p.type is PrincipalType.SERVICE and rng.random() < 0.7:
        # AWS sets these for a service principal, with values the tool cannot know
        ctx["aws:PrincipalAccount"] = (rng.choice([PROD, OTHER, fresh_account(rng)]),)
        ctx["aws:PrincipalType"] = (rng.choice(["Service", "AWSService"]),)
    org = q.organization
    if (
        p is not None
        and _KIND[p.type] in _IAM
        and org is not None
        and p.account not in org.accounts
        and p.account != org.management_account
        and rng.random() < 0.5
    ):
        # a caller outside the organization may belong to another one
        ctx["aws:PrincipalOrgID"] = (rng.choice(OTHER_ORGS),)
    if rng.random() < 0.3:
        ctx["aws:SourceVpc"] = (rng.choice(["ci", "deploy", "alice", "true", "vpc-1"]),)
    if rng.random() < 0.7:
        ctx["aws:SourceVpce"] = (mutate(rng, rng.choice(VPCES)),)
    if "aws:SourceIp" not in q.context and rng.random() < 0.8:
        net = ipaddress.ip_network(rng.choice(CIDRS))
        offset = rng.choice(
            [0, 1, net.num_addresses - 1, net.num_addresses, -1, net.num_addresses // 2]
        )
        value = int(net.network_address) + offset
        top = (1 << net.max_prefixlen) - 1
        value = min(max(value, 0), top)
        addr = ipaddress.IPv4Address(value) if net.version == 4 else ipaddress.IPv6Address(value)
        ctx["aws:SourceIp"] = (str(addr),)
    when = dt.datetime.fromisoformat(rng.choice(DATES).replace("Z", "+00:00")) + dt.timedelta(
        seconds=rng.choice([-86400, -1, 0, 1, 86400 * 400])
    )
    ctx["aws:CurrentTime"] = (when.strftime("%Y-%m-%dT%H:%M:%SZ"),)
    ctx["aws:EpochTime"] = (str(int(when.timestamp())),)
    ctx["aws:SecureTransport"] = (rng.choice(["true", "false"]),)
    if rng.random() < 0.3 and p is not None and _KIND[p.type] in _IAM:
        # a service uses an IAM caller's credentials (for others, and when left out: false)
        ctx["aws:ViaAWSService"] = (rng.choice(["true", "false"]),)
    if rng.random() < 0.5:
        ctx["aws:MultiFactorAuthAge"] = (rng.choice(["0", "3599", "3600", "3601", "99999"]),)
    if rng.random() < 0.6:
        ctx["ecr:Weight"] = (rng.choice(["2.5", "2.50", "2.4", "3", "3.0", "-1", "abc", "100"]),)
    if rng.random() < 0.7:
        most = 2 if _single_valued(q, "aws:TagKeys") else 4
        keys = rng.sample([*TAG_KEYS, "teams", "sys", "Team", ""], rng.randrange(0, most))
        ctx["aws:TagKeys"] = tuple(mutate(rng, k) if rng.random() < 0.3 else k for k in keys)
    ctx.update(q.context)
    return ctx


def combine(verdicts: Sequence[str]) -> str:
    if "explicit-deny" in verdicts:
        return "explicit-deny"
    return "allow" if set(verdicts) == {"allow"} else "implicit-deny"


def decided(q: Question, p: Principal, ctx: Mapping[str, Sequence[str]]) -> str:
    return combine(
        [
            evaluate(Request(p, s, q.resource, ctx, q.organization), now=NOW).decision
            for s in q.steps
        ]
    )


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(questions(), st.integers(0, 2**32))
def test_passed_checks_hold_for_every_sample_and_witnesses_are_confirmed(
    q: Question, seed: int
) -> None:
    _check(q, seed)


# The constructs an audit found passing while a concrete caller broke them, drawn together
# and often: variables in the tests on callers, service principals' unknowable keys, callers
# of other organizations, time boundaries out of range, closed accounts' root users, numeric
# and Bool comparisons of names and accounts, a key tested as a set and as one value.
focused_conditions = st.sampled_from(
    [
        ("StringLike", "aws:PrincipalArn", [f"arn:aws:iam::{STAGING}:role/${{aws:SourceVpc}}"]),
        ("ArnNotLike", "aws:PrincipalArn", ["arn:aws:iam::${aws:ResourceAccount}:role/ci"]),
        ("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::${aws:ResourceAccount}:role/*"]),
        ("StringEquals", "aws:username", ["${aws:SourceVpc}"]),
        ("StringEquals", "aws:PrincipalAccount", [PROD]),
        ("StringNotEquals", "aws:PrincipalType", ["Service"]),
        ("StringEquals", "aws:PrincipalOrgID", OTHER_ORGS[:1]),
        ("StringEquals", "aws:PrincipalOrgID", OTHER_ORGS[:1]),
        ("StringNotEqualsIfExists", "aws:PrincipalOrgID", [ORG_ID]),
        ("StringLike", "aws:PrincipalOrgID", ["o-*"]),
        ("StringLike", "aws:PrincipalOrgID", ["o-*"]),
        ("DateLessThan", "aws:CurrentTime", ["1969-12-31T00:00:00Z"]),
        ("DateGreaterThan", "aws:CurrentTime", ["1969-12-31T00:00:00Z"]),
        ("NumericGreaterThan", "aws:EpochTime", ["100000000000000000000"]),
        ("NumericLessThan", "aws:PrincipalAccount", ["200000000000"]),
        ("Bool", "aws:username", ["true"]),
        ("StringEquals", "aws:TagKeys", ["team"]),
        ("ForAnyValue:StringLike", "aws:TagKeys", ["t*"]),
        ("Bool", "aws:PrincipalIsAWSService", ["true"]),
    ]
)


@st.composite
def focused_questions(draw: st.DrawFn) -> Question:
    statements = []
    for _ in range(draw(st.integers(1, 2))):
        block: dict[str, dict[str, list[str]]] = {}
        for op, key, values in draw(st.lists(focused_conditions, min_size=1, max_size=2)):
            block.setdefault(op, {})[key] = values
        statements.append(
            {
                "Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"])),
                "Principal": "*",
                "Action": ["ecr:BatchGetImage", "ecr:TagResource"],
                "Condition": block,
            }
        )
    res = repository("prod", REPO_ARN, policy=compiled(PolicyKind.RESOURCE, "repo", statements))
    org = (
        Organization(ORG_ID, MGMT, frozenset({PROD, STAGING}), (FULL_AWS_ACCESS,), ())
        if draw(st.booleans())
        else None
    )
    kinds = draw(
        st.sampled_from(
            [
                None,
                frozenset({CallerKind.ROOT}),
                frozenset({CallerKind.ROLE}),
                frozenset({CallerKind.USER}),
                frozenset({CallerKind.SERVICE}),
                frozenset({CallerKind.USER, CallerKind.ROLE, CallerKind.ROOT}),
            ]
        )
    )
    membership = (
        draw(st.sampled_from([None, Membership.OUTSIDE, Membership.OUTSIDE]))
        if org is not None
        else None
    )
    accounts = draw(st.sampled_from([None, None, frozenset({PROD}), frozenset({STAGING, PROD})]))
    cls = CallerClass("focus", organization=membership, accounts=accounts, kinds=kinds)
    context: dict[str, tuple[str, ...]] = {}
    if draw(st.booleans()):
        context["aws:SourceVpc"] = (draw(st.sampled_from(["ci", "deploy", "alice", "true"])),)
    if draw(st.integers(0, 3)) == 0:
        context["aws:PrincipalAccount"] = (draw(st.sampled_from([PROD, OTHER])),)
    action = draw(st.sampled_from(["ecr:BatchGetImage", "ecr:TagResource"]))
    closed = frozenset(draw(st.lists(st.sampled_from([PROD, STAGING]), max_size=2)))
    expected = draw(st.sampled_from([*Expectation, Expectation.DENY]))
    return Question(cls, {}, res, action, (action,), expected, context, org, closed)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(focused_questions(), st.integers(0, 2**32))
def test_the_audited_constructs_hold_for_every_sample(q: Question, seed: int) -> None:
    _check(q, seed)


def _check(q: Question, seed: int) -> None:
    try:
        result = decide(q, now=NOW)
    except Undecidable as exc:
        event(f"undecidable: {str(exc)[:60]}")
        return
    if result.witness is not None:
        event("failed")
        w = result.witness
        assert belongs(q, w.principal, w.caller.name)
        if w.caller.name is None and _KIND[w.principal.type] in _IAM - {CallerKind.ROOT}:
            assert w.principal.account not in q.closed_accounts
        again = replay(q, witness_dict(q, w), now=NOW)
        assert [d.decision for d in again] == [d.decision for d in w.decisions]
        assert not q.expected.met_by(combine([d.decision for d in again]))
        return
    event("passed")
    rng = random.Random(seed)
    for _ in range(150):
        caller = sample_caller(rng, q)
        if caller is None:
            continue
        p, name = caller
        if not belongs(q, p, name):
            continue
        ctx = sample_context(rng, q, p)
        verdict = decided(q, p, ctx)
        assert q.expected.met_by(verdict), _broken(q, p, name, ctx, verdict)


def _broken(
    q: Question, p: Principal, name: str | None, ctx: Mapping[str, Sequence[str]], verdict: str
) -> str:
    who = p.session_arn or p.arn or p.service or "anonymous"
    lines = [f"{q.caller_class} {q.expected} {q.action}: sample {who} ({name}) got {verdict}"]
    for s in q.steps:
        d = evaluate(Request(p, s, q.resource, ctx, q.organization), now=NOW).to_dict()
        lines.append(f"{s}: {d['decision']} {d['reason']}")
        for pol in d["policies"]:
            for stmt in pol["statements"]:
                lines.append(
                    f"  {pol['name']} #{stmt['index']} {stmt['effect']} {stmt['matched']} "
                    f"{stmt.get('conditions')}"
                )
        lines.append(f"  context {d['request']['context']}")
    return "\n".join(lines)
