"""Universal checks: an expectation proven for every caller of a class and every context.

``decide(question)`` answers a :class:`Question` (a class of callers, a repository or none, an
action or an operation, the fixed context keys, the expectation) with a :class:`Result`:
passed, or failed with a :class:`Witness`; it raises :class:`Undecidable` (naming the policy,
statement, operator or key) when it cannot decide exactly. It never passes on a guess.

How it stays exact. The ordinary engine (``evaluate``) is the only evaluator. Finitely many
representative requests are chosen so that every concrete request is equivalent to one of
them, and each is evaluated:

1. Callers (``universal_callers``): the defined principals of the class (a defined role also
   in its other sessions, without the session policy), and one unmodelled caller per
   realizable combination of the tests that can tell unmodelled callers apart (their ARN
   enumerated as text against the Principal elements, the conditions on caller keys, the
   organization's, repository's, closed and class accounts); their identity policy allows
   everything, as the contract's worst case says. Closed accounts have no unmodelled IAM
   callers. SCPs and RCPs apply as the engine applies them.
2. Keys: for one caller, the request can only matter through the condition blocks of the
   statements that apply to it (action covered, principal matched) and the Resource elements;
   keys derived from the caller and the repository follow from them, keys the spec fixes are
   fixed, every other key read ranges (``universal_values``: one value per cell of the
   partition that the tests on that key induce, absence included; sets for keys tested with
   ForAllValues/ForAnyValue). aws:CurrentTime and aws:EpochTime are one instant.
3. The product: keys are grouped into components (keys read by one block are in one group);
   within a group every combination of values is evaluated *as the engine evaluates the
   blocks* (``CompiledConditions.evaluate``), and one combination is kept per vector of block
   results (the fewest keys present first). The decision depends on the context only through
   those vectors, so the product of the groups' vectors covers every request. Past a budget
   the check is undecidable, never sampled.
4. Policy variables must resolve from caller-derived, repository-derived or fixed keys; a
   variable over a key that ranges (a free key, or a name-derived key of an unmodelled
   caller, whose tests the enumeration of callers does not include) is refused.

An operation is allowed for a caller and context when every step is allowed in that context
(one context for all the steps of the operation); ``deny`` holds when, for every caller and
context, some step is denied.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runner import catalog
from runner.engine import Decision, build_context, evaluate
from runner.engine.universal_callers import (
    ALLOW_ALL,
    ALLOW_ALL_SESSION,
    Caller,
    CallerClass,
    CallerKind,
    Membership,
    Universe,
    collect,
    defined_callers,
    unmodelled_iam,
    unmodelled_services,
)
from runner.engine.universal_strings import parse_template, variable_keys
from runner.engine.universal_values import (
    Entry,
    Undecidable,
    Value,
    format_instant,
    instants,
    key_values,
    number_instants,
    parse_operator,
)
from runner.model import (
    Expectation,
    Organization,
    PolicyKind,
    Principal,
    PrincipalType,
    Request,
    RequestContext,
    Resource,
    Verdict,
    anonymous_principal,
    principal_from_arn,
    service_principal,
)
from runner.policy import CompiledPolicy, CompiledStatement

__all__ = [
    "CallerClass",
    "CallerKind",
    "Membership",
    "Question",
    "Result",
    "Undecidable",
    "Witness",
    "decide",
    "replay",
    "witness_dict",
]

_CALLER_KEYS = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principaltype",
        "aws:username",
        "aws:userid",
        "aws:principalisawsservice",
        "aws:principalservicename",
    }
)
#: Caller keys whose value an unmodelled caller's ARN determines (tests on them are part of
#: the caller enumeration); a policy variable over one of them would tie it to other text.
_NAME_KEYS = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:username",
        "aws:userid",
        "aws:principalservicename",
    }
)
_RESOURCE_KEYS = frozenset({"aws:resourceaccount", "aws:requestedregion"})
_RESOURCE_TAGS = ("aws:resourcetag/", "ecr:resourcetag/")
_TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})
_TIME = "aws:CurrentTime"  # the pseudo-key of the instant (both time keys)
#: Keys AWS sends with every request: they range over values, never absent.
_ALWAYS_PRESENT = frozenset({"aws:securetransport"})
#: Keys that follow from the caller but that the engine does not fill in.
_UNMODELLED_KEYS = {
    "aws:principalorgpaths": "it follows from the caller's account and organizational unit, "
    "which the spec does not describe",
}


@dataclass(frozen=True, slots=True)
class Question:
    """One universal check. ``steps`` are the catalog actions of ``action`` (one action, or
    the steps of an operation); ``defined`` every principal the spec defines, by name;
    ``context`` the keys the spec fixes."""

    caller_class: CallerClass
    defined: Mapping[str, Principal]
    resource: Resource | None
    action: str
    steps: tuple[str, ...]
    expected: Expectation
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    organization: Organization | None = None
    closed_accounts: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Witness:
    """A concrete request that breaks the expectation. ``principal`` carries ``tags``;
    ``context`` is what an ordinary check must add to the spec's fixed keys (values of keys
    that range; a key left out is absent); ``decisions`` one per step, decided again by the
    ordinary engine; ``step`` the step whose decision breaks it."""

    caller: Caller
    principal: Principal
    tags: Mapping[str, str]
    context: Mapping[str, tuple[str, ...]]
    decisions: tuple[Decision, ...]
    decision: str
    step: str
    multi_valued: frozenset[str]
    #: the keys (lowercased) that range for this caller: the ones the words mention
    ranging: frozenset[str]
    summary: str

    def request(self, question: Question, step: str) -> Request:
        merged = {**{k: tuple(v) for k, v in question.context.items()}, **self.context}
        return Request(self.principal, step, question.resource, merged, question.organization)


@dataclass(frozen=True, slots=True)
class Result:
    """``passed`` with ``witness`` None, or failed with one. ``considered`` names the callers
    taken into account; ``evaluated`` counts the engine decisions made."""

    question: Question
    passed: bool
    witness: Witness | None
    considered: tuple[str, ...]
    evaluated: int

    @property
    def decision(self) -> str:
        """The witness's decision, or the expectation proven."""
        return self.witness.decision if self.witness is not None else self.question.expected.value


