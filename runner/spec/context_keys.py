"""Request context a case must settle before its checks can be decided exactly.

- A key given several values must not meet a statement that compares one value (AWS does not
  say how that evaluates).
- A key that AWS puts in every request of a principal, but whose value the tool cannot know
  (``aws:userid`` of an IAM user is an opaque unique ID), must come from the context when a
  statement that may decide a check reads it: without it the engine would answer as if the
  key were missing, which it never is. Only the checks that need the value are errors
  (``Check.error``); the file's other checks run.
- Likewise a federated user's check that a repository policy statement naming an IAM user of
  its account may decide: AWS applies such a statement to the federated user sessions that
  user creates, and the spec does not say which IAM user created the session.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from runner import catalog, model
from runner.policy import CompiledPolicy, CompiledStatement
from runner.policy.compiled import VARIABLE_READ
from runner.policy.matching import GRANT_DIRECT
from runner.spec.includes import Definitions
from runner.spec.nodes import Reader, SourceFile
from runner.spec.yamlsafe import Node, ScalarNode, excerpt, where

__all__ = ["KeyChecks", "case_policies"]

#: Keys that AWS puts in every request of a kind of principal, with values the tool cannot know
#: ("AWS global condition context keys": aws:userid, aws:PrincipalAccount and aws:PrincipalType
#: are "included in the request context for all requests"; "Policy variables", principal key
#: values: aws:userid of a user is its unique ID, of a role session ROLE-ID:SESSION-NAME;
#: aws:TokenIssueTime and aws:MultiFactorAuthPresent are "included in the request context only
#: when the principal uses temporary credentials", which every role session and federated user
#: does; a user or the root user may sign with long-term access keys, without them).
#: Lowercased key -> (what its value is, an example).
_SESSION_KEYS = {
    "aws:tokenissuetime": (
        "when the session's temporary credentials were issued",
        "2026-05-31T12:00:00Z",
    ),
    "aws:multifactorauthpresent": (
        "whether the session was created with multi-factor authentication",
        '"false"',
    ),
}
_UNKNOWABLE: dict[model.PrincipalType, dict[str, tuple[str, str]]] = {
    model.PrincipalType.USER: {
        "aws:userid": ("the user's unique ID", "AIDAJQABLZS4A3QDU576Q"),
    },
    model.PrincipalType.ROLE_SESSION: {
        "aws:userid": (
            "the role's unique ID and the session name",
            "AROADBQP57FF2AEXAMPLE:session-name",
        ),
        **_SESSION_KEYS,
    },
    model.PrincipalType.FEDERATED_USER: dict(_SESSION_KEYS),
    model.PrincipalType.SERVICE: {
        "aws:userid": ("not documented for service principals", '"AIDAEXAMPLEID"'),
        "aws:principalaccount": ("not documented for service principals", '"111122223333"'),
        "aws:principaltype": ("not documented for service principals", "Service"),
    },
}
#: "Always included in the request context" ("AWS global condition context keys"), whoever
#: calls; the value is the client's.
_EVERY_REQUEST = {
    "aws:useragent": ("the user agent of the client that sends it", "aws-cli/2.15.0"),
}
#: aws:RequestedRegion is "always included"; the engine takes the repository's Region, so
#: without a repository the Region is unknown.
_NO_REPOSITORY = {
    "aws:requestedregion": (
        "the Region it is sent to (the case names no repository)",
        "us-east-1",
    ),
}
#: aws:PrincipalOrgPaths / aws:ResourceOrgPaths are included when the principal's / the
#: resource owner's account is in an organization; the spec does not describe its
#: organizational units.
_PRINCIPAL_IN_ORGANIZATION = {
    "aws:principalorgpaths": (
        "the path of its account's organizational units",
        "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/",
    ),
}
_RESOURCE_IN_ORGANIZATION = {
    "aws:resourceorgpaths": (
        "the path of the organizational units of the account that owns the resource",
        "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/",
    ),
}
_KEY_NAMES = {
    "aws:userid": "aws:userid",
    "aws:principalaccount": "aws:PrincipalAccount",
    "aws:principaltype": "aws:PrincipalType",
    "aws:tokenissuetime": "aws:TokenIssueTime",
    "aws:multifactorauthpresent": "aws:MultiFactorAuthPresent",
    "aws:useragent": "aws:UserAgent",
    "aws:requestedregion": "aws:RequestedRegion",
    "aws:principalorgpaths": "aws:PrincipalOrgPaths",
    "aws:resourceorgpaths": "aws:ResourceOrgPaths",
}


def _member(organization: model.Organization | None, account: str | None) -> bool:
    return (
        organization is not None
        and account is not None
        and (account in organization.accounts or account == organization.management_account)
    )


def _unknowable(
    p: model.Principal,
    r: model.Resource | None,
    organization: model.Organization | None,
) -> _Tables:
    """The keys of a request of ``p`` on ``r`` that AWS puts in it with a value the tool
    cannot know (lowercased -> what the value is, an example): for a repository action and
    for an account-level one, whose resource is the caller's own registry (as the engine
    fills in aws:ResourceAccount)."""
    caller_member = _member(organization, p.account)
    return _tables(
        p.type,
        r is None,
        caller_member,
        caller_member if r is None else _member(organization, r.account),
    )


_Table = Mapping[str, tuple[str, str]]
_Tables = tuple[_Table, _Table]


@functools.lru_cache(maxsize=64)
def _tables(
    ptype: model.PrincipalType, no_repository: bool, caller_member: bool, owner_member: bool
) -> _Tables:
    def table(resource_member: bool) -> _Table:
        keys = {**_UNKNOWABLE.get(ptype, {}), **_EVERY_REQUEST}
        if no_repository:
            keys.update(_NO_REPOSITORY)
        if caller_member:
            keys.update(_PRINCIPAL_IN_ORGANIZATION)
        if resource_member:
            keys.update(_RESOURCE_IN_ORGANIZATION)
        return MappingProxyType(keys)

    return table(owner_member), table(caller_member)


_MULTIVALUED_DOC = (
    "AWS documents only ForAllValues: and ForAnyValue: for a key with several values "
    '("Multivalued context keys require a condition set operator")'
)


@dataclass(frozen=True, slots=True)
class _Reading:
    """The keys of a request whose values the tool cannot know and the context does not give
    (lowercased -> what the value is, an example), for a repository action (``unknown[0]``)
    and for an account-level one (``unknown[1]``), and the policies that read one of them."""

    unknown: _Tables
    policies: tuple[CompiledPolicy, ...]


def _not_given(table: _Table, context: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, str]]:
    """The keys of ``table`` that ``context`` does not give a value."""
    given = {k.lower() for k in context}
    return {k: v for k, v in table.items() if k not in given}


def _reading(
    tables: _Tables,
    p: model.Principal,
    r: model.Resource | None,
    organization: model.Organization | None,
    context: Mapping[str, tuple[str, ...]],
) -> _Reading | None:
    # first the policies that read any key of the tables: usually none, and then the context
    # need not be looked at (a third of expanding the cases of bench_scale.py's files)
    either = tables[0].keys() | tables[1].keys()
    reading = [
        pol for pol in case_policies([p], [r], organization) if not pol.keys.isdisjoint(either)
    ]
    if not reading:
        return None
    repository, account_level = (_not_given(table, context) for table in tables)
    if not repository and not account_level:
        return None
    unknown = repository.keys() | account_level.keys()
    policies = tuple(pol for pol in reading if not pol.keys.isdisjoint(unknown))
    return _Reading((repository, account_level), policies) if policies else None


@dataclass(frozen=True, slots=True)
class _Checks:
    """The checks of principal ``p`` on ``r`` in one case (at ``node`` of ``f``), with the
    case's context and the spec's organization."""

    f: SourceFile
    node: Node
    context: Mapping[str, tuple[str, ...]]
    p: model.Principal
    r: model.Resource | None
    organization: model.Organization | None

    def settled(
        self,
        stmt: CompiledStatement,
        step: str,
        unknown: Mapping[str, object],
        *,
        by_principal: bool = True,
    ) -> bool:
        """:func:`_settled` for a step of these checks."""
        return _settled(
            stmt, self.p, self.r, step, self.context, self.organization, unknown,
            by_principal=by_principal,
        )  # fmt: skip

    def at(self) -> str:
        """``file:line:col`` of the case, where its checks' errors are."""
        line, col = where(self.node)
        return f"{self.f.display}:{line}:{col}"


