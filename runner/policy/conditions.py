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

import base64
import binascii
import datetime as dt
import difflib
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from runner.model import PolicyPath, PolicyProblem, RequestContext
from runner.policy.variables import Matcher, Template, TemplateError, compile_template

__all__ = ["OPERATORS", "CompiledConditions", "compile_conditions"]

# A test of one request value against the policy values of one (operator, key).
_Match = Callable[[str], bool]
# Prepares a _Match for a request (only String and Arn values depend on the request).
_Prepare = Callable[[RequestContext], _Match]
# The whole test of one (operator, key): request values (None when missing) -> result.
_KeyTest = Callable[[tuple[str, ...] | None, RequestContext], bool]

_NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "NotIpAddress",
        "ArnNotEquals",
        "ArnNotLike",
    }
)

# Any: numbers are Decimal, dates int nanoseconds; each operator compares one kind.
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.eq,  # negated
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}

#: Every base operator name (without qualifier or ``IfExists``) -> its family.
OPERATORS: dict[str, str] = {
    "StringEquals": "string",
    "StringNotEquals": "string",
    "StringEqualsIgnoreCase": "string-ic",
    "StringNotEqualsIgnoreCase": "string-ic",
    "StringLike": "string-like",
    "StringNotLike": "string-like",
    **{f"Numeric{suffix}": "numeric" for suffix in _CMP},
    **{f"Date{suffix}": "date" for suffix in _CMP},
    "Bool": "bool",
    "BinaryEquals": "binary",
    "IpAddress": "ip",
    "NotIpAddress": "ip",
    "ArnEquals": "arn",
    "ArnLike": "arn",
    "ArnNotEquals": "arn",
    "ArnNotLike": "arn",
    "Null": "null",
}

_QUALIFIERS = ("ForAllValues", "ForAnyValue")
# Every operator name a document may use after an optional qualifier, for "did you mean".
_FULL_NAMES = [*OPERATORS, *(f"{op}IfExists" for op in OPERATORS if op != "Null")]
_CONDITION_KEY = re.compile(r"^[A-Za-z0-9_.-]+:.+$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_EPOCH = re.compile(r"^\d+$")
# The W3C profile of ISO 8601 that "Condition operators" names (Date condition operators):
# YYYY-MM, YYYY-MM-DD, and with a time. A year alone is read as epoch seconds (all digits).
_ISO_DATE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?)?)?$"
)
_NO_CONTEXT = RequestContext()  # for templates without variables
_EPOCH_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_SECOND = dt.timedelta(seconds=1)


# ---------------------------------------------------------------------------------------------
# Parsing values (policy values once at compile time; request values cached)


def _number(text: str) -> Decimal | None:
    return Decimal(text) if _NUMBER.match(text) else None