def combine(decisions: Sequence[str]) -> str:
    """An operation's decision from its steps' (as ordinary checks combine them)."""
    if Verdict.EXPLICIT_DENY.value in decisions:
        return Verdict.EXPLICIT_DENY.value
    if all(d == Verdict.ALLOW.value for d in decisions):
        return Verdict.ALLOW.value
    return Verdict.IMPLICIT_DENY.value


# ---------------------------------------------------------------------------------------------
# Statements and their tests


_Stmt = tuple[CompiledPolicy, CompiledStatement]


def _where(policy: CompiledPolicy, stmt: CompiledStatement) -> str:
    place = f" ({policy.file}:{stmt.line})" if policy.file and stmt.line else ""
    return f"statement {stmt.label} of {policy.kind.label} {policy.name}{place}"


_ENTRY_CACHE: dict[int, tuple[CompiledStatement, tuple[Entry, ...]]] = {}


def _entries(policy: CompiledPolicy, stmt: CompiledStatement) -> tuple[Entry, ...]:
    hit = _ENTRY_CACHE.get(id(stmt))
    if hit is not None and hit[0] is stmt:
        return hit[1]
    out: list[Entry] = []
    if stmt.conditions is not None:
        for item in stmt.conditions.explain(RequestContext()):
            operator, key = str(item["operator"]), str(item["key"])
            parsed = parse_operator(operator)
            if parsed is None:
                raise Undecidable(f"{operator} in {_where(policy, stmt)} is not understood")
            expected = item["expected"]
            values = tuple(str(v) for v in expected) if isinstance(expected, list) else ()
            out.append(Entry(operator, key, values, parsed[0], parsed[1], _where(policy, stmt)))
    if len(_ENTRY_CACHE) > 4096:
        _ENTRY_CACHE.clear()
    _ENTRY_CACHE[id(stmt)] = (stmt, tuple(out))
    return tuple(out)