def _error(case: _Checks, reading: _Reading, steps: Sequence[str]) -> str | None:
    p = case.p
    for step in steps:
        account_level = catalog.is_account_level(step)
        unknown = reading.unknown[account_level]
        for pol in reading.policies:
            if pol.kind is model.PolicyKind.RESOURCE and account_level:
                continue  # a repository policy takes no part in an account-level action
            for stmt in pol.for_action(step):
                read = sorted(stmt.keys & unknown.keys())
                if not read or case.settled(stmt, step, unknown):
                    continue
                key = read[0]
                what, example = unknown[key]
                return (
                    f"{case.at()}: statement {stmt.label} of policy "
                    f"{excerpt(pol.name)} reads {_KEY_NAMES[key]}, which AWS puts in every "
                    f"request of {excerpt(p.name)} but whose value is {what}, which the tool "
                    "cannot know; give it in this case's context (for example "
                    f"{_KEY_NAMES[key]}: {example})"
                )
    return None


def _federation_statements(
    p: model.Principal, r: model.Resource | None
) -> tuple[CompiledPolicy, str] | None:
    """For a federated user ``p`` on a repository whose policy has a statement whose Principal
    or NotPrincipal names an IAM user of ``p``'s account: that policy and the prefix of those
    user ARNs; else None. Such a statement applies to the federated user sessions the user
    creates ("Session policies": a resource-based policy naming the ARN of the user who
    created the session grants to it, within the session policy), and the spec does not say
    which IAM user created ``p``'s session (GetFederationToken)."""
    if p.type is not model.PrincipalType.FEDERATED_USER or p.account is None:
        return None
    if r is None or r.policy is None:
        return None
    prefix = f"arn:aws:iam::{p.account}:user/"
    for stmt in r.policy.statements:
        pm = stmt.principal
        if pm is not None and any(arn.startswith(prefix) for arn in pm.arns):
            return r.policy, prefix
    return None


