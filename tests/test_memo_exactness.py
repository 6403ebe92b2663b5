"""The engine's memos change no answer: decisions with every memo warm equal decisions with
every memo emptied.

The engine remembers a great deal between requests, shared by every request (and every spec
file) of a process: a Condition block's result by the request's values of its keys
(``CompiledConditions.evaluate``), the filled-in context of a principal, repository and
organization (``context._FILLED_IN``), one shared context per principal, repository,
organization, own keys, instant and account-levelness with the statements found to apply
(``context.shared_context``, ``decide._match``), the interned evidence, the worded reasons and
statement labels (``explain``), the regexes of policy text with variables (``Template``), the
wildcard matchers' results, the parsed request values (``operators``), and compiled
documents placed where each copy is written (``spec.policy_cache``).

:func:`test_warm_memos_decide_as_emptied_memos` generates random organizations, principals,
repositories and policies of every kind (conditions with String, Arn, IpAddress, Date, Numeric,
Bool and Null operators, ``...IfExists``, ``ForAnyValue:``/``ForAllValues:``, policy variables)
and requests drawn from the policies' own constants. It decides the requests (a) through the
engine as it runs, memos warm and shared across requests, examples and placed copies of the
same documents, and (b) with freshly compiled policies and fresh model objects, every memo
emptied before each request; the decisions, gates, reasons, decisive statements and
explanations must be the same. The other tests pin the hazards a memo key could miss, as
decisions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import inspect
import re
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import catalog, engine, model, wildcards
from runner.engine import context as context_mod
from runner.engine import decide as decide_mod
from runner.engine import evidence as evidence_mod
from runner.engine import explain as explain_mod
from runner.engine import universal_strings
from runner.errors import Undecided
from runner.model import PolicyKind, RequestContext
from runner.policy import FULL_AWS_ACCESS, CompiledPolicy, compile_policy
from runner.policy import conditions as conditions_mod
from runner.policy import operators as operators_mod
from runner.policy import variables as variables_mod
from runner.policy.conditions import CompiledConditions, compile_conditions
from runner.spec import policy_cache
from runner.speed import IdentityMemo
from runner.wildcards import _Greedy

A, B, M = "111122223333", "444455556666", "999988887777"
NOW = dt.datetime(2026, 11, 30, 4, 10, tzinfo=dt.UTC)
LATER = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
#: NOW in another time zone: the same instant, another object
NOW_PLUS_2 = NOW.astimezone(dt.timezone(dt.timedelta(hours=2)))
INSTANTS = (NOW, LATER, NOW_PLUS_2)

ACTIONS = (
    "ecr:BatchGetImage",
    "ecr:PutImage",
    "ecr:GetAuthorizationToken",
    "ecr:CreateRepository",
    "ecr:DeleteRepository",
    "ecr:ListImages",
)
ACTION_PATTERNS = ("ecr:*", "ecr:BatchGetImage", "ecr:Put*", "ecr:*Repository", *ACTIONS[2:])

REPO_ARNS = (
    f"arn:aws:ecr:us-east-1:{A}:repository/app",
    f"arn:aws:ecr:eu-west-1:{A}:repository/platform/app",
    f"arn:aws:ecr:us-east-1:{B}:repository/shared",
)
RESOURCE_PATTERNS = (
    "*",
    *REPO_ARNS,
    f"arn:aws:ecr:*:{A}:repository/*",
    "arn:aws:ecr:us-east-1:*:repository/app",
    "arn:aws:ecr:*:*:repository/${aws:PrincipalAccount}*",
    f"arn:aws:ecr:eu-west-1:{A}:repository/${{aws:PrincipalTag/team}}/*",
    "arn:aws:ecr:*:*:repository/${aws:username, 'app'}",
)

#: (name, ARN or None, session) of the callers
CALLERS = (
    ("alice", f"arn:aws:iam::{A}:user/alice", None),
    ("bob", f"arn:aws:iam::{B}:user/bob", None),
    ("ci", f"arn:aws:iam::{A}:role/ci", "build-1"),
    ("partner", f"arn:aws:iam::{B}:role/partner", "pull"),
    (
        "slr",
        f"arn:aws:iam::{A}:role/aws-service-role/ecr.amazonaws.com/AWSServiceRoleForECR",
        "ecr",
    ),
    ("fed", f"arn:aws:sts::{A}:federated-user/fed", None),
    ("root", f"arn:aws:iam::{A}:root", None),
    ("codebuild", None, "codebuild.amazonaws.com"),
    ("anonymous", None, None),
)
PRINCIPAL_ELEMENTS: tuple[object, ...] = (
    "*",
    {"AWS": f"arn:aws:iam::{A}:role/ci"},
    {"AWS": f"arn:aws:sts::{A}:assumed-role/ci/build-1"},
    {"AWS": A},
    {"AWS": f"arn:aws:iam::{B}:root"},
    {"AWS": [f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{B}:role/partner"]},
    {"Service": "codebuild.amazonaws.com"},
)
TAG_VALUES = ("platform", "apps", "Platform", "alice", "")
ENV_VALUES = ("dev", "prod", "Dev")

#: request keys a spec may give, with values drawn from the policies' constants
OWN_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "aws:SourceIp": (("203.0.113.7",), ("198.51.100.1",), ("2001:db8::1",), ("not-an-ip",)),
    "aws:sourceip": (("203.0.113.9",), ("10.0.0.1",)),
    "aws:MultiFactorAuthPresent": (("true",), ("false",), ("TRUE",)),
    "aws:MultiFactorAuthAge": (("30",), ("3600",), ("7200",), ("abc",)),
    "aws:TagKeys": ((), ("env",), ("env", "team"), ("team", "env"), ("Env",), ("",), ("env", "x")),
    "aws:RequestTag/env": (("dev",), ("Dev",), ("prod",)),
    "aws:PrincipalTag/team": (("platform",), ("Platform",), ("apps",)),
    "aws:username": (("alice",), ("Alice",), ("app",)),
    "aws:CurrentTime": (("2026-06-01T00:00:00Z",), ("2028-01-01T00:00:00Z",)),
}

#: (operator, key, candidate policy values) of the conditions; ``Q`` is replaced by a qualifier
CONDITIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("StringEquals", "aws:PrincipalTag/team", ("platform", "apps", "${aws:username}")),
    ("StringNotEquals", "aws:PrincipalTag/team", ("platform", "Platform")),
    ("StringEqualsIgnoreCase", "aws:principaltag/TEAM", ("platform", "APPS")),
    ("StringNotEqualsIgnoreCase", "aws:RequestTag/env", ("dev", "PROD")),
    ("StringLike", "aws:PrincipalTag/team", ("plat*", "?pps", "${aws:RequestTag/env}*")),
    ("StringNotLike", "aws:username", ("a*", "${aws:PrincipalTag/team}")),
    (
        "StringEquals",
        "aws:ResourceTag/env",
        ("dev", "${aws:RequestTag/env}", "${aws:PrincipalTag/team, 'dev'}"),
    ),
    ("StringEquals", "ecr:ResourceTag/env", ("prod", "dev")),
    ("StringEquals", "aws:RequestTag/env", ("${aws:PrincipalTag/team}", "${aws:ResourceTag/env}")),
    ("StringLike", "aws:RequestTag/env", ("${aws:PrincipalTag/env}*",)),
    ("StringEqualsIgnoreCase", "aws:username", ("${aws:PrincipalTag/team}",)),
    ("StringEquals", "aws:RequestedRegion", ("${aws:RequestTag/env, 'us-east-1'}",)),
    ("StringEquals", "aws:PrincipalAccount", (A, B, "${aws:ResourceAccount}")),
    ("StringEquals", "aws:ResourceAccount", (A, "${aws:PrincipalAccount}")),
    ("StringEquals", "aws:RequestedRegion", ("us-east-1", "eu-west-1")),
    ("StringEquals", "aws:PrincipalType", ("User", "AssumedRole", "Anonymous", "Account")),
    ("StringEquals", "aws:PrincipalOrgID", ("o-a1b2c3d4e5",)),
    ("StringLike", "aws:PrincipalServiceName", ("codebuild.*",)),
    ("Q:StringEquals", "aws:TagKeys", ("env", "team")),
    ("Q:StringLike", "aws:TagKeys", ("e*", "${aws:PrincipalTag/team}")),
    ("Q:StringNotEquals", "aws:TagKeys", ("env",)),
    ("ArnLike", "aws:PrincipalArn", (f"arn:aws:iam::{A}:role/*", f"arn:aws:iam::{B}:*")),
    (
        "ArnEquals",
        "aws:PrincipalArn",
        (
            f"arn:aws:iam::{A}:user/alice",
            "arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}",
        ),
    ),
    ("ArnNotLike", "aws:PrincipalArn", (f"arn:aws:iam::{A}:role/aws-service-role/*",)),
    ("IpAddress", "aws:SourceIp", ("203.0.113.0/24", "2001:db8::/32")),
    ("NotIpAddress", "aws:SourceIp", ("198.51.100.0/24",)),
    ("DateLessThan", "aws:CurrentTime", ("2027-01-01T00:00:00Z",)),
    ("DateGreaterThanEquals", "aws:CurrentTime", ("2026-11-30T04:10:00Z", "1798761600")),
    ("NumericLessThan", "aws:MultiFactorAuthAge", ("3600", "60")),
    ("NumericGreaterThan", "aws:EpochTime", ("1796000000",)),
    ("Bool", "aws:MultiFactorAuthPresent", ("true", "false")),
    ("Bool", "aws:SecureTransport", ("false",)),
    ("Null", "aws:MultiFactorAuthAge", ("true", "false")),
    ("Null", "aws:TagKeys", ("true", "false")),
    ("Null", "aws:PrincipalTag/team", ("true", "false")),
)
_QUALIFIED = re.compile(r"^Q:")


# ---------------------------------------------------------------------------------------------
# Emptying every memo


def _memo_holders(roots: Sequence[object]) -> list[object]:
    """The condition blocks, templates and wildcard matchers reachable from ``roots`` (compiled
    policies): the objects that remember results of their own. Functions are followed through
    their closures only (not their globals), so the walk stays inside the policies."""
    found: list[object] = []
    seen: set[int] = set()
    stack = list(roots)
    skip = (type, types.ModuleType, str, bytes, int, float, re.Pattern)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, CompiledConditions | variables_mod.Template | _Greedy):
            found.append(obj)
        if isinstance(obj, types.FunctionType):
            for cell in obj.__closure__ or ():
                with contextlib.suppress(ValueError):  # an empty cell has no contents
                    stack.append(cell.cell_contents)
            continue
        stack.extend(gc.get_referents(obj))
    return found


def _empty_objects(holders: Sequence[object]) -> None:
    for obj in holders:
        if isinstance(obj, CompiledConditions):
            if obj._results is not None:
                obj._results.clear()
        elif isinstance(obj, variables_mod.Template):
            obj._cache.clear()
            obj._static.clear()
        elif isinstance(obj, _Greedy):
            obj._memo.clear()


_LRU_CACHES: tuple[Any, ...] = (
    operators_mod._request_number,
    operators_mod._request_date,
    operators_mod._request_ip,
    operators_mod._request_binary,
    variables_mod.wildcard_regex,
    catalog.matching_actions,
    evidence_mod.policy_evidence,
    evidence_mod.gate_reports,
    universal_strings.parse_template,
)
#: the module-level dicts of remembered values (an IdentityMemo's are its ``_entries``)
_DICTS: tuple[Callable[[], dict[Any, Any]], ...] = (
    lambda: context_mod._FILLED_IN._entries,
    lambda: context_mod._CREATED._entries,
    lambda: context_mod._SHARED,
    lambda: explain_mod._REMEMBERED,
    lambda: explain_mod._LABELS,
    lambda: universal_strings._CELLS_CACHE,
)


@contextlib.contextmanager
def memos_emptied() -> Iterator[Callable[[], None]]:
    """Within the block, ``empty()`` empties every module-level memo of the engine; on leaving,
    the memos are as they were before (the warm side keeps them across examples). The lru
    caches (of pure functions and interned values) are emptied and not restored."""
    saved = [dict(get()) for get in _DICTS]
    last, time_keys = context_mod._last, context_mod._time_keys_of

    def empty() -> None:
        for get in _DICTS:
            get().clear()
        for cache in _LRU_CACHES:
            cache.cache_clear()
        context_mod._last = None
        context_mod._time_keys_of = None

    try:
        yield empty
    finally:
        for get, entries in zip(_DICTS, saved, strict=True):
            get().clear()
            get().update(entries)
        context_mod._last, context_mod._time_keys_of = last, time_keys


#: the modules whose module-level memos :func:`memos_emptied` knows, and their other
#: module-level containers (tables built at import and never written after)
_MODULES = (context_mod, evidence_mod, explain_mod, decide_mod, conditions_mod, operators_mod,
            variables_mod, wildcards, catalog)  # fmt: skip
_CONSTANTS = {
    "GATE_OF_KIND", "_REASONS", "_KIND_OF_GATE", "_SKIPPED", "_ACCOUNT_LEVEL", "_GRANTS",
    "_DENIED", "_REFUSALS", "OPERATORS", "_FULL_NAMES", "_CMP", "_ESCAPES", "_FOLD", "ACTIONS",
    "_BY_LOWER", "ACCOUNT_LEVEL", "OPERATIONS",
}  # fmt: skip
_MEMO_NAMES = {
    "_FILLED_IN", "_SHARED", "_CREATED", "_LABELS", "_REMEMBERED", "policy_evidence",
    "gate_reports", "_request_number", "_request_date", "_request_ip", "_request_binary",
    "wildcard_regex", "matching_actions",
}  # fmt: skip
#: module-level names rebound while deciding (``global``), and how the test treats them
_REBOUND = {"_last", "_time_keys_of", "_last_second", "_clock"}


def test_every_memo_is_known_to_this_test() -> None:
    # A memo added to these modules later must be emptied by memos_emptied too, or the
    # differential test would compare warm memos with warm memos.
    for module in _MODULES:
        for name, value in vars(module).items():
            if name.startswith("__") or isinstance(value, types.ModuleType | type):
                continue
            if hasattr(value, "cache_clear") or isinstance(
                value, dict | list | set | types.MappingProxyType | IdentityMemo
            ):
                assert name in _MEMO_NAMES | _CONSTANTS, f"{module.__name__}.{name}"
        source = inspect.getsource(module)
        for name in re.findall(r"^\s+global (\w+)", source, flags=re.MULTILINE):
            assert name in _REBOUND, f"{module.__name__}: global {name}"
    # (_last_second only feeds the system clock, and every request here gives its instant;
    # _clock is the clock itself)
    # the per-object memos _empty_objects empties
    assert CompiledConditions.__slots__ == ("_entries", "_keys", "_results", "_tests", "empty")
    assert variables_mod.Template.__slots__ == (
        "_cache", "_parts", "_static", "has_variables", "text"
    )  # fmt: skip
    assert "_memo" in _Greedy.__slots__


# ---------------------------------------------------------------------------------------------
# Random worlds


@dataclass(frozen=True)
class Caller:
    index: int  # into CALLERS
    identity: tuple[int, ...]  # documents attached as identity policies
    boundary: int | None
    session: int | None
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Repo:
    index: int  # into REPO_ARNS
    policy: int | None
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Org:
    management: str
    accounts: tuple[str, ...]
    scps: tuple[int, ...]
    full_access: bool
    rcps: tuple[int, ...]


@dataclass(frozen=True)
class Ask:
    caller: int
    repo: int | None
    action: str
    own: tuple[tuple[str, tuple[str, ...]], ...]
    now: int  # into INSTANTS
    org: int | None = None  # into World.orgs


@dataclass(frozen=True)
class World:
    documents: tuple[tuple[PolicyKind, dict[str, Any]], ...]
    callers: tuple[Caller, ...]
    repos: tuple[Repo, ...]
    orgs: tuple[Org, ...]
    asks: tuple[Ask, ...]
    compiled: dict[int, bool] = field(default_factory=dict, compare=False)


@st.composite
def condition_blocks(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, dict[str, Any]] = {}
    for _ in range(draw(st.integers(1, 2))):
        operator, key, candidates = draw(st.sampled_from(CONDITIONS))
        if _QUALIFIED.match(operator):
            qualifier = draw(st.sampled_from(("ForAnyValue", "ForAllValues")))
            operator = f"{qualifier}:{operator[2:]}"
        if operator != "Null" and draw(st.booleans()):
            operator += "IfExists"
        values = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=2, unique=True))
        if operator == "Null":
            values = values[:1]
        block.setdefault(operator, {})[key] = values if len(values) > 1 else values[0]
    return block


@st.composite
def statements(draw: st.DrawFn, kind: PolicyKind) -> dict[str, Any]:
    stmt: dict[str, Any] = {}
    if draw(st.booleans()):
        stmt["Sid"] = "Sid"  # numbered by documents()
    effect = "Deny" if kind is PolicyKind.RCP else draw(st.sampled_from(("Allow", "Deny")))
    stmt["Effect"] = effect
    actions = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3, unique=True))
    if kind is not PolicyKind.RCP and draw(st.integers(0, 5)) == 0:
        stmt["NotAction"] = actions
    else:
        stmt["Action"] = actions if len(actions) > 1 else actions[0]
    if kind is PolicyKind.RESOURCE:
        principal = draw(st.sampled_from(PRINCIPAL_ELEMENTS))
        if effect == "Deny" and principal != "*" and draw(st.integers(0, 3)) == 0:
            stmt["NotPrincipal"] = principal
        else:
            stmt["Principal"] = principal
    else:
        if kind is PolicyKind.RCP:
            stmt["Principal"] = "*"
        resources = draw(
            st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2, unique=True)
        )
        element = "NotResource" if draw(st.integers(0, 6)) == 0 else "Resource"
        stmt[element] = resources if len(resources) > 1 else resources[0]
    if draw(st.booleans()):
        stmt["Condition"] = draw(condition_blocks())
    return stmt


def _numbered(statements: list[dict[str, Any]]) -> dict[str, Any]:
    for i, stmt in enumerate(statements):
        if "Sid" in stmt:
            stmt["Sid"] = f"S{i}"
    return {"Version": "2012-10-17", "Statement": statements}


def documents(kind: PolicyKind) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(statements(kind), min_size=1, max_size=3).map(_numbered)


def _tags(keys: Sequence[str]) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    return st.lists(
        st.tuples(st.sampled_from(keys), st.sampled_from((*TAG_VALUES, *ENV_VALUES))),
        max_size=2,
        unique_by=lambda t: t[0],
    ).map(tuple)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    kinds = (
        [PolicyKind.IDENTITY] * draw(st.integers(1, 3))
        + [PolicyKind.BOUNDARY] * draw(st.integers(0, 1))
        + [PolicyKind.SESSION] * draw(st.integers(0, 1))
        + [PolicyKind.RESOURCE] * draw(st.integers(0, 2))
        + [PolicyKind.SCP] * draw(st.integers(0, 2))
        + [PolicyKind.RCP] * draw(st.integers(0, 1))
    )
    docs = tuple((k, draw(documents(k))) for k in kinds)
    of = {k: [i for i, (kk, _) in enumerate(docs) if kk is k] for k in PolicyKind}

    def pick(kind: PolicyKind) -> st.SearchStrategy[int | None]:
        return st.none() | st.sampled_from(of[kind]) if of[kind] else st.none()

    callers = []
    for index in draw(st.lists(st.integers(0, len(CALLERS) - 1), min_size=1, max_size=4)):
        name, arn, _ = CALLERS[index]
        iam = arn is not None and name != "root"
        callers.append(
            Caller(
                index,
                tuple(draw(st.lists(st.sampled_from(of[PolicyKind.IDENTITY]), max_size=2)))
                if iam
                else (),
                draw(pick(PolicyKind.BOUNDARY)) if iam else None,
                draw(pick(PolicyKind.SESSION)) if iam and name != "alice" else None,
                draw(_tags(("team", "Team", "env"))) if arn is not None else (),
            )
        )
    repos = [
        Repo(index, draw(pick(PolicyKind.RESOURCE)), draw(_tags(("env", "team"))))
        for index in draw(st.lists(st.integers(0, len(REPO_ARNS) - 1), min_size=1, max_size=2))
    ]
    orgs = [
        Org(
            draw(st.sampled_from((M, A))),
            tuple(draw(st.lists(st.sampled_from((A, B)), min_size=1, max_size=2, unique=True))),
            tuple(draw(st.lists(st.sampled_from(of[PolicyKind.SCP]), max_size=2, unique=True)))
            if of[PolicyKind.SCP]
            else (),
            draw(st.booleans()),
            tuple(of[PolicyKind.RCP]),
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    text = repr(docs).lower()
    read = [k for k in sorted(OWN_KEYS) if k.lower() in text]
    asks = []
    for _ in range(draw(st.integers(2, 8))):
        # mostly the keys the policies read (and the keys their variables name)
        keys = draw(
            st.lists(st.sampled_from(read) | st.sampled_from(sorted(OWN_KEYS)), max_size=3)
            if read
            else st.lists(st.sampled_from(sorted(OWN_KEYS)), max_size=3)
        )
        own = tuple((k, draw(st.sampled_from(OWN_KEYS[k]))) for k in dict.fromkeys(keys))
        asks.append(
            Ask(
                draw(st.integers(0, len(callers) - 1)),
                draw(st.none() | st.integers(0, len(repos) - 1)),
                draw(st.sampled_from(ACTIONS)),
                own,
                draw(st.integers(0, len(INSTANTS) - 1)),
                draw(st.none() | st.integers(0, len(orgs) - 1)) if orgs else None,
            )
        )
    return World(docs, tuple(callers), tuple(repos), tuple(orgs), tuple(asks))


# ---------------------------------------------------------------------------------------------
# Building and deciding

Compile = Callable[[int, PolicyKind, dict[str, Any], int], CompiledPolicy | None]


def _placed(index: int, kind: PolicyKind, doc: dict[str, Any], copy: int) -> CompiledPolicy | None:
    """The loader's way: compiled once per document and kind, then placed where each copy is
    written (the copies share their compiled conditions, and so their remembered results)."""
    try:
        return policy_cache.compile_once(
            lambda: doc,
            kind,
            content=None,
            name=f"doc{index}",
            file="policies.yaml",
            line=10 * index + copy,  # each copy elsewhere: new policy and statement objects
            statement_lines=None,
        )
    except model.PolicyInvalid:
        return None


def _fresh(index: int, kind: PolicyKind, doc: dict[str, Any], copy: int) -> CompiledPolicy | None:
    try:
        return compile_policy(doc, kind, name=f"doc{index}", file="policies.yaml", line=0)
    except model.PolicyInvalid:
        return None


@dataclass
class Built:
    principals: list[model.Principal]
    resources: list[model.Resource]
    organizations: list[model.Organization]
    policies: list[CompiledPolicy]


def build(world: World, compile_doc: Compile) -> Built:
    copies = iter(range(1_000_000))
    made: list[CompiledPolicy] = []

    def get(index: int) -> CompiledPolicy | None:
        kind, doc = world.documents[index]
        found = compile_doc(index, kind, doc, next(copies))
        world.compiled[index] = found is not None
        if found is not None:
            made.append(found)
        return found

    def some(indexes: Sequence[int]) -> list[CompiledPolicy]:
        return [p for p in map(get, indexes) if p is not None]

    principals = []
    for c in world.callers:
        name, arn, extra = CALLERS[c.index]
        if arn is None:
            principals.append(
                model.service_principal(name, extra) if extra else model.anonymous_principal(name)
            )
            continue
        principals.append(
            model.principal_from_arn(
                name,
                arn,
                session=extra,
                policies=some(c.identity),
                boundary=get(c.boundary) if c.boundary is not None else None,
                session_policy=get(c.session) if c.session is not None else None,
                tags=dict(c.tags),
            )
        )
    resources = [
        model.repository(
            f"repo{r.index}",
            REPO_ARNS[r.index],
            policy=get(r.policy) if r.policy is not None else None,
            tags=dict(r.tags),
        )
        for r in world.repos
    ]
    orgs = []
    for o in world.orgs:
        scps = some(o.scps)
        if o.full_access or not scps:
            scps.insert(0, FULL_AWS_ACCESS)
        orgs.append(
            model.Organization(
                id="o-a1b2c3d4e5",
                management_account=o.management,
                accounts=frozenset(o.accounts),
                scps=tuple(scps),
                rcps=tuple(some(o.rcps)),
            )
        )
    return Built(principals, resources, orgs, made)


def _without_lines(value: Any) -> Any:
    """An explanation without the lines of policies and statements (placed copies are written
    elsewhere by design)."""
    if isinstance(value, Mapping):
        return {k: _without_lines(v) for k, v in value.items() if k != "line"}
    if isinstance(value, list):
        return [_without_lines(v) for v in value]
    return value


def _answer(d: engine.Decision, full: bool) -> tuple[Any, ...]:
    out: tuple[Any, ...] = (str(d.decision), str(d.gate), d.reason, d.decisive())
    return (*out, _without_lines(d.to_dict())) if full else out


def _request(built: Built, ask: Ask, context: Mapping[str, Sequence[str]]) -> model.Request:
    resource = built.resources[ask.repo] if ask.repo is not None else None
    if resource is None and not catalog.is_account_level(ask.action):
        resource = built.resources[0]
    return model.Request(
        built.principals[ask.caller],
        ask.action,
        resource,
        context,
        built.organizations[ask.org] if ask.org is not None else None,
    )


def _decide(request: model.Request, ask: Ask, full: bool) -> tuple[Any, ...]:
    try:
        return _answer(engine.evaluate(request, now=INSTANTS[ask.now]), full)
    except (ValueError, Undecided) as exc:  # a request that cannot exist or be decided (the
        return ("refused", str(exc))  # same way on both sides)


def neighbours(world: World, ask: Ask) -> list[Ask]:
    """Requests next to ``ask``: each own key with each other value it may have, another
    instant, another organization (or none), the other callers. Decided just before ``ask``,
    they fill the memos with what a key that misses a part would confuse with ``ask``."""
    out = []
    for i, (key, value) in enumerate(ask.own):
        for other in OWN_KEYS[key]:
            if other != value:
                own = (*ask.own[:i], (key, other), *ask.own[i + 1 :])
                out.append(dataclasses.replace(ask, own=own))
    out.append(dataclasses.replace(ask, now=(ask.now + 1) % len(INSTANTS)))
    for org in (None, *range(len(world.orgs))):
        if org != ask.org:
            out.append(dataclasses.replace(ask, org=org))
    for caller in range(len(world.callers)):
        if caller != ask.caller:
            out.append(dataclasses.replace(ask, caller=caller))
    return out


def differential(world: World) -> dict[str, int]:
    """Decide the world's requests warm and with every memo emptied; assert they agree.
    Returns how much the warm side found remembered (for the test that the memos were used)."""
    warm = build(world, _placed)
    # a second build of the same world: other principal, repository and policy objects (new
    # placed copies) that share the compiled conditions of the first, interleaved with it
    twin = build(world, _placed)
    # (a) warm: every request, for both builds, then again in reverse order; one context
    # mapping reused with new contents for every request (the engine must read it by value)
    shared: dict[str, Sequence[str]] = {}
    got: list[tuple[Any, ...]] = []
    asks = [near for ask in world.asks for near in (*neighbours(world, ask), ask)]
    for ask in asks:
        for built in (warm, twin):
            shared.clear()
            shared.update(dict(ask.own))
            answer = _decide(_request(built, ask, shared), ask, True)
            if built is warm:
                got.append(answer)
            else:
                assert answer == got[-1], (ask, "the twin")
    for ask, expected in reversed(list(zip(asks, got, strict=True))):
        for built in (twin, warm):
            shared.clear()
            shared.update(dict(ask.own))
            assert _decide(_request(built, ask, shared), ask, False) == expected[:4], ask
    used = {
        "blocks remembering": sum(
            1
            for h in _memo_holders(warm.policies)
            if isinstance(h, CompiledConditions) and h._results
        ),
        "shared contexts": len(context_mod._SHARED),
    }

    # (b) fresh objects, freshly compiled policies, every memo emptied before each request
    fresh = build(world, _fresh)
    holders = _memo_holders(fresh.policies)
    with memos_emptied() as empty:
        for ask, expected in zip(asks, got, strict=True):
            empty()
            _empty_objects(holders)
            assert _decide(_request(fresh, ask, dict(ask.own)), ask, True) == expected, ask
    return used


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_warm_memos_decide_as_emptied_memos(world: World) -> None:
    differential(world)


def test_the_differential_exercises_the_memos() -> None:
    # one fixed world through the same comparison: the warm side must have remembered
    # condition results and shared contexts, or the comparison would prove nothing
    ok = {"Version": "2012-10-17"}
    team = {"StringEquals": {"aws:PrincipalTag/team": "platform"}}
    ip = {"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}}
    identity = {
        **ok,
        "Statement": [
            {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": team},
            {"Effect": "Deny", "Action": "ecr:Put*", "Resource": "*", "Condition": ip},
        ],
    }
    repo_policy = {
        **ok,
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": B}, "Action": "ecr:*"}],
    }
    world = World(
        documents=((PolicyKind.IDENTITY, identity), (PolicyKind.RESOURCE, repo_policy)),
        callers=(
            Caller(2, (0,), None, None, (("team", "platform"),)),
            Caller(3, (0,), None, None, (("team", "apps"),)),
        ),
        repos=(Repo(0, 1, (("env", "dev"),)),),
        orgs=(),
        asks=tuple(
            Ask(c, 0, action, own, 0)
            for c in (0, 1)
            for action in ("ecr:PutImage", "ecr:BatchGetImage")
            for own in ((), (("aws:SourceIp", ("198.51.100.1",)),))
        ),
    )
    used = differential(world)
    assert all(world.compiled.values()) and len(world.compiled) == 2
    assert used["blocks remembering"] >= 2 and used["shared contexts"] >= 4


# ---------------------------------------------------------------------------------------------
# Condition blocks: remembered results against evaluating afresh


REQUEST_VALUES: dict[str, tuple[tuple[str, ...] | None, ...]] = {
    key: (None, *values) for key, values in OWN_KEYS.items()
} | {
    "aws:PrincipalTag/team": (None, (), ("platform",), ("Platform",), ("apps",), ("",)),
    "aws:principaltag/TEAM": (None, ("platform",), ("APPS",)),
    "aws:ResourceTag/env": (None, ("dev",), ("Dev",), ("prod",)),
    "ecr:ResourceTag/env": (None, ("dev",), ("prod",)),
    "aws:PrincipalAccount": (None, (A,), (B,), ("anonymous",)),
    "aws:ResourceAccount": (None, (A,), (B,)),
    "aws:RequestedRegion": (None, ("us-east-1",), ("eu-west-1",), ("us-east-1", "eu-west-1")),
    "aws:PrincipalType": (None, ("User",), ("AssumedRole",), ("Anonymous",)),
    "aws:PrincipalOrgID": (None, ("o-a1b2c3d4e5",), ("o-other",)),
    "aws:PrincipalServiceName": (None, ("codebuild.amazonaws.com",)),
    "aws:PrincipalArn": (
        None,
        (f"arn:aws:iam::{A}:role/ci",),
        (f"arn:aws:iam::{A}:user/alice",),
        (f"arn:aws:iam::{B}:user/bob",),
        (f"arn:aws:iam::{A}:role/aws-service-role/ecr.amazonaws.com/x",),
        ("not-an-arn",),
    ),
    "aws:EpochTime": (None, ("1796000000",), ("1800000000",), ("x",)),
    "aws:SecureTransport": (None, ("true",), ("false",)),
}


@st.composite
def request_contexts(draw: st.DrawFn) -> RequestContext:
    keys = draw(st.lists(st.sampled_from(sorted(REQUEST_VALUES)), max_size=6, unique=True))
    values: dict[str, tuple[str, ...]] = {}
    for key in keys:
        found = draw(st.sampled_from(REQUEST_VALUES[key]))
        if found is not None:
            values[key] = found
    return RequestContext(values)


def _block(document: Mapping[str, Any]) -> CompiledConditions:
    compiled, problems = compile_conditions(document, version="2012-10-17", path=("Condition",))
    assert not problems, problems
    return compiled


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(condition_blocks(), min_size=1, max_size=4),
    st.lists(request_contexts(), min_size=1, max_size=25),
)
def test_remembered_block_results_equal_evaluating_afresh(
    blocks: list[dict[str, Any]], contexts: list[RequestContext]
) -> None:
    for document in blocks:
        warm = _block(document)
        # every request twice, in both orders, against one block; each answer against the
        # block evaluated without its memo and against a block compiled afresh
        for ctx in [*contexts, *reversed(contexts)]:
            assert warm.evaluate(ctx) == warm._evaluate(ctx) == _block(document).evaluate(ctx)
            assert warm.evaluate(ctx) == all(bool(e["result"]) for e in warm.explain(ctx))


# ---------------------------------------------------------------------------------------------
# The hazards a memo key could miss, as decisions


def _identity(name: str, *statements: Mapping[str, Any]) -> CompiledPolicy:
    return compile_policy(
        {"Version": "2012-10-17", "Statement": list(statements)}, PolicyKind.IDENTITY, name=name
    )


def _allow_if(condition: Mapping[str, Any]) -> CompiledPolicy:
    return _identity(
        "conditional",
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": condition},
    )


APP = f"arn:aws:ecr:us-east-1:{A}:repository/app"


def _decisions(
    policy: CompiledPolicy,
    contexts: Sequence[Mapping[str, Sequence[str]]],
    *,
    tags: Mapping[str, str] | None = None,
    now: dt.datetime = NOW,
) -> list[str]:
    ci = model.principal_from_arn(
        "ci", f"arn:aws:iam::{A}:role/ci", policies=[policy], tags=tags or {}
    )
    repo = model.repository("app", APP)
    return [
        engine.evaluate(model.Request(ci, "ecr:BatchGetImage", repo, c), now=now).decision
        for c in contexts
    ]


def test_values_are_remembered_case_sensitively_under_keys_of_any_case() -> None:
    # the key's spelling does not matter (IAM ignores the case of key names), the values' case
    # does (StringEquals compares them exactly)
    policy = _allow_if({"StringEquals": {"aws:RequestTag/Env": "dev"}})
    contexts = [
        {"aws:requesttag/env": ["dev"]},
        {"AWS:REQUESTTAG/ENV": ["Dev"]},
        {"aws:RequestTag/Env": ["dev"]},
        {"aws:RequestTag/env": ["DEV"]},
    ]
    assert (
        _decisions(policy, contexts * 2) == ["allow", "implicit-deny", "allow", "implicit-deny"] * 2
    )


def test_several_values_are_remembered_in_order_and_as_written() -> None:
    # ForAllValues over a multi-valued key: the same values in another order give the same
    # answer, one more or one other value another answer
    policy = _allow_if({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}})
    contexts: list[dict[str, list[str]]] = [
        {"aws:TagKeys": ["env", "team"]},
        {"aws:TagKeys": ["team", "env"]},
        {"aws:TagKeys": ["team", "env", "owner"]},
        {"aws:TagKeys": ["env", "env"]},
        {"aws:TagKeys": ["Env"]},
        {"aws:TagKeys": [""]},  # an empty set: ForAllValues holds
        {"aws:TagKeys": []},
        {},
    ]
    expected = [
        "allow",
        "allow",
        "implicit-deny",
        "allow",
        "implicit-deny",
        "allow",
        "allow",
        "allow",
    ]
    assert _decisions(policy, contexts) == expected
    assert _decisions(policy, contexts[::-1]) == expected[::-1]
    any_value = _allow_if({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}})
    assert _decisions(any_value, contexts) == [
        "allow", "allow", "allow", "allow", "implicit-deny", "implicit-deny", "implicit-deny",
        "implicit-deny",
    ]  # fmt: skip


def test_missing_empty_and_empty_string_are_answered_each_as_itself() -> None:
    # a key missing, given without values (both read as missing) and given as "" (a value,
    # though ForAllValues/ForAnyValue read it as the empty set): remembered apart
    policy = _allow_if(
        {"StringEqualsIfExists": {"aws:RequestTag/env": ""}, "Null": {"aws:TagKeys": "false"}}
    )
    contexts: list[dict[str, list[str]]] = [
        {"aws:TagKeys": ["x"]},
        {"aws:TagKeys": ["x"], "aws:RequestTag/env": []},
        {"aws:TagKeys": ["x"], "aws:RequestTag/env": [""]},
        {"aws:TagKeys": ["x"], "aws:RequestTag/env": ["dev"]},
        {"aws:TagKeys": []},
        {"aws:TagKeys": [""]},
    ]
    expected = ["allow", "allow", "allow", "implicit-deny", "implicit-deny", "allow"]
    assert _decisions(policy, contexts) == expected
    assert _decisions(policy, contexts[::-1]) == expected[::-1]


def test_text_that_reads_as_true_or_one_is_not_confused() -> None:
    # request values are text: "1", "true", "True" and "1.0" are remembered apart (1 == True
    # and hash(1) == hash(True) would merge them if values were not strings)
    numeric = _allow_if({"NumericEquals": {"aws:MultiFactorAuthAge": "1"}})
    boolean = _allow_if({"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    ages = [{"aws:MultiFactorAuthAge": [v]} for v in ("1", "true", "1.0", "01", "True", "1")]
    assert _decisions(numeric, ages) == [
        "allow", "implicit-deny", "allow", "allow", "implicit-deny", "allow"
    ]  # fmt: skip
    present = [{"aws:MultiFactorAuthPresent": [v]} for v in ("true", "1", "True", "TRUE", "1")]
    assert _decisions(boolean, present) == [
        "allow",
        "implicit-deny",
        "allow",
        "allow",
        "implicit-deny",
    ]


def test_a_block_remembers_no_more_than_its_limit_and_stays_right_after() -> None:
    policy = _allow_if({"StringLike": {"aws:RequestTag/build": "ok-*"}})
    limit = conditions_mod._RESULTS_LIMIT
    values = [f"ok-{i}" if i % 3 else f"no-{i}" for i in range(limit * 2 + 7)]
    contexts = [{"aws:RequestTag/build": [v]} for v in values]
    expected = ["allow" if v.startswith("ok-") else "implicit-deny" for v in values]
    assert _decisions(policy, contexts) == expected
    assert _decisions(policy, contexts[::-1]) == expected[::-1]
    block = policy.statements[0].conditions
    assert block is not None and block._results is not None
    assert 0 < len(block._results) <= limit


def test_a_block_with_a_variable_follows_the_principal() -> None:
    # the same request values, another principal: a block whose value holds a variable is not
    # remembered by the request's values of its keys alone
    policy = _allow_if({"StringEquals": {"aws:RequestTag/owner": "${aws:username}"}})
    repo = model.repository("app", APP)

    def decide(user: str) -> str:
        p = model.principal_from_arn(user, f"arn:aws:iam::{A}:user/{user}", policies=[policy])
        request = model.Request(p, "ecr:BatchGetImage", repo, {"aws:RequestTag/owner": ["alice"]})
        return engine.evaluate(request, now=NOW).decision

    assert [decide(u) for u in ("alice", "bob", "alice", "bob")] == ["allow", "implicit-deny"] * 2
    block = policy.statements[0].conditions
    assert block is not None and block._results is None


def test_a_principal_tag_variable_in_a_resource_follows_the_principal() -> None:
    policy = _identity(
        "team-repos",
        {
            "Effect": "Allow",
            "Action": "ecr:*",
            "Resource": f"arn:aws:ecr:us-east-1:{A}:repository/${{aws:PrincipalTag/team}}/*",
        },
    )
    repo = model.repository("p", f"arn:aws:ecr:us-east-1:{A}:repository/platform/app")
    answers = []
    for team in ("platform", "apps", "platform", "Platform"):
        p = model.principal_from_arn(
            "ci", f"arn:aws:iam::{A}:role/ci", policies=[policy], tags={"team": team}
        )
        answers.append(engine.evaluate(model.Request(p, "ecr:PutImage", repo), now=NOW).decision)
    assert answers == ["allow", "implicit-deny", "allow", "implicit-deny"]


def test_freed_principals_repositories_and_organizations_do_not_lend_their_answers() -> None:
    # Identity-keyed memos: a principal, repository or organization freed after its request
    # may have its id given to the next one. Each new object must get its own answer.
    policy = _allow_if({"StringEquals": {"aws:PrincipalTag/team": "platform"}})
    scp = compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "ecr:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}},
                },
            ],
        },
        PolicyKind.SCP,
        name="no-prod",
    )
    for i in range(300):
        team = "platform" if i % 2 else "apps"
        env = "prod" if i % 3 == 0 else "dev"
        member = i % 5 != 0
        p = model.principal_from_arn(
            "ci", f"arn:aws:iam::{A}:role/ci", policies=[policy], tags={"team": team}
        )
        repo = model.repository("app", APP, tags={"env": env})
        org = model.Organization(
            id="o-a1b2c3d4e5",
            management_account=M,
            accounts=frozenset({A} if member else {B}),
            scps=(scp,),
        )
        got = engine.evaluate(
            model.Request(p, "ecr:BatchGetImage", repo, organization=org), now=NOW
        ).decision
        if member and env == "prod":
            assert got == "explicit-deny", i
        else:
            assert got == ("allow" if team == "platform" else "implicit-deny"), i
        del p, repo, org


def test_equal_instants_share_and_other_instants_do_not() -> None:
    policy = _allow_if({"DateLessThan": {"aws:CurrentTime": "2026-11-30T04:10:01Z"}})
    at = [NOW, NOW_PLUS_2, NOW + dt.timedelta(seconds=1), NOW_PLUS_2, NOW - dt.timedelta(days=1)]
    answers = [_decisions(policy, [{}], now=when)[0] for when in at]
    assert answers == ["allow", "allow", "implicit-deny", "allow", "allow"]
    epoch = _allow_if({"NumericLessThan": {"aws:EpochTime": str(int(NOW.timestamp()) + 1)}})
    assert [_decisions(epoch, [{}], now=when)[0] for when in at] == answers


def test_merged_contexts_are_answered_by_their_own_values() -> None:
    # universal checks evaluate blocks over a base context merged with each assignment
    block = _block(
        {
            "IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"},
            "Bool": {"aws:SecureTransport": "true"},
        }
    )
    base = RequestContext({"aws:SecureTransport": ["true"], "aws:SourceIp": ["203.0.113.7"]})
    assignments: list[dict[str, Sequence[str]]] = [
        {},
        {"aws:sourceip": ["198.51.100.1"]},
        {"AWS:SOURCEIP": ["203.0.113.8"]},
        {"aws:SecureTransport": ["false"]},
        {"aws:SourceIp": []},
        {"aws:SourceIp": ["198.51.100.1"], "aws:securetransport": ["TRUE"]},
    ]
    expected = [True, False, True, False, True, False]
    assert [block.evaluate(base.merged(a)) for a in assignments] == expected
    assert [block.evaluate(base.merged(a)) for a in assignments[::-1]] == expected[::-1]


def test_one_document_placed_twice_answers_each_request_by_its_own_context() -> None:
    # placed copies share their compiled condition blocks, and so their remembered results
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
            }
        ],
    }
    placed = [
        policy_cache.compile_once(
            lambda: doc,
            PolicyKind.IDENTITY,
            content=None,
            name=name,
            file=f"{name}.yaml",
            line=3,
            statement_lines=None,
        )
        for name in ("office-a", "office-b")
    ]
    a, b = placed
    assert a is not b and a.statements[0] is not b.statements[0]
    assert a.statements[0].conditions is b.statements[0].conditions
    ips = ["203.0.113.7", "198.51.100.1", "203.0.113.250", "198.51.100.1"]
    for policy in (a, b, a):
        got = _decisions(policy, [{"aws:SourceIp": [ip]} for ip in ips])
        assert got == ["allow", "implicit-deny", "allow", "implicit-deny"]
    assert a.name == "office-a" and b.name == "office-b"
    repo = model.repository("app", APP)
    p = model.principal_from_arn("ci", f"arn:aws:iam::{A}:role/ci", policies=[b])
    d = engine.evaluate(
        model.Request(p, "ecr:BatchGetImage", repo, {"aws:SourceIp": [ips[0]]}), now=NOW
    )
    assert d.decisive()[0]["policy"] == "office-b"
    assert "office-b" in d.reason