def _variables(policy: CompiledPolicy, stmt: CompiledStatement) -> list[str]:
    """The keys (lowercased) that policy variables of the statement read."""
    texts: list[str] = []
    if stmt.resource is not None:
        texts.extend(stmt.resource.texts)
    for entry in _entries(policy, stmt):
        texts.extend(entry.values)
    keys: list[str] = []
    for text in texts:
        if "${" in text:
            keys.extend(k.lower() for k in variable_keys(parse_template(text, policy.version)))
    return keys


def _is_free(key: str, caller: Caller, fixed: frozenset[str], has_resource: bool) -> bool:
    if key in fixed or key in _TIME_KEYS:
        return False
    if key in _CALLER_KEYS:
        return False
    if key.startswith("aws:principaltag/"):
        return caller.free_tags
    if key in _RESOURCE_KEYS or key.startswith(_RESOURCE_TAGS):
        return key == "aws:requestedregion" and not has_resource
    return True


def _guard_statements(q: Question, *, every: bool = False) -> list[_Stmt]:
    """Statements of the repository policy, SCPs and RCPs about the steps (``every``: all
    their statements; the callers enumerated from them are then the same, and remembered,
    for every check of the spec)."""
    policies: list[CompiledPolicy] = []
    if q.resource is not None and q.resource.policy is not None:
        policies.append(q.resource.policy)
    if q.organization is not None:
        policies.extend(q.organization.scps)
        policies.extend(q.organization.rcps)
    if every:
        return [(pol, st) for pol in policies for st in pol.statements]
    return [(pol, st) for pol in policies for st in pol.statements_for(q.steps)]


def _own_statements(p: Principal, steps: Sequence[str]) -> list[_Stmt]:
    if p.type in (PrincipalType.SERVICE, PrincipalType.ANONYMOUS):
        return []
    pols = [
        *p.policies,
        *([p.boundary] if p.boundary else []),
        *([p.session_policy] if p.session_policy else []),
    ]
    return [(pol, st) for pol in pols for st in pol.statements_for(steps)]


def _applies(stmt: CompiledStatement, p: Principal) -> bool:
    return stmt.principal is None or stmt.principal.matches(p)


# ---------------------------------------------------------------------------------------------
# Callers


def _callers(q: Question, guard: list[_Stmt]) -> list[Caller]:
    cls = q.caller_class
    org = q.organization
    if cls.organization is not None and org is None:
        raise Undecidable(
            f"the class {cls.name} speaks of the organization, but the spec has no organization"
        )
    for name in cls.excluded:
        if name not in q.defined:
            raise Undecidable(
                f"the class {cls.name} excludes {name!r}, which the spec does not define"
            )
    kinds = cls.kinds if cls.kinds is not None else frozenset(CallerKind)
    entries = [(e, pol.version) for pol, st in guard for e in _entries(pol, st)]
    account_keys = frozenset({"aws:principalaccount"}) | (
        frozenset({"aws:resourceaccount"})
        if any(catalog.is_account_level(s) for s in q.steps)
        else frozenset()
    )
    universe = Universe(
        cls, q.defined, q.closed_accounts, org, q.resource.account if q.resource else None
    )
    sessions: dict[tuple[str, str], set[str]] = {}
    collected = {}
    for kind in (CallerKind.USER, CallerKind.ROLE, CallerKind.ROOT, CallerKind.FEDERATED):
        collected[kind] = collect(kind, entries, guard, account_keys)
        for k, v in collected[kind].sessions.items():
            sessions.setdefault(k, set()).update(v)
    out = defined_callers(universe, sessions)
    for kind in (CallerKind.USER, CallerKind.ROLE, CallerKind.ROOT, CallerKind.FEDERATED):
        if kind in kinds:
            out.extend(unmodelled_iam(universe, kind, collected[kind]))
    outside_ok = cls.organization is not Membership.INSIDE and cls.accounts is None
    if CallerKind.SERVICE in kinds and outside_ok:
        out.extend(unmodelled_services(universe, entries, guard))
    defined_anonymous = any(p.type is PrincipalType.ANONYMOUS for p in q.defined.values())
    if CallerKind.ANONYMOUS in kinds and outside_ok and not defined_anonymous:
        out.append(
            Caller(
                anonymous_principal("anonymous"),
                CallerKind.ANONYMOUS,
                None,
                "an anonymous (unsigned) request",
                False,
            )
        )
    if not out:
        raise Undecidable(
            f"the class {cls.name} ({cls.describe()}) has no caller: every account it names is "
            "closed and it leaves out every defined principal that would belong to it"
        )
    return out