def _federation_error(
    case: _Checks, tables: _Tables, federated: tuple[CompiledPolicy, str], steps: Sequence[str]
) -> str | None:
    """The error of a check of federated user ``p`` that a statement naming an IAM user of its
    account (:func:`_federation_statements`) may decide, or None. A statement that names
    ``p`` itself (its federated-user ARN, or ``*``) applies whoever created the session, and
    one whose Resource or a known condition cannot hold is settled without knowing it."""
    p = case.p
    policy, prefix = federated
    unknown: dict[str, tuple[str, str]] | None = None  # of a repository action, when needed
    for step in steps:
        if catalog.is_account_level(step):
            continue  # a repository policy takes no part in an account-level action
        for stmt in policy.for_action(step):
            pm = stmt.principal
            if pm is None:
                continue
            users = sorted(arn for arn in pm.arns if arn.startswith(prefix))
            if not users:
                continue
            if pm.excludes(p) if pm.negated else pm.grant(p) == GRANT_DIRECT:
                continue  # decided by p's own ARN, whoever created the session
            if unknown is None:
                unknown = _not_given(tables[0], case.context)
            if case.settled(stmt, step, unknown, by_principal=False):
                continue
            element = "NotPrincipal" if pm.negated else "Principal"
            return (
                f"{case.at()}: statement {stmt.label} of policy "
                f"{excerpt(policy.name)} names the IAM user {users[0]} in its {element}, which "
                "AWS applies to the federated user sessions that user creates "
                f"(GetFederationToken); the spec does not say which IAM user created the session "
                f"of {excerpt(p.name)} ({p.arn}), so the tool cannot decide this check. Name the "
                f"federated user ({p.arn}) in the statement as well, or check the IAM user itself"
            )
    return None


#: Keys whose values the clock gives: a test on one is never taken to settle a statement,
#: since a check may be evaluated at another instant than the spec is read.
_CLOCK_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})


def _settled(
    stmt: CompiledStatement,
    p: model.Principal,
    r: model.Resource | None,
    step: str,
    context: Mapping[str, tuple[str, ...]],
    organization: model.Organization | None,
    unknown: Mapping[str, object],
    *,
    by_principal: bool = True,
) -> bool:
    """Whether ``stmt`` cannot apply to this request whatever the values of the ``unknown``
    keys: its Principal element does not name ``p`` (unless ``by_principal`` is false), its
    (fixed) Resource element does not name the repository, or a test of its Condition block
    on another, known key is false (the tests of a block must all hold). A test whose values
    hold policy variables is never taken to settle it, as a variable may read an unknown key."""
    if by_principal and stmt.principal is not None and not stmt.principal.matches(p):
        return True
    account_level = catalog.is_account_level(step)
    if stmt.conditions is None and (stmt.resource is None or stmt.resource.dynamic):
        return False
    from runner import engine  # only when a key is unknowable: collection stays cheap

    request = model.Request(
        principal=p, action=step, resource=r, context=context, organization=organization
    )
    try:
        ctx = engine.build_context(request)
    except ValueError:  # pragma: no cover - a request the loader never builds
        return False
    if (
        stmt.resource is not None
        and not stmt.resource.dynamic
        and r is not None
        and not account_level
        and not stmt.resource.matches(r.arn, lambda: ctx)
    ):
        return True
    if stmt.conditions is None:
        return False
    for test in stmt.conditions.entries:
        key = test.key.lower()
        if key in unknown or key in _CLOCK_KEYS or any("${" in v for v in test.expected):
            continue
        if not test.test(ctx.get_values(test.key), ctx):
            return True
    return False


