"""Universal checks: an expectation proven for every caller of a class and every context.

``decide(question)`` answers a :class:`Question` (a class of callers, a repository or none, an
action or an operation, the fixed context keys, the expectation) with a :class:`Result`:
passed, or failed with a :class:`Witness`; it raises :class:`Undecidable` (naming the policy,
statement, operator or key) when it cannot decide exactly. It never passes on a guess.

How it stays exact. The ordinary engine (``evaluate``) is the only evaluator. Finitely many
representative requests are chosen so that every concrete request is equivalent to one of
them, and each is evaluated:

1. Callers (``universal_callers``, from the tests of ``universal_arns``): the defined
   principals of the class (a defined role also in its other sessions, without the session
   policy), and one unmodelled caller per
   realizable combination of the tests that can tell unmodelled callers apart (their ARN
   enumerated as text against the Principal elements, the conditions on caller keys, the
   organization's, repository's, closed and class accounts); their identity policy allows
   everything, as the contract's worst case says. Closed accounts have no unmodelled users,
   roles or federated users; their root user always exists. A policy variable in a test that
   tells callers apart must be a fixed or repository-derived key (else refused). SCPs and RCPs
   apply as the engine applies them.
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

from runner import catalog
from runner.engine import build_context, evaluate
from runner.engine.universal_arns import Resolve, collect
from runner.engine.universal_callers import (
    Caller,
    CallerClass,
    CallerKind,
    Membership,
    Universe,
    defined_callers,
    unmodelled_iam,
    unmodelled_services,
)
from runner.engine.universal_model import (
    ALWAYS_PRESENT,
    NAME_KEYS,
    RESOURCE_KEYS,
    RESOURCE_TAGS,
    TIME,
    TIME_KEYS,
    UNMODELLED_KEYS,
    VIA_AWS_SERVICE,
    Choice,
    Plan,
    Question,
    Result,
    Stmt,
    Witness,
    applies,
    combine,
    entries_of,
    guard_statements,
    is_free,
    own_statements,
    variables_of,
    where,
)
from runner.engine.universal_values import (
    Entry,
    Family,
    Undecidable,
    Value,
    format_instant,
    instants,
    key_values,
    number_instants,
)
from runner.engine.universal_witness import describe, make_witness, replay, witness_dict
from runner.errors import Undecided
from runner.model import (
    Expectation,
    PrincipalType,
    Request,
    RequestContext,
    Resource,
    Verdict,
    anonymous_principal,
)
from runner.policy import CompiledStatement

__all__ = [
    "CallerClass",
    "CallerKind",
    "Membership",
    "Question",
    "Result",
    "Undecidable",
    "Witness",
    "combine",
    "decide",
    "describe",
    "replay",
    "witness_dict",
]

# ---------------------------------------------------------------------------------------------
# Callers


def _callers(q: Question, guard: list[Stmt]) -> list[Caller]:
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
    entries = [(e, pol.version) for pol, st in guard for e in entries_of(pol, st)]
    account_keys = frozenset({"aws:principalaccount"}) | (
        frozenset({"aws:resourceaccount"})
        if any(catalog.is_account_level(s) for s in q.steps)
        else frozenset()
    )
    universe = Universe(
        cls, q.defined, q.closed_accounts, org, q.resource.account if q.resource else None
    )
    resolve = _resolver(q)
    sessions: dict[tuple[str, str], set[str]] = {}
    collected = {}
    for kind in (CallerKind.USER, CallerKind.ROLE, CallerKind.ROOT, CallerKind.FEDERATED):
        # the tests on caller keys matter only for the kinds of the class
        own = entries if kind in kinds else []
        collected[kind] = collect(kind, own, guard, account_keys, resolve)
        for k, v in collected[kind].sessions.items():
            sessions.setdefault(k, set()).update(v)
    out = defined_callers(universe, sessions)
    for kind in (CallerKind.USER, CallerKind.ROLE, CallerKind.ROOT, CallerKind.FEDERATED):
        if kind in kinds:
            out.extend(unmodelled_iam(universe, kind, collected[kind]))
    outside_ok = cls.organization is not Membership.INSIDE and cls.accounts is None
    if CallerKind.SERVICE in kinds and outside_ok:
        out.extend(unmodelled_services(universe, entries, guard, resolve))
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
        accountless = kinds <= {CallerKind.SERVICE, CallerKind.ANONYMOUS}
        if accountless and cls.accounts is not None:
            why = (
                "service principals and anonymous callers have no account, and the class "
                "names accounts"
            )
        elif accountless and cls.organization is Membership.INSIDE:
            why = "service principals and anonymous callers are never inside the organization"
        elif cls.accounts is not None:
            why = (
                "every account it names is closed and it leaves out every defined principal "
                "that would belong to it"
            )
        else:
            why = "it leaves out every defined principal that would belong to it"
        raise Undecidable(f"the class {cls.name} ({cls.describe()}) has no caller: {why}")
    return out


#: Keys of the resource that an account-level action takes from the caller's own account
_CALLERS_REGISTRY_KEYS = frozenset({"aws:resourceaccount", "aws:resourceorgid"})


def _resolver(q: Question) -> Resolve:
    """Policy variables in the tests that enumerate callers: a key the spec fixes or one the
    repository determines has one value for every caller (taken as the engine takes it);
    any other key depends on the caller or ranges, and is refused."""
    fixed = {k.lower() for k in q.context}
    account_level = any(catalog.is_account_level(s) for s in q.steps)
    bases = [
        build_context(
            Request(
                anonymous_principal("anonymous"),
                step,
                _as_seen(q.resource, step),
                q.context,
                q.organization,
            )
        )
        for step in q.steps
    ]

    def resolve(key: str, entry: Entry) -> tuple[str, ...] | None:
        low = key.lower()
        known = low in fixed or (
            q.resource is not None
            and low not in TIME_KEYS
            and (low in RESOURCE_KEYS or low.startswith(RESOURCE_TAGS))
            # an account-level action's resource account is the caller's (context.py)
            and not (account_level and low in _CALLERS_REGISTRY_KEYS)
        )
        if not known:
            raise Undecidable(
                f"the policy variable ${{{key}}} in {entry.operator} {entry.key} "
                f"({entry.where}) reads a key that depends on the caller or ranges over every "
                "value; the universal check cannot enumerate the callers that test tells apart "
                "(fix the key in the context)"
            )
        values = bases[0].get_values(key)
        if any(b.get_values(key) != values for b in bases) or (
            values is not None and len(values) > 1
        ):
            raise Undecidable(
                f"the policy variable ${{{key}}} in {entry.operator} {entry.key} "
                f"({entry.where}) reads a key with several values (or one per step)"
            )
        return tuple(values) if values is not None else None

    return resolve


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


#: Keys that AWS puts in every request of a kind of caller with a value the tool cannot know
#: (as the ordinary loader refuses them, runner/spec/context_keys.py): refused unless fixed.
_UNKNOWABLE: dict[CallerKind, dict[str, str]] = {
    CallerKind.USER: {"aws:userid": "the user's unique ID"},
    CallerKind.ROLE: {"aws:userid": "the role's unique ID and the session name"},
    CallerKind.SERVICE: {
        "aws:userid": "not documented for service principals",
        "aws:principalaccount": "not documented for service principals",
        "aws:principaltype": "not documented for service principals",
    },
}

#: The last second the engine reads as a date (9999-12-31T23:59:59Z).
_LAST_SECOND = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())


def _clamp(second: int) -> int:
    return min(max(second, 0), _LAST_SECOND)


_IAM_KINDS = frozenset({CallerKind.USER, CallerKind.ROLE, CallerKind.ROOT, CallerKind.FEDERATED})
_MAX_GROUP = 4096
_MAX_PRODUCT = 20_000


def _plan(q: Question, caller: Caller, stmts: list[Stmt], now: dt.datetime | None) -> Plan:
    p = caller.principal
    fixed = frozenset(k.lower() for k in q.context)
    bases = [
        build_context(
            Request(p, step, _as_seen(q.resource, step), q.context, q.organization), now=now
        )
        for step in q.steps
    ]
    has_resource = q.resource is not None
    # An unmodelled IAM caller outside the spec's organization may belong to another
    # organization: its aws:PrincipalOrgID is absent or any other organization's ID.
    other_org = caller.name is None and not caller.inside and caller.kind in _IAM_KINDS

    def free(key: str) -> bool:
        if key == "aws:principalorgid" and other_org and key not in fixed:
            return True
        if key == VIA_AWS_SERVICE:  # false for services and anonymous callers, as filled in
            return key not in fixed and caller.kind in _IAM_KINDS
        return is_free(key, caller, fixed, has_resource)

    names: dict[str, str] = {}
    by_key: dict[str, list[Entry]] = {}
    versions: dict[int, str] = {}
    for pol, st in stmts:
        for var in variables_of(pol, st):
            low = var.lower()
            if low in fixed:
                continue
            if free(low) or low in TIME_KEYS:
                raise Undecidable(
                    f"the policy variable ${{{var}}} in {where(pol, st)} reads a key that ranges "
                    "over every value; the universal check cannot tie it to the text it is "
                    "compared with (fix the key in the context)"
                )
            if caller.name is None and low in NAME_KEYS:
                raise Undecidable(
                    f"the policy variable ${{{var}}} in {where(pol, st)} reads the name or "
                    "account of unmodelled callers, which range over every value; the universal "
                    "check cannot tie it to the text it is compared with"
                )
        for entry in entries_of(pol, st):
            low = entry.key.lower()
            names.setdefault(low, entry.key)
            versions[id(entry)] = pol.version
            by_key.setdefault(low, []).append(entry)
        for key in st.keys:
            names.setdefault(key, key)
    keys = sorted(set(by_key) | {k for _, st in stmts for k in st.keys})
    for key in keys:
        if key in UNMODELLED_KEYS and key not in fixed:
            raise Undecidable(
                f"{names[key]} is read by a policy of this check, but {UNMODELLED_KEYS[key]}"
            )
        if key in _UNKNOWABLE.get(caller.kind, ()) and key not in fixed:
            places = "; ".join(sorted({e.where for e in by_key.get(key, [])}))
            raise Undecidable(
                f"{names[key]} is read by a policy of this check"
                + (f" ({places})" if places else "")
                + f", and AWS puts it in every request of {caller.description} with a value the "
                f"tool cannot know ({_UNKNOWABLE[caller.kind][key]}); give it in the context"
            )
    lookups = [base.get_values for base in bases]

    values: dict[str, list[Value]] = {}
    multi: set[str] = set()
    for key in keys:
        if not free(key):
            continue
        entries = by_key.get(key, [])
        if any(e.qualified for e in entries):
            single = _single_valued_test(q, stmts, key)
            if single is not None:
                raise Undecidable(
                    f"{names[key]} is tested as a set of values (ForAllValues:/ForAnyValue:) "
                    f"and as one value ({single.operator} in {single.where}); AWS does not say "
                    "how a single-valued operator compares a key with several values, so the "
                    "check cannot range over them (as an ordinary check refuses several values "
                    "for it)"
                )
            multi.add(names[key])
        own_org = q.organization.id if q.organization is not None else None
        if key == "aws:principalorgid" and own_org is not None:
            # the spec's organization's ID is its own cell, then left out: callers outside
            # the organization never carry it
            mark = Entry("StringEquals", names[key], (own_org,), Family.STRING, False, "")
            versions[id(mark)] = "2012-10-17"
            entries = [*entries, mark]
        found = key_values(
            key,
            entries,
            lookups,
            lambda e: versions[id(e)],
            absent=key not in ALWAYS_PRESENT and key != "aws:requestedregion",
        )
        if key == "aws:principalorgid":
            found = [v for v in found if v is None or (len(v) == 1 and v[0] != own_org)]
        values[key] = found
    time_keys = [k for k in keys if k in TIME_KEYS and k not in fixed]
    if time_keys:
        entries = [e for k in time_keys for e in by_key.get(k, [])]
        families = {e.family.value for e in entries} - {"null", "numeric", "date"}
        if families:
            raise Undecidable(
                f"{', '.join(names[k] for k in time_keys)} compared as text "
                f"({'; '.join(sorted({e.where for e in entries}))}); only Date and Numeric "
                "comparisons of the time are enumerated"
            )
        # Every cell of the time line that a request can fall in keeps an instant: boundaries
        # outside the instants the engine reads (before 1970, after 9999) are clamped to the
        # first and last second, which are always kept (with the run's instant).
        points = instants(TIME, number_instants(entries))
        seconds = {_clamp(i // 1_000_000_000 + d) for i in points for d in (-1, 0, 1)}
        seconds |= {0, _LAST_SECOND}
        if now is not None:
            seconds.add(_clamp(int(now.timestamp())))
        time_values: list[Value] = []
        for sec in sorted(seconds):
            text = format_instant(sec * 1_000_000_000)
            if text is None:  # pragma: no cover - every clamped second is representable
                raise Undecidable(f"internal: the instant {sec} s cannot be written as a date")
            time_values.append((text, str(sec)))
        values[TIME] = time_values
    # groups: keys read by one block belong together
    parent: dict[str, str] = {k: k for k in values}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    blocks: list[tuple[CompiledStatement, list[str]]] = []
    for _pol, st in stmts:
        read = sorted({(TIME if k in TIME_KEYS else k) for k in st.keys} & set(values))
        if st.conditions is not None and read:
            blocks.append((st, read))
            for other in read[1:]:
                parent[find(other)] = find(read[0])
    members: dict[str, list[str]] = {}
    for k in values:
        members.setdefault(find(k), []).append(k)
    groups: list[list[Choice]] = []
    for root in sorted(members):
        group_keys = sorted(members[root])
        group_blocks = [st for st, read in blocks if find(read[0]) == root]
        groups.append(_group_choices(group_keys, values, group_blocks, bases, names, time_keys))
    ranging = {k for k in values if k != TIME} | set(time_keys)
    return Plan(groups, frozenset(multi), frozenset(ranging))


def _single_valued_test(q: Question, stmts: Sequence[Stmt], key: str) -> Entry | None:
    """A test of ``key`` without ForAllValues:/ForAnyValue: (Null aside) in a statement of the
    check, as the ordinary loader looks for one before it takes several values for a key."""
    for pol, st in [*stmts, *guard_statements(q)]:
        for e in entries_of(pol, st):
            if e.key.lower() == key and not e.qualified and e.family is not Family.NULL:
                return e
    return None


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
    if key == TIME:
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
) -> list[Choice]:
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
    seen: dict[tuple[bool, ...], Choice] = {}
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
            seen[key] = Choice(assignment, present)
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# Deciding


def decide(question: Question, *, now: dt.datetime | None = None) -> Result:
    """Prove ``question`` for every caller and context, or find a witness that breaks it.
    Raises :class:`Undecidable` when the answer cannot be found exactly, also when a request
    it evaluates is :class:`~runner.errors.Undecided` to the engine."""
    try:
        return _decide(question, now)
    except Undecided as exc:
        raise Undecidable(str(exc)) from exc


def _decide(question: Question, now: dt.datetime | None) -> Result:
    q = question
    for step in q.steps:
        if step not in catalog.ACTIONS:
            raise Undecidable(f"{step!r} is not an Amazon ECR action of the catalog")
        if q.resource is None and not catalog.is_account_level(step):
            raise Undecidable(f"{step} acts on a repository: the check needs a resource")
    guard = guard_statements(q)
    callers = _callers(q, guard_statements(q, every=True))
    considered = _considered(callers)
    evaluated = 0
    base_context = {k: tuple(v) for k, v in q.context.items()}
    # explicit-deny and implicit-deny must know whether any step is explicitly denied
    pinned = q.expected in (Expectation.EXPLICIT_DENY, Expectation.IMPLICIT_DENY)
    for caller in callers:
        p = caller.principal
        stmts = [(pol, st) for pol, st in guard if applies(st, p)] + own_statements(p, q.steps)
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
        if not combos:
            # every group keeps at least one choice; an empty product would pass vacuously
            raise Undecidable(
                f"internal error: no request was evaluated for {caller.description}; the check "
                "is not decided"
            )
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
                witness = make_witness(q, caller, combo, plan, now)
                return Result(q, False, witness, considered, evaluated)
    return Result(q, True, None, considered, evaluated)
