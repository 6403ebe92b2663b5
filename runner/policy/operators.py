"""The condition operators: a table of small objects, and for each family how its policy values
are parsed once and compared with request values.

An :class:`Operator` is a base name (``StringNotLike``, ``NumericLessThan``: no qualifier, no
``IfExists``), its :class:`Family` (which says how values are read and compared) and whether it
is negated. :func:`compile_values` parses the policy values of one key and returns the test of
one request value against them, prepared per request (only String and Arn values depend on
the request, through policy variables).

Source: "IAM JSON policy elements: Condition operators".
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import ipaddress
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from runner.errors import Undecided
from runner.model import PolicyPath, PolicyProblem, RequestContext
from runner.policy.case_folding import ignore_case_matcher
from runner.policy.variables import Template, TemplateError, compile_template
from runner.wildcards import Matcher

if TYPE_CHECKING:  # pragma: no cover - types only
    from decimal import Decimal

__all__ = [
    "OPERATORS",
    "Family",
    "Match",
    "Operator",
    "Prepare",
    "Qualifier",
    "Static",
    "compile_values",
]

#: A test of one request value against the policy values of one (operator, key).
Match = Callable[[str], bool]
#: Prepares a Match for a request (only String and Arn values depend on the request).
Prepare = Callable[[RequestContext], Match]


class Family(enum.Enum):
    """How an operator reads and compares values."""

    STRING = "string"
    STRING_IGNORE_CASE = "string-ic"
    STRING_LIKE = "string-like"
    NUMERIC = "numeric"
    DATE = "date"
    BOOL = "bool"
    BINARY = "binary"
    IP = "ip"
    ARN = "arn"
    NULL = "null"


class Qualifier(enum.StrEnum):
    """The set operators written before a condition operator (``ForAllValues:StringLike``)."""

    FOR_ALL_VALUES = "ForAllValues"
    FOR_ANY_VALUE = "ForAnyValue"


@dataclass(frozen=True, slots=True)
class Operator:
    """A base condition operator. ``compare`` orders two parsed values (Numeric and Date
    operators only); a negated operator holds when the request value matches no policy
    value."""

    name: str
    family: Family
    negated: bool = False
    compare: Callable[[Any, Any], bool] | None = None


# Any: numbers are Decimal, dates int nanoseconds; each operator compares one kind. NotEquals
# compares as Equals and is negated.
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.eq,
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}


def _table() -> dict[str, Operator]:
    ops = [
        Operator("StringEquals", Family.STRING),
        Operator("StringNotEquals", Family.STRING, negated=True),
        Operator("StringEqualsIgnoreCase", Family.STRING_IGNORE_CASE),
        Operator("StringNotEqualsIgnoreCase", Family.STRING_IGNORE_CASE, negated=True),
        Operator("StringLike", Family.STRING_LIKE),
        Operator("StringNotLike", Family.STRING_LIKE, negated=True),
        *(
            Operator(f"{prefix}{suffix}", family, suffix == "NotEquals", compare)
            for prefix, family in (("Numeric", Family.NUMERIC), ("Date", Family.DATE))
            for suffix, compare in _CMP.items()
        ),
        Operator("Bool", Family.BOOL),
        Operator("BinaryEquals", Family.BINARY),
        Operator("IpAddress", Family.IP),
        Operator("NotIpAddress", Family.IP, negated=True),
        Operator("ArnEquals", Family.ARN),
        Operator("ArnLike", Family.ARN),
        Operator("ArnNotEquals", Family.ARN, negated=True),
        Operator("ArnNotLike", Family.ARN, negated=True),
        Operator("Null", Family.NULL),
    ]
    return {op.name: op for op in ops}


#: Every base operator name (without qualifier or ``IfExists``) -> its operator.
OPERATORS: dict[str, Operator] = _table()

# Numbers and dates are ASCII digits, matched whole (``fullmatch``): ``\d`` would also take
# other scripts' digits (``\u0661\u0660``, which int() and Decimal() read as 10) and ``$``
# a trailing newline. "Numeric condition operators" compare "an integer or decimal value".
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_EPOCH = re.compile(r"[0-9]+")
#: A year alone: the W3C profile reads ``2024`` as the year 2024, epoch time as 2024 seconds
#: after 1970; a policy value of this shape is refused (compile_values).
_YEAR = re.compile(r"[0-9]{4}")
# The W3C profile of ISO 8601 that "Condition operators" names (Date condition operators):
# YYYY-MM, YYYY-MM-DD, and with a time. A year alone is read as epoch seconds (all digits);
# as a policy value it is refused (compile_values).
_ISO_DATE = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})(?:-(?P<d>[0-9]{2})"
    r"(?:T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?)?"
    r"(?P<tz>Z|[+-][0-9]{2}:?[0-9]{2})?)?)?"
)
_NO_CONTEXT = RequestContext()  # for templates without variables
#: ``${...}`` as a policy variable would be written, for operators that read none
_VARIABLE_IN = re.compile(r"\$\{(?![*?$]\})[^}]*\}")  # ${*}, ${?}, ${$} are escapes
_EPOCH_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_SECOND = dt.timedelta(seconds=1)


# ---------------------------------------------------------------------------------------------
# Parsing values (policy values once at compile time; request values cached)


def _number(text: str) -> Decimal | None:
    if not _NUMBER.fullmatch(text):
        return None
    # decimal (with its C module, about 3M instructions) imported by the first Numeric value,
    # not at every start
    from decimal import Decimal

    return Decimal(text)


def _date(text: str) -> int | None:
    """Nanoseconds since the epoch. ISO 8601 (``2024-05``, ``2024-05-01``, ``2024-05-01T12:00Z``,
    ``2024-05-01T12:00:00.5+02:00``; a time without zone is UTC, a date alone is its midnight
    UTC, a month alone its first day) or epoch seconds (``1714564800``)."""
    if _EPOCH.fullmatch(text):
        if len(text) > 20:  # past any date Python can hold (and past int()'s digit limit)
            return None
        return int(text) * 1_000_000_000
    m = _ISO_DATE.fullmatch(text)
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


#: The significant digits that binary floating point (a double) keeps of any decimal: two
#: decimals of at most 15 compare alike whether compared exactly or as doubles
_DOUBLE_DIGITS = 15


def _inexact(text: str, value: object) -> str | None:
    """Why a Numeric policy value cannot be compared without guessing the precision AWS
    compares in ("Numeric condition operators" say "an integer or decimal value" and no
    more), or None: a value of more significant digits than a double keeps, or past its
    range, compares differently exactly and in floating point."""
    from decimal import Decimal

    assert isinstance(value, Decimal)
    if not value:
        return None
    exact = value.normalize()
    digits = len(exact.as_tuple().digits)
    if digits > _DOUBLE_DIGITS:
        return (
            f"has {digits} significant digits: AWS does not document the precision of numeric "
            "comparisons, and past 15 digits an exact comparison and one in floating point "
            "differ; the engine does not guess which AWS makes"
        )
    if not -300 <= exact.adjusted() <= 300:
        return (
            "is larger than 1e300 or smaller than 1e-300, near or past what floating point "
            "holds: AWS does not document the range of numeric comparisons"
        )
    return None


def _unzoned(text: str) -> str | None:
    """Why a Date policy value with a time cannot be read without a guess, or None: the W3C
    profile of ISO 8601 that "Date condition operators" name gives every time a zone, ``Z``
    or ``+hh:mm`` ("TZD"), and AWS does not say which zone a time without one is in."""
    m = _ISO_DATE.fullmatch(text)
    if m is None or m["h"] is None:
        return None
    if not m["tz"]:
        return (
            "has a time without a time zone: the W3C profile of ISO 8601 that AWS names gives "
            f"every time one (Z or +hh:mm), and AWS does not say which it assumes; write {text}Z "
            "for UTC"
        )
    if m["tz"] != "Z" and ":" not in m["tz"]:
        return (
            f"writes its offset {m['tz']} without a colon: the W3C profile of ISO 8601 that AWS "
            f"names writes {m['tz'][:3]}:{m['tz'][3:]}"
        )
    return None


#: The grammars of the Numeric and Date operators, for code that must read a value exactly as
#: the engine does (the representatives of universal checks).
parse_number = _number
parse_date = _date


def _network(text: str) -> tuple[int, int, int] | None:
    """(IP version, network as int, netmask as int); a bare address is /32 or /128. Host bits
    set in a CIDR (``10.1.2.3/8``) are masked off, as ``ipaddress`` does with strict=False.

    Only CIDR notation ("IP address condition operators": "The value must be in the standard
    CIDR format"): the prefix after ``/`` is a length in decimal digits. ``ipaddress`` also
    takes a netmask (``10.0.0.0/255.0.0.0``), a host mask (``10.0.0.0/0.255.255.255``, which it
    reads as /8) and an IPv6 scope (``fe80::1%eth0``); none of them is CIDR, so none is read."""
    if not text or text.strip() != text:
        return None
    address, slash, prefix = text.partition("/")
    if "%" in address or (slash and not (prefix.isascii() and prefix.isdigit())):
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


# ---------------------------------------------------------------------------------------------
# Matchers: one per family; each returns a Prepare (request -> test of one request value)


class Static:
    """The Prepare of policy values that do not depend on the request: ``match`` is the test
    itself (a key test takes it once, instead of preparing it per request)."""

    __slots__ = ("match",)

    def __init__(self, match: Match) -> None:
        self.match = match

    def __call__(self, ctx: RequestContext) -> Match:
        return self.match


def _static(match: Match) -> Prepare:
    return Static(match)


def _any_fullmatch(patterns: list[Matcher | None]) -> Callable[[str], bool]:
    """Whether a text matches any of the patterns: the regexes joined into one alternation,
    the other matchers asked one by one."""
    regexes = [p for p in patterns if isinstance(p, re.Pattern)]
    others = [p for p in patterns if p is not None and not isinstance(p, re.Pattern)]
    joined = re.compile("|".join(f"(?:{p.pattern})" for p in regexes), re.DOTALL)
    if not others:
        return lambda r: joined.fullmatch(r) is not None
    if not regexes:
        return lambda r: any(p.fullmatch(r) for p in others)
    return lambda r: joined.fullmatch(r) is not None or any(p.fullmatch(r) for p in others)


def _string_matcher(family: Family, templates: list[Template]) -> Prepare:
    if family is Family.STRING_LIKE:
        if not any(t.has_variables for t in templates):
            return _static(_any_fullmatch([t.regex(_NO_CONTEXT) for t in templates]))

        def prepare_like(ctx: RequestContext) -> Match:
            live, undecided = _live_patterns(templates, ctx, arn_components=False)
            return _matching_any(live, undecided)

        return prepare_like
    fold = family is Family.STRING_IGNORE_CASE
    if not any(t.has_variables for t in templates):
        # render(): ${*}, ${?} and ${$} become their characters even without variables
        rendered = [t.render(_NO_CONTEXT) or "" for t in templates]
        if fold:
            return _static(ignore_case_matcher(rendered))
        return _static(set(rendered).__contains__)

    def prepare_equals(ctx: RequestContext) -> Match:
        rendered = [v for v in (t.render(ctx) for t in templates) if v is not None]
        if fold:
            return ignore_case_matcher(rendered)
        return set(rendered).__contains__

    return prepare_equals


def _arn_matcher(templates: list[Template]) -> Prepare:
    if not any(t.has_variables for t in templates):
        matches = _any_fullmatch([t.regex(_NO_CONTEXT, arn_components=True) for t in templates])
        return _static(lambda r: r.count(":") >= 5 and matches(r))

    def prepare(ctx: RequestContext) -> Match:
        live, undecided = _live_patterns(templates, ctx, arn_components=True)
        matching = _matching_any(live, undecided)
        return lambda r: r.count(":") >= 5 and matching(r)

    return prepare


def _live_patterns(
    templates: list[Template], ctx: RequestContext, *, arn_components: bool
) -> tuple[list[Matcher], Undecided | None]:
    """The patterns of ``templates`` for this request (those whose variables have a value),
    and the first Undecided of a template that AWS leaves open."""
    live: list[Matcher] = []
    undecided: Undecided | None = None
    for t in templates:
        try:
            pattern = t.regex(ctx, arn_components=arn_components)
        except Undecided as exc:
            undecided = undecided or exc
            continue
        if pattern is not None:
            live.append(pattern)
    return live, undecided


def _matching_any(live: list[Matcher], undecided: Undecided | None) -> Match:
    """Whether a text matches one of ``live``; when none does and a pattern was left open,
    its Undecided (a match of another settles the answer whatever it would give)."""
    if undecided is None:
        return lambda r: any(p.fullmatch(r) for p in live)

    def match(r: str) -> bool:
        if any(p.fullmatch(r) for p in live):
            return True
        raise undecided

    return match


def _ordered_matcher(
    parse: Callable[[str], object | None],
    compare: Callable[[Any, Any], bool],
    expected: list[object],
) -> Prepare:
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


def _ip_matcher(networks: list[tuple[int, int, int]]) -> Prepare:
    def match(r: str) -> bool:
        addr = _request_ip(r)
        if addr is None:
            return False
        version, number = addr
        return any(v == version and number & mask == net for v, net, mask in networks)

    return _static(match)


def _binary_matcher(expected: set[bytes]) -> Prepare:
    def match(r: str) -> bool:
        value = _request_binary(r)
        return value is not None and value in expected

    return _static(match)


def _bool_matcher(expected: set[str]) -> Prepare:
    return _static(lambda r: r.lower() in expected)


_TEXT_FAMILIES = frozenset(
    {Family.STRING, Family.STRING_IGNORE_CASE, Family.STRING_LIKE, Family.ARN}
)


def compile_values(
    op: Operator,
    raw: list[tuple[PolicyPath, str]],
    version: str,
    problems: list[PolicyProblem],
) -> Prepare | set[bool] | None:
    """Parse the policy values of one key under ``op``: the prepared test, or for ``Null`` the
    set of flags written (true: the key is missing). None, with problems added, when a value
    is invalid."""
    ok = True
    base, family = op.name, op.family

    def bad(where: PolicyPath, message: str) -> None:
        nonlocal ok
        ok = False
        problems.append(PolicyProblem(where, message))

    if family in _TEXT_FAMILIES:
        templates: list[Template] = []
        for where, text in raw:
            try:
                template = compile_template(text, version=version)
            except TemplateError as exc:
                bad(where, str(exc))
                continue
            if family is Family.ARN and not template.has_variables and text.count(":") < 5:
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
        if family is Family.ARN:
            return _arn_matcher(templates)
        return _string_matcher(family, templates)

    if version == "2012-10-17":
        for where, text in raw:
            if _VARIABLE_IN.search(text):
                bad(
                    where,
                    f"{base} value {text!r} holds a policy variable, which {base} does not "
                    "read: AWS says \"You can't use a policy variable with other operators, "
                    'such as Numeric, Date, Boolean, Binary, IP Address, or Null operators" '
                    "(IAM policy elements: Variables and tags)",
                )
        if not ok:
            return None

    if family is Family.NUMERIC or family is Family.DATE:
        numeric = family is Family.NUMERIC
        parse = _number if numeric else _date
        what = (
            "a number (such as 42 or -1.5)"
            if numeric
            else "a date (ISO 8601 such as 2024-05-01 or 2024-05-01T12:00:00Z, or epoch seconds)"
        )
        parsed: list[object] = []
        for where, text in raw:
            value = parse(text)
            if value is None:
                bad(where, f"{base} value {text!r} is not {what}")
            elif not numeric and _YEAR.fullmatch(text):
                # both grammars the page names read it, differently: the W3C profile of ISO
                # 8601 ("YYYY") as a year, epoch time as seconds after 1970
                bad(
                    where,
                    f"{base} value {text!r} is ambiguous: ISO 8601 reads it as the year {text}, "
                    f"epoch time as {int(text)} seconds after 1970-01-01T00:00:00Z; write "
                    f"{text}-01-01T00:00:00Z for the year",
                )
            elif (why := _inexact(text, value) if numeric else _unzoned(text)) is not None:
                bad(where, f"{base} value {text!r} {why}")
            else:
                parsed.append(value)
        if not ok:
            return None
        assert op.compare is not None  # every Numeric and Date operator has one
        return _ordered_matcher(_request_number if numeric else _request_date, op.compare, parsed)

    if family is Family.IP:
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

    if family is Family.BINARY:
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
    if family is Family.NULL:
        return {flag == "true" for flag in flags}
    return _bool_matcher(flags)