def _date(text: str) -> int | None:
    """Nanoseconds since the epoch. ISO 8601 (``2024-05``, ``2024-05-01``, ``2024-05-01T12:00Z``,
    ``2024-05-01T12:00:00.5+02:00``; a time without zone is UTC, a date alone is its midnight
    UTC, a month alone its first day) or epoch seconds (``1714564800``)."""
    if _EPOCH.match(text):
        if len(text) > 20:  # past any date Python can hold (and past int()'s digit limit)
            return None
        return int(text) * 1_000_000_000
    m = _ISO_DATE.match(text)
    if not m:
        return None
    tz = dt.UTC
    if m["tz"] and m["tz"] != "Z":
        sign = -1 if m["tz"][0] == "-" else 1
        digits = m["tz"][1:].replace(":", "")
        if int(digits[2:]) > 59 or int(digits[:2]) > 23:
            return None
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        moment = dt.datetime(
            int(m["y"]),
            int(m["mo"]),
            int(m["d"] or 1),
            int(m["h"] or 0),
            int(m["mi"] or 0),
            int(m["s"] or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None
    seconds = (moment - _EPOCH_START) // _ONE_SECOND
    fraction = int((m["f"] or "").ljust(9, "0"))
    return seconds * 1_000_000_000 + fraction


def _network(text: str) -> tuple[int, int, int] | None:
    """(IP version, network as int, netmask as int); a bare address is /32 or /128. Host bits
    set in a CIDR (``10.1.2.3/8``) are masked off, as ``ipaddress`` does with strict=False."""
    if not text or text.strip() != text:
        return None
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return net.version, int(net.network_address), int(net.netmask)


@lru_cache(maxsize=4096)
def _request_number(text: str) -> Decimal | None:
    return _number(text)


@lru_cache(maxsize=4096)
def _request_date(text: str) -> int | None:
    return _date(text)


@lru_cache(maxsize=4096)
def _request_ip(text: str) -> tuple[int, int] | None:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return addr.version, int(addr)


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


@lru_cache(maxsize=4096)
def _request_binary(text: str) -> bytes | None:
    return _base64(text)


def _as_text(value: object) -> str | None:
    """A policy value as AWS writes it: strings as they are, JSON/YAML booleans as
    ``true``/``false``, numbers as their digits. None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


# ---------------------------------------------------------------------------------------------
# Matchers: one per family; each returns a _Prepare (request -> test of one request value)


def _static(match: _Match) -> _Prepare:
    return lambda ctx: match


def _any_fullmatch(patterns: list[Matcher | None]) -> Callable[[str], bool]:
    """Whether a text matches any of the patterns: the regexes joined into one alternation,
    the linear matchers (patterns with several ``*``) asked one by one."""
    regexes = [p for p in patterns if isinstance(p, re.Pattern)]
    others = [p for p in patterns if p is not None and not isinstance(p, re.Pattern)]
    joined = re.compile("|".join(f"(?:{p.pattern})" for p in regexes), re.DOTALL)
    if not others:
        return lambda r: joined.fullmatch(r) is not None
    if not regexes:
        return lambda r: any(p.fullmatch(r) for p in others)
    return lambda r: joined.fullmatch(r) is not None or any(p.fullmatch(r) for p in others)


def _string_matcher(family: str, templates: list[Template]) -> _Prepare:
    if family == "string-like":
        if not any(t.has_variables for t in templates):
            return _static(_any_fullmatch([t.regex(_NO_CONTEXT) for t in templates]))

        def prepare_like(ctx: RequestContext) -> _Match:
            found = [t.regex(ctx) for t in templates]
            live = [p for p in found if p is not None]
            return lambda r: any(p.fullmatch(r) for p in live)

        return prepare_like
    fold = family == "string-ic"
    if not any(t.has_variables for t in templates):
        # render(): ${*}, ${?} and ${$} become their characters even without variables
        rendered = [t.render(_NO_CONTEXT) or "" for t in templates]
        texts = {r.lower() if fold else r for r in rendered}
        if fold:
            return _static(lambda r: r.lower() in texts)
        return _static(texts.__contains__)

    def prepare_equals(ctx: RequestContext) -> _Match:
        rendered = [t.render(ctx) for t in templates]
        values = {(v.lower() if fold else v) for v in rendered if v is not None}
        if fold:
            return lambda r: r.lower() in values
        return values.__contains__

    return prepare_equals


def _arn_matcher(templates: list[Template]) -> _Prepare:
    if not any(t.has_variables for t in templates):
        matches = _any_fullmatch([t.regex(_NO_CONTEXT, arn_components=True) for t in templates])
        return _static(lambda r: r.count(":") >= 5 and matches(r))

    def prepare(ctx: RequestContext) -> _Match:
        found = [t.regex(ctx, arn_components=True) for t in templates]
        live = [p for p in found if p is not None]
        return lambda r: r.count(":") >= 5 and any(p.fullmatch(r) for p in live)

    return prepare


def _ordered_matcher(
    parse: Callable[[str], object | None],
    compare: Callable[[Any, Any], bool],
    expected: list[object],
) -> _Prepare:
    if len(expected) == 1:
        only = expected[0]

        def match_one(r: str) -> bool:
            value = parse(r)
            return value is not None and compare(value, only)

        return _static(match_one)

    def match_any(r: str) -> bool:
        value = parse(r)
        return value is not None and any(compare(value, e) for e in expected)

    return _static(match_any)


def _ip_matcher(networks: list[tuple[int, int, int]]) -> _Prepare:
    def match(r: str) -> bool:
        addr = _request_ip(r)
        if addr is None:
            return False
        version, number = addr
        return any(v == version and number & mask == net for v, net, mask in networks)

    return _static(match)


def _binary_matcher(expected: set[bytes]) -> _Prepare:
    def match(r: str) -> bool:
        value = _request_binary(r)
        return value is not None and value in expected

    return _static(match)


def _bool_matcher(expected: set[str]) -> _Prepare:
    return _static(lambda r: r.lower() in expected)


# ---------------------------------------------------------------------------------------------
# Combining a matcher with the operator's negation, qualifier and IfExists


def _key_test(prepare: _Prepare, negated: bool, qualifier: str | None, if_exists: bool) -> _KeyTest:
    if if_exists or qualifier == "ForAllValues":
        missing = True
    elif qualifier == "ForAnyValue":
        missing = False
    else:
        missing = negated

    if qualifier is not None:
        return _set_test(prepare, negated, qualifier, missing)
    if negated:
        # no request value matches any policy value

        def none_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
            if not values:
                return missing
            match = prepare(ctx)
            return not any(match(r) for r in values)

        return none_match

    def any_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
        if not values:
            return missing
        match = prepare(ctx)
        return any(match(r) for r in values)

    return any_match


def _set_test(prepare: _Prepare, negated: bool, qualifier: str, missing: bool) -> _KeyTest:
    """ForAllValues / ForAnyValue. A request value that is only empty strings is the empty set:
    "If the key values in the request resolve to an empty data set (for example, an empty
    string), a condition operator modified by ForAllValues returns true, and a condition
    operator modified by ForAnyValue returns false" (IAM User Guide, "Multivalued context
    keys"). ``not any(values)``: no value, or only empty strings."""
    if qualifier == "ForAnyValue" and negated:

        def any_value_not(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
            if not values or not any(values):
                return missing
            match = prepare(ctx)
            return not all(match(r) for r in values)

        return any_value_not
    if negated:  # ForAllValues: no request value matches any policy value

        def none_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
            if not values or not any(values):
                return missing
            match = prepare(ctx)
            return not any(match(r) for r in values)

        return none_match
    if qualifier == "ForAllValues":

        def all_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
            if not values or not any(values):
                return missing
            match = prepare(ctx)
            return all(match(r) for r in values)

        return all_match

    def any_match(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
        if not values or not any(values):
            return missing
        match = prepare(ctx)
        return any(match(r) for r in values)

    return any_match


def _null_test(expect_missing: set[bool]) -> _KeyTest:
    def test(values: tuple[str, ...] | None, ctx: RequestContext) -> bool:
        return (not values) in expect_missing

    return test


# ---------------------------------------------------------------------------------------------
# Compiled form


class _Entry:
    __slots__ = ("expected", "key", "operator", "test")

    def __init__(self, operator: str, key: str, expected: list[str], test: _KeyTest) -> None:
        self.operator = operator
        self.key = key
        self.expected = expected
        self.test = test


class CompiledConditions:
    """A validated Condition block. :meth:`evaluate` is the fast path; :meth:`explain` says
    which key made the block true or false."""

    __slots__ = ("_entries", "_tests", "empty")

    def single_valued(self) -> list[tuple[str, str]]:
        """``(operator, key)`` of every test written without ForAllValues:/ForAnyValue:, Null
        aside (it only asks whether the key is there)."""
        return [
            (e.operator, e.key)
            for e in self._entries
            if ":" not in e.operator and e.operator != "Null"
        ]

    def __init__(self, entries: Sequence[_Entry]) -> None:
        self._entries = tuple(entries)
        self._tests = tuple((e.key, e.test) for e in entries)
        self.empty: bool = not entries

    def evaluate(self, ctx: RequestContext) -> bool:
        """True when every (operator, key) of the block holds for this request."""
        get = ctx.get_values
        for key, test in self._tests:  # noqa: SIM110 - a plain loop is faster than all()
            if not test(get(key), ctx):
                return False
        return True

    def explain(self, ctx: RequestContext) -> list[dict[str, object]]:
        """One entry per (operator, key), in document order: the operator and key as written,
        the policy values as written (``expected``), the request's values (``actual``, None
        when the request does not carry the key) and whether that part holds (``result``)."""
        out: list[dict[str, object]] = []
        for entry in self._entries:
            values = ctx.get_values(entry.key)
            out.append(
                {
                    "operator": entry.operator,
                    "key": entry.key,
                    "expected": list(entry.expected),
                    "actual": None if values is None else list(values),
                    "result": entry.test(values, ctx),
                }
            )
        return out


# ---------------------------------------------------------------------------------------------
# Validation and compilation


def _closest(word: str, choices: Sequence[str]) -> str | None:
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def _split_operator(name: str) -> tuple[str | None, str, bool, str | None]:
    """(qualifier, base operator, IfExists, error message or None)."""
    qualifier: str | None = None
    rest = name
    if ":" in name:
        qualifier, rest = name.split(":", 1)
        if qualifier not in _QUALIFIERS:
            hint = _closest(qualifier, _QUALIFIERS)
            msg = f"unknown condition qualifier {qualifier!r} in {name!r}; expected ForAllValues"
            msg += " or ForAnyValue"
            if hint:
                msg += f" (did you mean {hint!r}?)"
            return None, rest, False, msg
    if_exists = False
    base = rest
    if rest.endswith("IfExists") and rest not in OPERATORS:
        base = rest[: -len("IfExists")]
        if_exists = True
    if base not in OPERATORS:
        hint = _closest(rest, _FULL_NAMES)
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
        return qualifier, base, if_exists, msg
    if base == "Null" and if_exists:
        return (
            qualifier,
            base,
            if_exists,
            (
                f"{name!r}: IfExists cannot be used with Null (Null itself tests whether the key "
                "exists)"
            ),
        )
    if base == "Null" and qualifier:
        return (
            qualifier,
            base,
            if_exists,
            (
                f"{name!r}: Null takes no ForAllValues/ForAnyValue qualifier; it tests whether the "
                "key exists"
            ),
        )
    return qualifier, base, if_exists, None


def _compile_values(
    base: str,
    family: str,
    raw: list[tuple[PolicyPath, str]],
    version: str,
    problems: list[PolicyProblem],
) -> _Prepare | set[bool] | None:
    """Parse the policy values of one key; None (with problems added) if any is invalid."""
    ok = True

    def bad(where: PolicyPath, message: str) -> None:
        nonlocal ok
        ok = False
        problems.append(PolicyProblem(where, message))

    if family in ("string", "string-ic", "string-like", "arn"):
        templates: list[Template] = []
        for where, text in raw:
            try:
                template = compile_template(text, version=version)
            except TemplateError as exc:
                bad(where, str(exc))
                continue
            if family == "arn" and not template.has_variables and text.count(":") < 5:
                bad(
                    where,
                    f"{base} value {text!r} is not an ARN: ARN operators compare the six "
                    "colon-separated parts arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE "
                    "(use StringLike to match any text)",
                )
                continue
            templates.append(template)
        if not ok:
            return None
        if family == "arn":
            return _arn_matcher(templates)
        return _string_matcher(family, templates)

    if family in ("numeric", "date"):
        parse = _number if family == "numeric" else _date
        what = (
            "a number (such as 42 or -1.5)"
            if family == "numeric"
            else "a date (ISO 8601 such as 2024-05-01 or 2024-05-01T12:00:00Z, or epoch seconds)"
        )
        parsed: list[object] = []
        for where, text in raw:
            value = parse(text)
            if value is None:
                bad(where, f"{base} value {text!r} is not {what}")
            else:
                parsed.append(value)
        if not ok:
            return None
        suffix = base[len("Numeric") :] if family == "numeric" else base[len("Date") :]
        request_parse = _request_number if family == "numeric" else _request_date
        return _ordered_matcher(request_parse, _CMP[suffix], parsed)

    if family == "ip":
        networks: list[tuple[int, int, int]] = []
        for where, text in raw:
            net = _network(text)
            if net is None:
                bad(
                    where,
                    f"{base} value {text!r} is not an IP address or CIDR range "
                    "(such as 203.0.113.0/24 or 2001:db8::/32)",
                )
            else:
                networks.append(net)
        return _ip_matcher(networks) if ok else None

    if family == "binary":
        blobs: set[bytes] = set()
        for where, text in raw:
            blob = _base64(text)
            if blob is None:
                bad(where, f"{base} value {text!r} is not base64 text")
            else:
                blobs.add(blob)
        return _binary_matcher(blobs) if ok else None

    # bool and null: true / false (any case)
    flags: set[str] = set()
    for where, text in raw:
        if text.lower() not in ("true", "false"):
            bad(where, f"{base} value {text!r} must be true or false")
        else:
            flags.add(text.lower())
    if not ok:
        return None
    if family == "null":
        return {flag == "true" for flag in flags}
    return _bool_matcher(flags)


def compile_conditions(
    block: object, *, version: str, path: PolicyPath
) -> tuple[CompiledConditions, list[PolicyProblem]]:
    """Validate and compile a ``Condition`` block found at ``path`` in a policy document whose
    ``Version`` is ``version``.

    Returns the compiled block and every problem found (problem paths extend ``path`` with the
    operator, the key and, for a value in a list, its index, spelled as in the document). When
    the problem list is not empty the compiled block must not be evaluated."""
    problems: list[PolicyProblem] = []
    entries: list[_Entry] = []
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
        qualifier, base, if_exists, error = _split_operator(op_name)
        if error:
            problems.append(PolicyProblem(op_path, error))
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
        family = OPERATORS[base]
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
                if text is None:
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
            compiled = _compile_values(base, family, raw, version, problems)
            if compiled is None:
                continue
            expected = [text for _, text in raw]
            if isinstance(compiled, set):
                test = _null_test(compiled)
            else:
                test = _key_test(compiled, base in _NEGATED, qualifier, if_exists)
            entries.append(_Entry(op_name, key, expected, test))
    return CompiledConditions(entries), problems