def case_policies(
    principals: Sequence[model.Principal],
    resources: Sequence[model.Resource | None],
    organization: model.Organization | None,
) -> list[CompiledPolicy]:
    """Every policy that takes part in some check of a case, each once."""
    policies: dict[int, CompiledPolicy] = {}
    for p in principals:
        for pol in (*p.policies, p.boundary, p.session_policy):
            if pol is not None:
                policies.setdefault(id(pol), pol)
    for r in resources:
        if r is not None and r.policy is not None:
            policies.setdefault(id(r.policy), r.policy)
    if organization is not None:
        for pol in (*organization.scps, *organization.rcps):
            policies.setdefault(id(pol), pol)
    return list(policies.values())


class KeyChecks:
    """The context checks of the cases of one spec file. A file-level context key is
    reported once, not once per case."""

    def __init__(self, reader: Reader, defs: Definitions) -> None:
        self.reader = reader
        self.defs = defs
        self._reported: set[str] = set()

    def unknowable(
        self,
        f: SourceFile,
        node: Node,
        context: Mapping[str, tuple[str, ...]],
        p: model.Principal,
        r: model.Resource | None,
        organization: model.Organization | None,
    ) -> Callable[[Sequence[str]], str | None] | None:
        """For the checks of ``p`` on ``r`` in a case (at ``node``): None when no policy of
        theirs reads a key that AWS puts in every request of ``p`` but whose value the tool
        cannot know and ``context`` does not give; else a function of a check's ``steps``
        that gives its error (``file:line:col: message``), or None when each statement that
        reads such a key is settled without the value (see :func:`_settled`)."""
        tables = _unknowable(p, r, organization)
        reading = _reading(tables, p, r, organization, context)
        federated = _federation_statements(p, r)
        if reading is None and federated is None:
            return None

        case = _Checks(f, node, context, p, r, organization)

        def error(steps: Sequence[str]) -> str | None:
            found = None if reading is None else _error(case, reading, steps)
            if found is None and federated is not None:
                found = _federation_error(case, tables, federated, steps)
            return found

        return error

    def single_valued_keys(
        self,
        f: SourceFile,
        context: Mapping[str, tuple[str, ...]],
        own_nodes: Mapping[str, ScalarNode],
        principals: Sequence[model.Principal],
        resources: Sequence[model.Resource | None],
        organization: model.Organization | None,
        steps: set[str],
    ) -> bool:
        """A context key given several values must not meet a statement about the case's
        actions that tests it with a single-valued operator: AWS does not say how that
        evaluates, so the spec is refused rather than answered by a guess. False when a
        problem was recorded (at the case's own key in ``own_nodes``, else at the file's)."""
        multi = [(k, v) for k, v in context.items() if len(v) > 1]
        if not multi:
            return True
        policies = case_policies(principals, resources, organization)
        ok = True
        for key, values in multi:
            for pol in policies:
                hit = pol.single_valued_test(key, steps)
                if hit is None:
                    continue
                stmt, operator = hit
                if operator == VARIABLE_READ:
                    message = (
                        f"context key {excerpt(key)} has {len(values)} values, but statement "
                        f"{stmt.label} of policy {excerpt(pol.name)} reads it in a policy "
                        "variable, which takes one value (AWS: \"You can't use a multivalued "
                        f'condition key as a variable"). Give {key} one value here'
                    )
                else:
                    message = (
                        f"context key {excerpt(key)} has {len(values)} values, but statement "
                        f"{stmt.label} of policy {excerpt(pol.name)} tests it with {operator}, "
                        "which compares one value; "
                        f"{_MULTIVALUED_DOC}. Give {key} one value here, or test it with "
                        f"ForAnyValue:{operator} or ForAllValues:{operator}"
                    )
                own = own_nodes.get(key.lower())
                if own is not None:
                    self.reader.error(f, own, message)
                elif key.lower() not in self._reported:
                    self._reported.add(key.lower())
                    entry = self.defs.context[key.lower()]
                    self.reader.error(entry.definition.file, entry.node, message)
                ok = False
                break
        return ok
