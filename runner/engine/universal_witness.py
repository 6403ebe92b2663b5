"""Witnesses of universal checks: one concrete request, decided again by the ordinary engine,
in words a security engineer reads at a glance; the ``witness`` field of ``eval``; the
witness written back as an ordinary check (:func:`replay`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from runner import catalog
from runner.engine import Decision, evaluate
from runner.engine.universal_callers import (
    ALLOW_ALL,
    ALLOW_ALL_SESSION,
    Caller,
    CallerKind,
    bare_session,
    has_path,
)
from runner.engine.universal_model import (
    CALLER_KEYS,
    Choice,
    Plan,
    Question,
    Witness,
    applies,
    combine,
    entries_of,
    guard_statements,
    own_statements,
)
from runner.engine.universal_values import (
    Undecidable,
)
from runner.model import (
    Expectation,
    PolicyKind,
    PrincipalType,
    Request,
    Verdict,
    anonymous_principal,
    principal_from_arn,
    service_principal,
)

__all__ = ["describe", "make_witness", "replay", "witness_dict"]


def make_witness(
    q: Question,
    caller: Caller,
    combo: Sequence[Choice],
    plan: Plan,
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
        if low.startswith("aws:principaltag/") or (low in CALLER_KEYS and low in lowered):
            continue  # said with the caller
        if low not in w.ranging and not (low in CALLER_KEYS and low not in lowered):
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
        and w.caller.kind not in (CallerKind.SERVICE, CallerKind.ANONYMOUS, CallerKind.ROOT)
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
    stmts = [(pol, st) for pol, st in guard_statements(q) if applies(st, w.principal)]
    stmts += own_statements(w.principal, q.steps)
    names: dict[str, str] = {}
    for pol, st in stmts:
        for entry in entries_of(pol, st):
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
    if (
        witness.caller.name is None
        and p.type is PrincipalType.ROLE_SESSION
        and p.arn is not None
        and has_path(p.arn)
        and (p.session_arn or "").rsplit("/", 1)[-1] == bare_session(p.arn)
    ):
        # a session ARN would drop the role's path (a service-linked role's aws-service-role/
        # among them): the role ARN, taken in its default session, is the same caller
        who = p.arn
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
    elif not who.startswith("arn:"):
        principal = service_principal("witness", who)
    else:
        # only the contract's fields: a role ARN is taken in its default session, as an
        # ordinary check takes it; a session ARN as that session (of a role without a path)
        arn = who
        session = bare_session(who) if ":role/" in who else None
        federated = ":federated-user/" in arn
        root = arn.endswith(":root")
        principal = principal_from_arn(
            "witness",
            arn,
            session=session,
            policies=[] if root else [ALLOW_ALL],
            session_policy=ALLOW_ALL_SESSION if federated else None,
            tags=tags,
            session_at_root_path=True,  # the witness's role was enumerated at path /
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
