"""Representative values of one condition key: one value per cell of the partition that the
policies' tests on that key induce (see runner/engine/universal.py for how they are used).

Each condition entry of a statement (operator, key, policy values) is read from the public
``CompiledConditions.explain`` listing. Per key, the tests are grouped by the kind of value
they compare; a key compared as two kinds at once (a number and a text, say) is refused,
because the cells of such a mixture are not computed here:

- text (String*, Arn*): the automaton product of ``universal_strings``;
- numbers: every boundary, a number between each two, one below and one above;
- dates (instants in nanoseconds): every boundary, the next instant, one before the first;
- IP addresses: per IP version the first address of the space, of each range, and the one
  after each range;
- Bool: ``true``, ``false`` and another text; BinaryEquals: each value, another, non-base64;
- every key also has a text that is none of these (unless AWS only ever sends values of its
  kind, see ``DOMAINS``) and absence.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import ipaddress
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from runner.engine.universal_strings import (
    ARN,
    TEXT,
    Part,
    StateBudgetExceeded,
    Test,
    Undecidable,
    atoms_to_program,
    cells,
    literal_program,
    parse_template,
    render_atoms,
)
from runner.policy import operators

__all__ = ["Entry", "Family", "Undecidable", "key_values", "parse_operator"]


class Family(enum.Enum):
    """What a condition operator compares."""

    STRING = "string"
    STRING_IC = "string-ic"
    STRING_LIKE = "string-like"
    ARN = "arn"
    NUMERIC = "numeric"
    DATE = "date"
    BOOL = "bool"
    BINARY = "binary"
    IP = "ip"
    NULL = "null"


_SUFFIXES = (
    "Equals",
    "NotEquals",
    "LessThan",
    "LessThanEquals",
    "GreaterThan",
    "GreaterThanEquals",
)
_FAMILIES: dict[str, Family] = {
    "StringEquals": Family.STRING,
    "StringNotEquals": Family.STRING,
    "StringEqualsIgnoreCase": Family.STRING_IC,
    "StringNotEqualsIgnoreCase": Family.STRING_IC,
    "StringLike": Family.STRING_LIKE,
    "StringNotLike": Family.STRING_LIKE,
    **{f"Numeric{s}": Family.NUMERIC for s in _SUFFIXES},
    **{f"Date{s}": Family.DATE for s in _SUFFIXES},
    "Bool": Family.BOOL,
    "BinaryEquals": Family.BINARY,
    "IpAddress": Family.IP,
    "NotIpAddress": Family.IP,
    "ArnEquals": Family.ARN,
    "ArnLike": Family.ARN,
    "ArnNotEquals": Family.ARN,
    "ArnNotLike": Family.ARN,
    "Null": Family.NULL,
}
_TEXT_FAMILIES = frozenset({Family.STRING, Family.STRING_IC, Family.STRING_LIKE, Family.ARN})


@dataclass(frozen=True, slots=True)
class Entry:
    """One (operator, key) of a condition block, with where it is (for messages)."""

    operator: str
    key: str
    values: tuple[str, ...]
    family: Family
    qualified: bool  # ForAllValues: or ForAnyValue:
    where: str  # "statement S of repository policy P"


def parse_operator(name: str) -> tuple[Family, bool] | None:
    """(family, has a set qualifier) of an operator name as written, None if unknown."""
    qualified = False
    rest = name
    if ":" in name:
        qualifier, rest = name.split(":", 1)
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            return None
        qualified = True
    family = _FAMILIES.get(rest)
    if family is None and rest.endswith("IfExists"):
        family = _FAMILIES.get(rest[: -len("IfExists")])
    return None if family is None else (family, qualified)


# ---------------------------------------------------------------------------------------------
# Value domains AWS guarantees for some keys (lowercased): no other text is ever sent.

DOMAINS: dict[str, Family] = {
    "aws:securetransport": Family.BOOL,
    "aws:multifactorauthpresent": Family.BOOL,
    "aws:viaawsservice": Family.BOOL,
    "aws:sourceip": Family.IP,
    "aws:vpcsourceip": Family.IP,
    "aws:currenttime": Family.DATE,
    "aws:tokenissuetime": Family.DATE,
    "aws:multifactorauthage": Family.NUMERIC,
}

_OTHER_TEXT = "unlisted"


# ---------------------------------------------------------------------------------------------
# Numbers and dates, parsed by the engine's own grammar (runner.policy.operators), so that a
# representative is read exactly as the engine will read it

parse_number = operators.parse_number
parse_date = operators.parse_date
_EPOCH_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NS = 1_000_000_000


def format_instant(ns: int) -> str | None:
    """An ISO 8601 text the engine reads back as exactly ``ns``; None out of range."""
    seconds, fraction = divmod(ns, _NS)
    try:
        moment = _EPOCH_START + dt.timedelta(seconds=seconds)
    except OverflowError:
        return None
    if not 1 <= moment.year <= 9999:
        return None
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += "." + f"{fraction:09d}"
    text += "Z"
    return text if len(text) >= 20 and parse_date(text) == ns else None


def _number_text(value: Decimal) -> str | None:
    text = format(value, "f")
    return text if parse_number(text) == value else None


# ---------------------------------------------------------------------------------------------
# Representatives per family

Lookup = Callable[[str], tuple[str, ...] | None]
#: Representative values of a key: None stands for absent; a tuple is a set of values.
Value = tuple[str, ...] | None


def _text_tests(
    entries: Sequence[Entry], lookups: Sequence[Lookup], version_of: Callable[[Entry], str]
) -> list[Test]:
    tests: list[Test] = []
    for entry in entries:
        for raw, lookup in itertools.product(entry.values, lookups):
            parts: tuple[Part, ...] = parse_template(raw, version_of(entry))
            wild = entry.family in (Family.STRING_LIKE, Family.ARN)
            atoms = render_atoms(parts, lookup, wild=wild)
            if atoms is None:
                continue  # a variable without value: this value matches nothing
            if entry.family is Family.ARN:
                program = atoms_to_program(atoms, ARN)
            elif wild:
                program = atoms_to_program(atoms, TEXT)
            else:
                text = "".join(t for _, t in atoms)
                program = literal_program(
                    text.lower() if entry.family is Family.STRING_IC else text
                )
            if program is None:
                continue
            tests.append(Test((program,), lower=entry.family is Family.STRING_IC))
    return tests


def _text_values(key: str, tests: list[Test], multi: bool) -> list[str]:
    if multi:
        tests.append(Test((literal_program(""),)))  # empty text: "no value" for set operators
    unique = list(dict.fromkeys(tests))
    try:
        found = cells(unique)
    except StateBudgetExceeded:
        raise Undecidable(
            f"the text tests on {key} are too many to enumerate exactly ({len(unique)} patterns)"
        ) from None
    return sorted(found.values(), key=lambda s: (len(s), s))


def _numeric_values(key: str, entries: Sequence[Entry]) -> list[str]:
    bounds: set[Decimal] = set()
    for entry in entries:
        for raw in entry.values:
            value = parse_number(raw)
            if value is not None:
                bounds.add(value)
    ordered = sorted(bounds)
    points: list[Decimal] = []
    if ordered:
        points.append(ordered[0] - 1)
        for low, high in itertools.pairwise(ordered):
            points.append(low)
            middle = (low + high) / 2
            if not low < middle < high:
                raise Undecidable(f"{key}: numbers too close to tell apart ({low}, {high})")
            points.append(middle)
        points.append(ordered[-1])
        points.append(ordered[-1] + 1)
    else:
        points.append(Decimal(0))
    out: list[str] = []
    for p in points:
        text = _number_text(p)
        if text is None:
            raise Undecidable(f"{key}: the number {p} cannot be written as a request value")
        out.append(text)
    return out


def instants(key: str, bounds: set[int]) -> list[int]:
    """Instants (ns) covering every cell of the time line cut at ``bounds``."""
    ordered = sorted(bounds)
    if not ordered:
        return [parse_date("2026-01-01T00:00:00Z") or 0]
    points = [ordered[0] - 1]
    for b in ordered:
        points.append(b)
        points.append(b + 1)
    return sorted(set(points))


def _date_values(key: str, entries: Sequence[Entry]) -> list[str]:
    bounds: set[int] = set()
    for entry in entries:
        for raw in entry.values:
            value = parse_date(raw)
            if value is not None:
                bounds.add(value)
    out: list[str] = []
    for point in instants(key, bounds):
        text = format_instant(point)
        if text is None:
            raise Undecidable(f"{key}: the date boundary near {point} ns is out of range")
        out.append(text)
    return out


def _ip_values(entries: Sequence[Entry]) -> list[str]:
    starts: dict[int, set[int]] = {4: {0}, 6: {0}}
    for entry in entries:
        for raw in entry.values:
            try:
                net = ipaddress.ip_network(raw, strict=False)
            except ValueError:
                continue
            top = (1 << net.max_prefixlen) - 1
            first = int(net.network_address)
            after = int(net.broadcast_address) + 1
            starts[net.version].add(first)
            if after <= top:
                starts[net.version].add(after)
    out: list[str] = []
    for addr in sorted(starts[4]):
        out.append(str(ipaddress.IPv4Address(addr)))
    for addr in sorted(starts[6]):
        out.append(str(ipaddress.IPv6Address(addr)))
    return out


def _binary_values(entries: Sequence[Entry]) -> list[str]:
    blobs: set[bytes] = set()
    for entry in entries:
        for raw in entry.values:
            try:
                blobs.add(base64.b64decode(raw, validate=True))
            except (binascii.Error, ValueError):
                continue
    fresh = b"unlisted"
    while fresh in blobs:
        fresh += b"!"
    return [base64.b64encode(b).decode() for b in sorted(blobs | {fresh})]


def key_values(
    key: str,
    entries: Sequence[Entry],
    lookups: Sequence[Lookup],
    version_of: Callable[[Entry], str],
    *,
    absent: bool,
    max_set_values: int = 7,
) -> list[Value]:
    """The representative values of ``key`` (lowercased) for the entries that test it.

    ``lookups`` give the values of other keys for policy variables (already known to be fixed
    for this caller), one per step of the check: the tests of every step are cut at once.
    ``absent`` says whether the request may leave the key out. A key tested with
    ForAllValues:/ForAnyValue: gets sets: every subset of its value representatives."""
    families = {e.family for e in entries} - {Family.NULL}
    kinds = {("text" if f in _TEXT_FAMILIES else f.value) for f in families}
    if len(kinds) > 1:
        where = "; ".join(sorted({f"{e.operator} in {e.where}" for e in entries}))
        raise Undecidable(
            f"{key} is compared as {' and as '.join(sorted(kinds))} ({where}); the universal "
            "check does not combine different kinds of comparison on one key"
        )
    multi = any(e.qualified for e in entries)
    domain = DOMAINS.get(key)
    kind = next(iter(kinds)) if kinds else None
    singles: list[str]
    if kind == "text":
        try:
            singles = _text_values(key, _text_tests(entries, lookups, version_of), multi)
        except Undecidable as exc:
            where = "; ".join(sorted({f"{e.operator} {e.key} in {e.where}" for e in entries}))
            raise Undecidable(f"{where}: {exc}") from None
    elif kind == "numeric":
        singles = _numeric_values(key, entries)
    elif kind == "date":
        singles = _date_values(key, entries)
    elif kind == "ip":
        singles = _ip_values(entries)
    elif kind == "bool":
        singles = ["true", "false"]
    elif kind == "binary":
        singles = _binary_values(entries)
    else:  # only Null: present or absent
        singles = (
            {
                Family.BOOL: ["true"],
                Family.IP: ["192.0.2.1"],
                Family.DATE: ["2026-01-01T00:00:00Z"],
                Family.NUMERIC: ["1"],
            }.get(domain, [_OTHER_TEXT])
            if domain is not None
            else [_OTHER_TEXT]
        )
    domain_kind = None if domain is None else ("text" if domain in _TEXT_FAMILIES else domain.value)
    if kind != "text" and kind is not None and (domain is None or domain_kind != kind):
        singles.append(_OTHER_TEXT)  # a text that is not a value of the compared kind
    if multi and kind != "text":
        singles.append("")
    singles = list(dict.fromkeys(singles))
    out: list[Value] = [None] if absent else []
    if not multi:
        out.extend((s,) for s in singles)
        return out
    if len(singles) > max_set_values:
        raise Undecidable(
            f"{key} is tested as a set of values (ForAllValues/ForAnyValue) and its values fall "
            f"into {len(singles)} classes; more than {max_set_values} cannot be enumerated exactly"
        )
    out.append(())
    for mask in range(1, 1 << len(singles)):
        out.append(tuple(s for i, s in enumerate(singles) if mask >> i & 1))
    return out


def number_instants(entries: Sequence[Entry]) -> set[int]:
    """Boundaries (ns) of Numeric and Date tests on a time key (aws:EpochTime, aws:CurrentTime)."""
    bounds: set[int] = set()
    for entry in entries:
        for raw in entry.values:
            if entry.family is Family.NUMERIC:
                value = parse_number(raw)
                if value is not None:
                    try:
                        bounds.add(int((value * _NS).to_integral_value()))
                    except InvalidOperation:  # pragma: no cover - Decimal's own limits
                        raise Undecidable(f"{entry.key}: number {raw} out of range") from None
            elif entry.family is Family.DATE:
                date = parse_date(raw)
                if date is not None:
                    bounds.add(date)
    return bounds