def _considered(callers: Sequence[Caller]) -> tuple[str, ...]:
    defined = sorted({c.name for c in callers if c.name is not None})
    out: list[str] = []
    if defined:
        out.append("defined principals: " + ", ".join(defined))
    for kind in CallerKind:
        group = [c for c in callers if c.name is None and c.kind is kind]
        if not group:
            continue
        if kind is CallerKind.ANONYMOUS:
            out.append("anonymous (unsigned) requests")
            continue
        accounts = sorted({c.principal.account for c in group if c.principal.account})
        what = f"{len(group)} unmodelled {kind.value} caller{'s' if len(group) > 1 else ''}"
        if accounts:
            what += " in accounts " + ", ".join(accounts)
        out.append(what)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Contexts for one caller


@dataclass(frozen=True, slots=True)
class _Choice:
    """One combination of values of a group of keys."""

    values: Mapping[str, tuple[str, ...]]  # key as written -> values (absent keys left out)
    present: int


@dataclass
class _Plan:
    groups: list[list[_Choice]]
    multi: frozenset[str]
    ranging: frozenset[str]


_MAX_GROUP = 4096
_MAX_PRODUCT = 20_000


def _plan(q: Question, caller: Caller, stmts: list[_Stmt], now: dt.datetime | None) -> _Plan:
    p = caller.principal
    fixed = frozenset(k.lower() for k in q.context)
    bases = [
        build_context(
            Request(p, step, _as_seen(q.resource, step), q.context, q.organization), now=now
        )
        for step in q.steps
    ]
    has_resource = q.resource is not None
    names: dict[str, str] = {}
    by_key: dict[str, list[Entry]] = {}
    versions: dict[int, str] = {}
    for pol, st in stmts:
        for var in _variables(pol, st):
            if var in fixed:
                continue
            if _is_free(var, caller, fixed, has_resource) or var in _TIME_KEYS:
                raise Undecidable(
                    f"the policy variable ${{{var}}} in {_where(pol, st)} reads a key that ranges "
                    "over every value; the universal check cannot tie it to the text it is "
                    "compared with (fix the key in the context)"
                )
            if caller.name is None and var in _NAME_KEYS:
                raise Undecidable(
                    f"the policy variable ${{{var}}} in {_where(pol, st)} reads the name or "
                    "account of unmodelled callers, which range over every value; the universal "
                    "check cannot tie it to the text it is compared with"
                )
        for entry in _entries(pol, st):
            low = entry.key.lower()
            names.setdefault(low, entry.key)
            versions[id(entry)] = pol.version
            by_key.setdefault(low, []).append(entry)
        for key in st.keys:
            names.setdefault(key, key)
    keys = sorted(set(by_key) | {k for _, st in stmts for k in st.keys})
    for key in keys:
        if key in _UNMODELLED_KEYS and key not in fixed:
            raise Undecidable(
                f"{names[key]} is read by a policy of this check, but {_UNMODELLED_KEYS[key]}"
            )
        if (
            key == "aws:userid"
            and caller.name is None
            and caller.kind in (CallerKind.USER, CallerKind.ROLE)
        ):
            raise Undecidable(
                "aws:userid of IAM users and role sessions is an opaque unique ID that the "
                "engine does not model; a policy of this check reads it"
            )
    lookups = [base.get_values for base in bases]

    values: dict[str, list[Value]] = {}
    multi: set[str] = set()
    for key in keys:
        if not _is_free(key, caller, fixed, has_resource):
            continue
        entries = by_key.get(key, [])
        if any(e.qualified for e in entries):
            multi.add(names[key])
        values[key] = key_values(
            key,
            entries,
            lookups,
            lambda e: versions[id(e)],
            absent=key not in _ALWAYS_PRESENT and key != "aws:requestedregion",
        )
    time_keys = [k for k in keys if k in _TIME_KEYS and k not in fixed]
    if time_keys:
        entries = [e for k in time_keys for e in by_key.get(k, [])]
        families = {e.family.value for e in entries} - {"null", "numeric", "date"}
        if families:
            raise Undecidable(
                f"{', '.join(names[k] for k in time_keys)} compared as text "
                f"({'; '.join(sorted({e.where for e in entries}))}); only Date and Numeric "
                "comparisons of the time are enumerated"
            )
        points = [i for i in instants(_TIME, number_instants(entries)) if i >= 0]
        seconds = sorted({i // 1_000_000_000 + d for i in points for d in (-1, 0, 1) if i >= 0})
        time_values: list[Value] = []
        for s in seconds:
            text = format_instant(s * 1_000_000_000)
            if text is not None and s >= 0:
                time_values.append((text, str(s)))
        values[_TIME] = time_values
    # groups: keys read by one block belong together
    parent: dict[str, str] = {k: k for k in values}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    blocks: list[tuple[CompiledStatement, list[str]]] = []
    for _pol, st in stmts:
        read = sorted({(_TIME if k in _TIME_KEYS else k) for k in st.keys} & set(values))
        if st.conditions is not None and read:
            blocks.append((st, read))
            for other in read[1:]:
                parent[find(other)] = find(read[0])
    members: dict[str, list[str]] = {}
    for k in values:
        members.setdefault(find(k), []).append(k)
    groups: list[list[_Choice]] = []
    for root in sorted(members):
        group_keys = sorted(members[root])
        group_blocks = [st for st, read in blocks if find(read[0]) == root]
        groups.append(_group_choices(group_keys, values, group_blocks, bases, names, time_keys))
    ranging = {k for k in values if k != _TIME} | set(time_keys)
    return _Plan(groups, frozenset(multi), frozenset(ranging))


def _as_seen(resource: Resource | None, step: str) -> Resource | None:
    """The repository as the engine sees it for ``step``: ecr:CreateRepository acts on a
    repository that does not exist yet, without a repository policy or tags (engine rule,
    docs/internals.md)."""
    if resource is None or step != "ecr:CreateRepository":
        return resource
    return Resource(
        resource.name, resource.arn, resource.region, resource.account, resource.repository
    )


def _assign(
    key: str, value: Value, names: Mapping[str, str], time_keys: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if key == _TIME:
        out: dict[str, tuple[str, ...]] = {}
        for k in time_keys:
            out["aws:CurrentTime" if k == "aws:currenttime" else "aws:EpochTime"] = (
                value[0] if k == "aws:currenttime" else value[1],
            )
        return out
    return {names[key]: value}


def _group_choices(
    keys: list[str],
    values: Mapping[str, list[Value]],
    blocks: list[CompiledStatement],
    bases: Sequence[RequestContext],
    names: Mapping[str, str],
    time_keys: Sequence[str],
) -> list[_Choice]:
    size = 1
    for k in keys:
        size *= max(1, len(values[k]))
    if size > _MAX_GROUP:
        shown = ", ".join(names.get(k, k) for k in keys)
        raise Undecidable(
            f"the keys {shown} are read together and have {size} combinations of value classes "
            f"(more than {_MAX_GROUP}); the universal check does not sample"
        )
    combos = []
    for combo in itertools.product(*(values[k] for k in keys)):
        present = sum(v is not None for v in combo)
        combos.append((present, combo))
    combos.sort(key=lambda c: c[0])
    seen: dict[tuple[bool, ...], _Choice] = {}
    for present, combo in combos:
        assignment: dict[str, tuple[str, ...]] = {}
        for k, v in zip(keys, combo, strict=True):
            assignment.update(_assign(k, v, names, time_keys))
        vector: list[bool] = []
        for base in bases:
            ctx = base.merged(assignment)
            for st in blocks:
                assert st.conditions is not None
                vector.append(st.conditions.evaluate(ctx))
        key = tuple(vector)
        if key not in seen:
            seen[key] = _Choice(assignment, present)
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# Deciding


def decide(question: Question, *, now: dt.datetime | None = None) -> Result:
    """Prove ``question`` for every caller and context, or find a witness that breaks it.
    Raises :class:`Undecidable` when the answer cannot be found exactly."""
    q = question
    for step in q.steps:
        if step not in catalog.ACTIONS:
            raise Undecidable(f"{step!r} is not an Amazon ECR action of the catalog")
        if q.resource is None and not catalog.is_account_level(step):
            raise Undecidable(f"{step} acts on a repository: the check needs a resource")
    guard = _guard_statements(q)
    callers = _callers(q, _guard_statements(q, every=True))
    considered = _considered(callers)
    evaluated = 0
    base_context = {k: tuple(v) for k, v in q.context.items()}
    # explicit-deny and implicit-deny must know whether any step is explicitly denied
    pinned = q.expected in (Expectation.EXPLICIT_DENY, Expectation.IMPLICIT_DENY)
    for caller in callers:
        p = caller.principal
        stmts = [(pol, st) for pol, st in guard if _applies(st, p)] + _own_statements(p, q.steps)
        plan = _plan(q, caller, stmts, now)
        total = 1
        for g in plan.groups:
            total *= len(g)
        if total > _MAX_PRODUCT:
            raise Undecidable(
                f"{caller.description}: {total} combinations of condition results to evaluate "
                f"(more than {_MAX_PRODUCT}); the universal check does not sample"
            )
        combos = sorted(itertools.product(*plan.groups), key=lambda cs: sum(c.present for c in cs))
        for combo in combos:
            context = dict(base_context)
            for choice in combo:
                context.update(choice.values)
            decisions: list[str] = []
            for step in q.steps:
                d = evaluate(Request(p, step, q.resource, context, q.organization), now=now)
                evaluated += 1
                decisions.append(d.decision)
                if d.decision == Verdict.EXPLICIT_DENY.value:
                    break  # the operation is explicitly denied whatever the other steps say
                if d.decision != Verdict.ALLOW.value and not pinned:
                    break  # not allowed: enough to tell allow from deny
            if not q.expected.met_by(combine(decisions)):
                witness = _witness(q, caller, combo, plan, now)
                return Result(q, False, witness, considered, evaluated)
    return Result(q, True, None, considered, evaluated)


def _witness(
    q: Question,
    caller: Caller,
    combo: Sequence[_Choice],
    plan: _Plan,
    now: dt.datetime | None,
) -> Witness:
    tags: dict[str, str] = {}
    context: dict[str, tuple[str, ...]] = {}
    for choice in combo:
        for key, value in choice.values.items():
            if caller.free_tags and key.lower().startswith("aws:principaltag/"):
                if len(value) != 1:  # pragma: no cover - tags are tested as single values
                    raise Undecidable(f"{key}: a principal tag has one value")
                tags[key.split("/", 1)[1]] = value[0]
            else:
                context[key] = value
    principal = replace(caller.principal, tags=tags) if tags else caller.principal
    merged = {**{k: tuple(v) for k, v in q.context.items()}, **context}
    decisions = tuple(
        evaluate(Request(principal, s, q.resource, merged, q.organization), now=now)
        for s in q.steps
    )
    verdict = combine([d.decision for d in decisions])
    if q.expected.met_by(verdict):  # pragma: no cover - the same requests, decided again
        raise Undecidable(
            f"internal: the witness {caller.description} did not break the expectation when "
            "decided again"
        )
    breaking = _breaking_step(q.expected, decisions)
    witness = Witness(
        caller,
        principal,
        tags,
        context,
        decisions,
        verdict,
        breaking.request.action,
        plan.multi,
        plan.ranging,
        "",
    )
    return replace(witness, summary=describe(q, witness, breaking))


def _breaking_step(expected: Expectation, decisions: Sequence[Decision]) -> Decision:
    """The step that shows the expectation broken: the first denied one for ``allow``, the
    explicitly denied one for ``implicit-deny``, else (all allowed, or none explicitly denied)
    the first step that acts on the repository."""
    if expected is Expectation.ALLOW:
        return next(d for d in decisions if d.decision != Verdict.ALLOW.value)
    explicit = [d for d in decisions if d.decision == Verdict.EXPLICIT_DENY.value]
    if expected is Expectation.IMPLICIT_DENY and explicit:
        return explicit[0]
    if expected is Expectation.EXPLICIT_DENY:
        denied = [d for d in decisions if d.decision != Verdict.ALLOW.value]
        if denied:
            return denied[0]
    on_repository = [d for d in decisions if not catalog.is_account_level(d.request.action)]
    return (on_repository or list(decisions))[0]


def _show_value(values: tuple[str, ...], multi: bool) -> str:
    if multi:
        return "[" + ", ".join(values) + "]"
    return values[0] if len(values) == 1 else "[" + ", ".join(values) + "]"


def describe(q: Question, w: Witness, d: Decision) -> str:
    """The witness in words: who, with which context, what happened and why."""
    explanation = d.to_dict()
    who = w.caller.description
    if w.tags:
        who += " tagged " + ", ".join(f"{k}={v}" for k, v in sorted(w.tags.items()))
    elif w.caller.free_tags:
        who += " without principal tags"
    read = _keys_read(q, w)
    ctx = explanation["request"]["context"]
    lowered = {k.lower(): k for k in ctx}
    shown: list[str] = []
    absent: list[str] = []
    for key in sorted(read, key=str.lower):
        low = key.lower()
        if low.startswith("aws:principaltag/") or (low in _CALLER_KEYS and low in lowered):
            continue  # said with the caller
        if low not in w.ranging and not (low in _CALLER_KEYS and low not in lowered):
            continue  # fixed by the spec or derived from the repository
        if low in lowered:
            name = lowered[low]
            shown.append(f"{name} = {_show_value(tuple(ctx[name]), name in w.multi_valued)}")
        else:
            absent.append(key)
    parts = shown + [f"{k} absent" for k in absent]
    text = who
    if parts:
        text += ", with " + ", ".join(parts)
    verdict = {
        "allow": "allowed",
        "explicit-deny": "explicitly denied",
        "implicit-deny": "implicitly denied",
    }[d.decision]
    text += f": {d.request.action} is {verdict}: {d.reason}"
    because = _because(explanation)
    if because:
        text += ", because " + "; ".join(because)
    places = _places(explanation)
    if places:
        text += "; see " + " and ".join(places)
    if (
        d.decision == Verdict.ALLOW.value
        and w.caller.name is None
        and d.gate == "identity"
        and w.caller.kind not in (CallerKind.SERVICE, CallerKind.ANONYMOUS)
    ):
        text += (
            " (its identity policies are unknown and taken to allow every action, the worst "
            "case: define its principals and close the account, or narrow the class)"
        )
    return text


def _because(explanation: Mapping[str, Any]) -> list[str]:
    decisive = {(s["policy"], s["index"]) for s in explanation["decisive"]}
    out: list[str] = []
    for pol in explanation["policies"]:
        for st in pol["statements"]:
            if (pol["name"], st["index"]) not in decisive:
                continue
            for cond in st.get("conditions", []):
                if cond["actual"] is None and cond["result"]:
                    out.append(f"{cond['operator']} holds when {cond['key']} is absent")
    return out


def _places(explanation: Mapping[str, Any]) -> list[str]:
    """Where the deciding statements are written (those with a file)."""
    decisive = {(s["policy"], s["index"]) for s in explanation["decisive"]}
    out: list[str] = []
    for pol in explanation["policies"]:
        if not pol.get("file"):
            continue
        for st in pol["statements"]:
            if (pol["name"], st["index"]) in decisive:
                label = st["sid"] or f"#{st['index']}"
                line = f":{st['line']}" if st.get("line") else ""
                kind = PolicyKind(pol["kind"]).label
                out.append(f"statement {label} of {kind} {pol['name']} ({pol['file']}{line})")
    return out


def _keys_read(q: Question, w: Witness) -> set[str]:
    stmts = [(pol, st) for pol, st in _guard_statements(q) if _applies(st, w.principal)]
    stmts += _own_statements(w.principal, q.steps)
    names: dict[str, str] = {}
    for pol, st in stmts:
        for entry in _entries(pol, st):
            names.setdefault(entry.key.lower(), entry.key)
        for key in st.keys:
            names.setdefault(key, key)
    return set(names.values())


def witness_dict(question: Question, witness: Witness) -> dict[str, Any]:
    """The ``witness`` field of ``eval`` (spec-format.md, "Outside pytest"), plus
    ``principal_arn``: the identity ARN (a role's, with its path), which the session ARN does
    not carry."""
    p = witness.principal
    who = p.session_arn or p.arn or p.service or "anonymous"
    d = next(x for x in witness.decisions if x.request.action == witness.step)
    ctx = d.to_dict()["request"]["context"]
    lowered = {k.lower(): k for k in ctx}
    out: dict[str, Any] = {}
    for key in sorted(_keys_read(question, witness), key=str.lower):
        name = lowered.get(key.lower())
        if name is None:
            continue
        values = list(ctx[name])
        out[name] = values if (name in witness.multi_valued or len(values) != 1) else values[0]
    return {
        "principal": who,
        "principal_arn": p.arn,
        "name": witness.caller.name,
        "tags": dict(witness.tags),
        "context": out,
    }


def replay(
    question: Question, found: Mapping[str, Any], *, now: dt.datetime | None = None
) -> list[Decision]:
    """The witness written as an ordinary check and decided by the engine, step by step:
    the defined principal it names (in the session it names), or an unmodelled caller (an
    identity policy that allows everything, its tags), the spec's fixed keys and the
    witness's context. ``found`` is a :func:`witness_dict`."""
    who = str(found["principal"])
    name = found["name"]
    tags = {str(k): str(v) for k, v in dict(found["tags"]).items()}
    if name is not None:
        base = question.defined[str(name)]
        if base.type is PrincipalType.ROLE_SESSION and base.session_arn != who:
            principal = replace(base, session_arn=who, session_policy=None)
        else:
            principal = base
    elif who == "anonymous":
        principal = anonymous_principal("witness")
    elif found.get("principal_arn") is None:
        principal = service_principal("witness", who)
    else:
        arn = str(found["principal_arn"])
        session = who.rsplit("/", 1)[-1] if ":assumed-role/" in who else None
        federated = ":federated-user/" in arn
        root = arn.endswith(":root")
        principal = principal_from_arn(
            "witness",
            arn,
            session=session,
            policies=[] if root else [ALLOW_ALL],
            session_policy=ALLOW_ALL_SESSION if federated else None,
            tags=tags,
        )
    context: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in question.context.items()}
    for key, value in dict(found["context"]).items():
        context[str(key)] = (value,) if isinstance(value, str) else tuple(value)
    return [
        evaluate(
            Request(principal, step, question.resource, context, question.organization), now=now
        )
        for step in question.steps
    ]
