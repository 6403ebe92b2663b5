"""The ``Condition`` element: validated and compiled once, evaluated many times.

:func:`compile_conditions` checks a Condition block and turns it into a
:class:`CompiledConditions`: every value is parsed once (numbers, dates, networks, base64,
wildcard patterns), so evaluation only looks up request values and compares them.

Semantics (AWS pages "IAM JSON policy elements: Condition operators" and "Multivalued context
keys"; see also docs/internals.md):

- Several operators in a block, and several keys under one operator: all must hold.
- Several policy values for one key: the request value may match any of them. A negated
  operator (``StringNotEquals``, ``StringNotEqualsIgnoreCase``, ``StringNotLike``,
  ``NumericNotEquals``, ``DateNotEquals``, ``NotIpAddress``, ``ArnNotEquals``, ``ArnNotLike``)
  holds when the request value matches none of them.
- A missing key (absent, or present with no values): a positive operator is false, a negated
  one is true, any ``...IfExists`` operator is true. ``Null: true`` holds exactly when the key is
  missing, ``Null: false`` exactly when it is present.
- ``ForAllValues:OP`` holds when the key is missing or empty, and otherwise when *every*
  request value passes OP on its own. ``ForAnyValue:OP`` is false when the key is missing or
  empty (true with ``IfExists``), and otherwise holds when *at least one* request value passes
  OP on its own. For a negated OP, "passes OP on its own" means "matches none of the policy
  values", so ``ForAllValues:StringNotEquals`` holds when no request value is in the policy list,
  and ``ForAnyValue:StringNotEquals`` when at least one request value is not in it.
- A single-valued operator (no qualifier) meeting a key with several request values: AWS only
  says "Multivalued context keys require a condition set operator" ("Multivalued context
  keys"). A spec that gives such a key several values for a policy testing it that way is
  refused by the loader (:meth:`CompiledConditions.single_valued`). Called directly, the
  engine reads a positive operator as holding when *any* request value matches a policy value
  and a negated one when *no* request value does.
- A request value that cannot be read as the operator's type (not a number, date, IP address,
  base64 text, ``true``/``false``, or an ARN with six parts) matches no policy value; a negated
  operator therefore holds for it.
- Policy variables work only in String and Arn values ("Policy variables": variables are
  replaced in the Resource element and in string comparisons in the Condition element; ARN
  operators compare strings). In Numeric, Date, Bool, Binary and IP values ``${`` is plain text.
  A value whose variable has no value and no default is dropped from the value list for that
  request: it matches nothing, so a positive operator cannot be satisfied by it and a negated
  operator is not violated by it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from runner import words
from runner.errors import Undecided
from runner.model import PolicyPath, PolicyProblem, RequestContext
from runner.policy.operators import (
    OPERATORS,
    Operator,
    Prepare,
    Qualifier,
    Static,
    compile_values,
)
from runner.policy.variables import PolicyVersion

__all__ = ["OPERATORS", "UNDECIDED", "CompiledConditions", "ConditionTest", "compile_conditions"]

#: The ``result`` of a condition test in an explanation that depends on what AWS does not
#: document (it raised :class:`~runner.errors.Undecided`; the decision did not need it)
UNDECIDED = "undecided"

#: The whole test of one (operator, key): request values (None when missing) -> result.
KeyTest = Callable[[tuple[str, ...] | None, RequestContext], bool]

# Every operator name a document may use after an optional qualifier, for "did you mean".
_FULL_NAMES = [*OPERATORS, *(f"{op}IfExists" for op in OPERATORS if op != "Null")]
_QUALIFIERS = tuple(q.value for q in Qualifier)
_CONDITION_KEY = re.compile(r"^[A-Za-z0-9_.-]+:.+$")


def _as_text(value: object) -> str | None:
    """A policy value as AWS writes it: strings as they are, JSON/YAML booleans as
    ``true``/``false``, numbers as their digits. None for anything else, also for the floats
    that are no JSON number (NaN and the infinities, which Python's ``json`` reads from
    ``NaN`` and ``Infinity`` but a policy document, JSON text, cannot hold)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} (not a JSON number)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


# ---------------------------------------------------------------------------------------------
# Combining a matcher with the operator's negation, qualifier and IfExists


def _any(match: Callable[[str], bool], values: tuple[str, ...]) -> bool:
    """Whether some request value matches: one that does settles it, whatever a value AWS
    leaves open (Undecided) would give; otherwise that value's Undecided is raised."""
    undecided: Undecided | None = None
    for r in values:
        try:
            if match(r):
                return True
        except Undecided as exc:
            undecided = undecided or exc
    if undecided is not None:
        raise undecided
    return False


def _all(match: Callable[[str], bool], values: tuple[str, ...]) -> bool:
    """Whether every request value matches, as :func:`_any` settles what it can."""
    undecided: Undecided | None = None
    for r in values:
        try:
            if not match(r):
                return False
        except Undecided as exc:
            undecided = undecided or exc
    if undecided is not None:
        raise undecided
    return True


def _key_test(
    prepare: Prepare, negated: bool, qualifier: Qualifier | None, if_exists: bool
) -> KeyTest:
    if if_exists or qualifier is Qualifier.FOR_ALL_VALUES:
        missing = True
    elif qualifier is Qualifier.FOR_ANY_VALUE:
        missing = False
    else:
        missing = negated

    if qualifier is not None:
        return _set_test(prepare, negated, qualifier, missing)
    # Most keys are single-valued and most policy values fixed: such a request value is
    # tested directly, without a generator, against the policy values' own test (evaluating a
    # one-key block took 40% fewer instructions, callgrind). Each Match returns a bool.
    if isinstance(prepare, Static):
        fixed = prepare.match
        if negated:

            def none_match_fixed(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
                if not values:
                    return missing
                if len(values) == 1:
                    return not fixed(values[0])
                return not _any(fixed, values)

            return none_match_fixed

        def any_match_fixed(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
            if not values:
                return missing
            if len(values) == 1:
                return fixed(values[0])
            return _any(fixed, values)

        return any_match_fixed
    if negated:
        # no request value matches any policy value

        def none_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
            if not values:
                return missing
            match = prepare(ctx)
            return not _any(match, values)

        return none_match

    def any_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
        if not values:
            return missing
        match = prepare(ctx)
        return _any(match, values)

    return any_match


def _set_test(prepare: Prepare, negated: bool, qualifier: Qualifier, missing: bool) -> KeyTest:
    """ForAllValues / ForAnyValue. A request value that is only empty strings is the empty set:
    "If the key values in the request resolve to an empty data set (for example, an empty
    string), a condition operator modified by ForAllValues returns true, and a condition
    operator modified by ForAnyValue returns false" (IAM User Guide, "Multivalued context
    keys"). ``not any(values)``: no value, or only empty strings."""
    if qualifier is Qualifier.FOR_ANY_VALUE and negated:

        def any_value_not(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
            if not values or not any(values):
                return missing
            match = prepare(ctx)
            return not _all(match, values)

        return any_value_not
    if negated:  # ForAllValues: no request value matches any policy value

        def none_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
            if not values or not any(values):
                return missing
            match = prepare(ctx)
            return not _any(match, values)

        return none_match
    if qualifier is Qualifier.FOR_ALL_VALUES:

        def all_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
            if not values or not any(values):
                return missing
            match = prepare(ctx)
            return _all(match, values)

        return all_match

    def any_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
        if not values or not any(values):
            return missing
        match = prepare(ctx)
        return _any(match, values)

    return any_match


def _null_test(expect_missing: set[bool]) -> KeyTest:
    def test(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
        return (not values) in expect_missing

    return test


# ---------------------------------------------------------------------------------------------
# Compiled form

#: The most results a block remembers (by the request's values of its keys) before it starts
#: afresh.
_RESULTS_LIMIT = 256


@dataclass(frozen=True, slots=True, eq=False)
class ConditionTest:
    """One (operator, key) of a Condition block. ``operator`` and ``key`` are spelled as in the
    document (``ForAllValues:StringLikeIfExists``), ``expected`` holds the policy values as
    written; ``base``, ``qualifier`` and ``if_exists`` are the parts of the operator's name.
    ``test(values, ctx)`` decides it for the request's values of the key (None: missing);
    ``fixed`` says that it reads nothing else (no policy variable in its values)."""

    operator: str
    key: str
    expected: tuple[str, ...]
    base: Operator
    qualifier: Qualifier | None
    if_exists: bool
    test: KeyTest
    fixed: bool = False


class CompiledConditions:
    """A validated Condition block. :meth:`evaluate` is the fast path; :meth:`explain` says
    which key made the block true or false; ``entries`` are its tests in document order."""

    __slots__ = ("_entries", "_keys", "_results", "_tests", "empty")

    def __init__(self, entries: Sequence[ConditionTest]) -> None:
        self._entries = tuple(entries)
        self._tests = tuple((e.key, e.test) for e in entries)
        self.empty: bool = not entries
        # A block whose tests read nothing but the request's values of their keys holds or
        # not by those values alone: its results are remembered by them (a block is compiled
        # once per distinct document, so requests of every spec file that writes it share
        # them; callgrind: a remembered result of a one-key StringEquals block costs a fifth
        # less than evaluating it, of a NotIpAddress and DateLessThan block half as much).
        fixed = bool(entries) and all(e.fixed for e in entries)
        self._keys = tuple(e.key for e in entries) if fixed else ()
        self._results: dict[object, bool] | None = {} if fixed else None

    @property
    def entries(self) -> tuple[ConditionTest, ...]:
        return self._entries

    def single_valued(self) -> list[tuple[str, str]]:
        """``(operator, key)`` of every test written without ForAllValues:/ForAnyValue:, Null
        aside (it only asks whether the key is there)."""
        return [
            (e.operator, e.key)
            for e in self._entries
            if e.qualifier is None and e.base.name != "Null"
        ]

    def evaluate(self, ctx: RequestContext) -> bool:
        """True when every (operator, key) of the block holds for this request."""
        get = ctx.get_values
        results = self._results
        if results is not None:
            keys = self._keys
            # the request's values of each key tested (one key: its values alone)
            seen: object = get(keys[0]) if len(keys) == 1 else tuple(map(get, keys))
            held = results.get(seen)
            if held is None:
                if len(results) >= _RESULTS_LIMIT:
                    results.clear()
                held = results[seen] = self._evaluate(ctx)
            return held
        return self._evaluate(ctx)

    def _evaluate(self, ctx: RequestContext) -> bool:
        # Every (operator, key) must hold: one that does not settles it, whatever a test AWS
        # leaves open (Undecided) would give, wherever it stands in the block.
        get = ctx.get_values
        undecided: Undecided | None = None
        for key, test in self._tests:
            try:
                if not test(get(key), ctx):
                    return False
            except Undecided as exc:
                undecided = undecided or exc
        if undecided is not None:
            raise undecided
        return True

    def explain(self, ctx: RequestContext) -> list[dict[str, object]]:
        """One entry per (operator, key), in document order: the operator and key as written,
        the policy values as written (``expected``), the request's values (``actual``, None
        when the request does not carry the key) and whether that part holds (``result``:
        true, false, or ``"undecided"`` with the reason in ``undecided`` when it depends on what
        AWS does not document; the decision did not need it then)."""
        out: list[dict[str, object]] = []
        for entry in self._entries:
            values = ctx.get_values(entry.key)
            item: dict[str, object] = {
                "operator": entry.operator,
                "key": entry.key,
                "expected": list(entry.expected),
                "actual": None if values is None else list(values),
            }
            try:
                item["result"] = entry.test(values, ctx)
            except Undecided as exc:
                item["result"] = UNDECIDED
                item["undecided"] = str(exc)
            out.append(item)
        return out


# ---------------------------------------------------------------------------------------------
# Validation and compilation


@dataclass(frozen=True, slots=True)
class _OperatorName:
    """An operator's name in parts, or the reason it is not one (``error``)."""

    qualifier: Qualifier | None
    base: Operator | None
    if_exists: bool
    error: str | None = None


def _split_operator(name: str) -> _OperatorName:
    qualifier: Qualifier | None = None
    rest = name
    if ":" in name:
        written, rest = name.split(":", 1)
        if written not in _QUALIFIERS:
            hint = words.closest(written, _QUALIFIERS)
            msg = f"unknown condition qualifier {written!r} in {name!r}; expected ForAllValues"
            msg += " or ForAnyValue"
            if hint:
                msg += f" (did you mean {hint!r}?)"
            return _OperatorName(None, None, False, msg)
        qualifier = Qualifier(written)
    if_exists = False
    base = rest
    if rest.endswith("IfExists") and rest not in OPERATORS:
        base = rest[: -len("IfExists")]
        if_exists = True
    op = OPERATORS.get(base)
    if op is None:
        hint = words.closest(rest, _FULL_NAMES)
        msg = f"unknown condition operator {name!r}"
        if hint:
            suggestion = (f"{qualifier}:" if qualifier else "") + hint
            if hint.lower() == rest.lower():
                msg += " (operator names are case-sensitive)"
            msg += f"; did you mean {suggestion!r}?"
        else:
            msg += (
                "; expected a String, Numeric, Date, Bool, BinaryEquals, IpAddress, "
                "NotIpAddress, Arn or Null operator, optionally with IfExists and a "
                "ForAllValues: or ForAnyValue: prefix"
            )
        return _OperatorName(qualifier, None, if_exists, msg)
    if op.name == "Null" and if_exists:
        return _OperatorName(
            qualifier,
            op,
            if_exists,
            f"{name!r}: IfExists cannot be used with Null (Null itself tests whether the key "
            "exists)",
        )
    if op.name == "Null" and qualifier:
        return _OperatorName(
            qualifier,
            op,
            if_exists,
            f"{name!r}: Null takes no ForAllValues/ForAnyValue qualifier; it tests whether the "
            "key exists",
        )
    return _OperatorName(qualifier, op, if_exists)


def compile_conditions(
    block: object, *, version: str, path: PolicyPath
) -> tuple[CompiledConditions, list[PolicyProblem]]:
    """Validate and compile a ``Condition`` block found at ``path`` in a policy document whose
    ``Version`` is ``version``.

    Returns the compiled block and every problem found (problem paths extend ``path`` with the
    operator, the key and, for a value in a list, its index, spelled as in the document). When
    the problem list is not empty the compiled block must not be evaluated."""
    problems: list[PolicyProblem] = []
    entries: list[ConditionTest] = []
    if not isinstance(block, Mapping):
        problems.append(
            PolicyProblem(
                path,
                f"Condition must be a mapping of condition operators to {{key: value}} "
                f"mappings, got {_describe(block)}",
            )
        )
        return CompiledConditions(()), problems
    for op_name, body in block.items():
        if not isinstance(op_name, str):
            message = f"condition operator {op_name!r} must be text"
            if op_name is None:
                # YAML reads an unquoted Null (and ~, null) as "no value".
                message = (
                    "condition operator is null; in a YAML policy write the Null operator "
                    'in quotes ("Null"), unquoted it is read as an empty value'
                )
            problems.append(PolicyProblem(path, message))
            continue
        op_path = (*path, op_name)
        parts = _split_operator(op_name)
        if parts.error is not None or parts.base is None:
            problems.append(PolicyProblem(op_path, parts.error or op_name))
            continue
        if not isinstance(body, Mapping):
            problems.append(
                PolicyProblem(
                    op_path,
                    f"{op_name} must map condition keys to values, got {_describe(body)}",
                )
            )
            continue
        if not body:
            problems.append(PolicyProblem(op_path, f"{op_name} has no condition keys"))
            continue
        op = parts.base
        for key, value in body.items():
            if not isinstance(key, str) or not _CONDITION_KEY.match(key):
                problems.append(
                    PolicyProblem(
                        op_path,
                        f"{key!r} is not a condition key; expected SERVICE:NAME such as "
                        "aws:SourceIp or ecr:ResourceTag/env",
                    )
                )
                continue
            key_path = (*op_path, key)
            if "${" in key and version == PolicyVersion.V2012:
                # AWS documents policy variables in condition values and in Resource ("Where
                # you can use policy variables"), not in key names: the key would be taken as
                # written, a key no request has, or substituted; which is not said
                problems.append(
                    PolicyProblem(
                        key_path,
                        f"condition key {key!r} holds a policy variable; AWS documents policy "
                        "variables in condition values and in Resource, not in condition key "
                        "names, and does not say whether it substitutes them there",
                    )
                )
                continue
            raw: list[tuple[PolicyPath, str]] = []
            if isinstance(value, list | tuple):
                if not value:
                    problems.append(
                        PolicyProblem(key_path, f"{op_name} {key} has an empty value list")
                    )
                    continue
                items: list[tuple[PolicyPath, object]] = [
                    ((*key_path, i), v) for i, v in enumerate(value)
                ]
            else:
                items = [(key_path, value)]
            valid = True
            for where, item in items:
                text = _as_text(item)
                if isinstance(item, float) and text is not None:
                    # Only JSON gives floats (YAML numbers stay their text): a JSON number
                    # with a fraction or an exponent, whose text Python's json does not keep
                    valid = False
                    problems.append(
                        PolicyProblem(
                            where,
                            f"a condition value written as a JSON number with a fraction or an "
                            f"exponent ({text} as Python reads it): AWS does not document how "
                            "it reads one, as its text (1.10 and 1.1 differ as strings) or as "
                            "a binary floating point number (which keeps about 15 significant "
                            'digits); write the value as a string, such as "1.5"',
                        )
                    )
                elif text is None:
                    valid = False
                    problems.append(
                        PolicyProblem(
                            where,
                            f"a condition value must be a string, number or boolean, got "
                            f"{_describe(item)}",
                        )
                    )
                else:
                    raw.append((where, text))
            if not valid:
                continue
            compiled = compile_values(op, raw, version, problems)
            if compiled is None:
                continue
            if isinstance(compiled, set):
                test = _null_test(compiled)
            else:
                test = _key_test(compiled, op.negated, parts.qualifier, parts.if_exists)
            fixed = isinstance(compiled, set | Static)
            entries.append(
                ConditionTest(
                    operator=op_name,
                    key=key,
                    expected=tuple(text for _, text in raw),
                    base=op,
                    qualifier=parts.qualifier,
                    if_exists=parts.if_exists,
                    test=test,
                    fixed=fixed,
                )
            )
    return CompiledConditions(entries), problems
