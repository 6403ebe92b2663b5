"""Tests on callers' ARNs: what the guard policies and the spec can tell apart.

The shape every ARN of a caller kind has (``arn:aws:iam::ACCOUNT:user/PATH/NAME``, ...), and
:func:`collect`: the tests that conditions on caller keys (aws:PrincipalArn,
aws:PrincipalAccount, aws:username, aws:userid) and Principal elements apply to the ARNs of
one kind, as programs for :func:`runner.engine.universal_strings.cells`. The enumeration of
callers from them is in :mod:`runner.engine.universal_callers`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from runner.engine.universal_strings import (
    LIT,
    ONE,
    RUN,
    TEXT,
    CharClass,
    Program,
    Test,
    Token,
    atoms_to_program,
    literal_program,
    parse_template,
    render_atoms,
)
from runner.engine.universal_values import Entry, Family, Undecidable
from runner.model import CallerKind
from runner.policy import CompiledPolicy

_DIGITS12 = tuple(Token(ONE, cls=CharClass.DIGIT.value) for _ in range(12))
ANY_RUN = Token(RUN, cls=CharClass.ANY.value)
_ACCOUNT_RUN = Token(RUN, cls=CharClass.NOT_COLON.value)
ARN_PREFIX = {
    CallerKind.USER: "arn:aws:iam::",
    CallerKind.ROLE: "arn:aws:iam::",
    CallerKind.ROOT: "arn:aws:iam::",
    CallerKind.FEDERATED: "arn:aws:sts::",
}
_INFIX = {
    CallerKind.USER: ":user/",
    CallerKind.ROLE: ":role/",
    CallerKind.ROOT: ":root",
    CallerKind.FEDERATED: ":federated-user/",
}


def arn_shape(kind: CallerKind) -> list[Test]:
    """Tests that every ARN of ``kind`` passes (first) and must fail (after): runner.model's
    ARN patterns (a path of names separated by single slashes, ending with a name)."""
    head = literal_program(ARN_PREFIX[kind]) + _DIGITS12 + literal_program(_INFIX[kind])
    if kind is CallerKind.ROOT:
        return [Test((head,))]
    if kind is CallerKind.FEDERATED:
        name = (Token(ONE, cls=CharClass.NAME.value), Token(RUN, cls=CharClass.NAME.value))
        return [Test((head + name,))]
    path = (Token(ONE, cls=CharClass.NAME.value), Token(RUN, cls=CharClass.NAME_OR_SLASH.value))
    return [Test((head + path,))]


def negative_shape(kind: CallerKind) -> list[Test]:
    if kind not in (CallerKind.USER, CallerKind.ROLE):
        return []
    return [
        Test(((ANY_RUN, Token(LIT, "/"), Token(LIT, "/"), ANY_RUN),)),
        Test(((ANY_RUN, Token(LIT, "/")),)),
    ]


def segment(atoms: Sequence[tuple[bool, str]], cls: CharClass, lower: bool) -> Program:
    out: list[Token] = []
    for wild, text in atoms:
        if wild:
            out.append(Token(RUN if text == "*" else ONE, cls=cls.value))
        else:
            out.extend(Token(LIT, c) for c in (text.lower() if lower else text))
    return tuple(out)


def account_test(kind: CallerKind, segment: Program, lower: bool = False) -> Test:
    prefix = literal_program(ARN_PREFIX[kind])
    return Test((prefix + segment + (Token(LIT, ":"), ANY_RUN),), lower=lower)


def _last_name_test(
    kind: CallerKind, segment: Program, account: Program | None, lower: bool
) -> Test:
    """The last name of a user/role ARN (after its path) passes ``segment``."""
    acct = account if account is not None else (_ACCOUNT_RUN,)
    head = literal_program(ARN_PREFIX[kind]) + acct + literal_program(_INFIX[kind])
    return Test(((*head, *segment), (*head, ANY_RUN, Token(LIT, "/"), *segment)), lower=lower)


@dataclass
class Collected:
    """What the guard policies say about callers of one kind."""

    tests: list[tuple[str, Test]] = field(default_factory=list)
    sessions: dict[tuple[str, str], set[str]] = field(default_factory=dict)


#: The value of a policy variable's key for every caller (a fixed or repository-derived key),
#: None when absent; it raises Undecidable for a key that depends on the caller or ranges.
Resolve = Callable[[str, Entry], tuple[str, ...] | None]


def no_variables(key: str, entry: Entry) -> tuple[str, ...] | None:
    raise Undecidable(
        f"the policy variable ${{{key}}} in {entry.operator} {entry.key} ({entry.where}) "
        "cannot be resolved before the callers are enumerated"
    )


def label_of(entry: Entry) -> str:
    return f"{entry.operator} {entry.key} in {entry.where}"


def not_text(entry: Entry, what: str) -> Undecidable:
    return Undecidable(
        f"{entry.operator} {entry.key} in {entry.where} compares a caller's name or account as "
        f"{entry.family.value}; {what} are enumerated only against text comparisons "
        "(String, Arn operators)"
    )


def text_programs(
    entry: Entry, version: str, resolve: Resolve = no_variables
) -> list[tuple[list[tuple[bool, str]], bool]]:
    """(atoms, lower) of each value of a text entry; a policy variable is replaced by its
    value from ``resolve`` (the same for every caller), which refuses any other variable."""
    out: list[tuple[list[tuple[bool, str]], bool]] = []
    for raw in entry.values:
        atoms = render_atoms(
            parse_template(raw, version),
            lambda key: resolve(key, entry),
            wild=entry.family in (Family.STRING_LIKE, Family.ARN),
        )
        if atoms is None:
            continue
        out.append((atoms, entry.family is Family.STRING_IC))
    return out


def collect(
    kind: CallerKind,
    entries: Sequence[tuple[Entry, str]],
    guard: Sequence[tuple[CompiledPolicy, object]],
    account_keys: frozenset[str],
    resolve: Resolve = no_variables,
) -> Collected:
    """The tests on ARNs of ``kind`` from condition ``entries`` (with their policy version)
    on caller keys and from the Principal elements of ``guard`` statements."""
    got = Collected()
    for entry, version in entries:
        key = entry.key.lower()
        relevant = (
            key == "aws:principalarn"
            or key in account_keys
            or (key == "aws:userid" and kind in (CallerKind.ROOT, CallerKind.FEDERATED))
            or (key == "aws:username" and kind is CallerKind.USER)
        )
        if not relevant or entry.family is Family.NULL:
            continue
        if entry.family not in (Family.STRING, Family.STRING_IC, Family.STRING_LIKE, Family.ARN):
            raise not_text(entry, f"the names and accounts of unmodelled {kind.label}s")
        for atoms, lower in text_programs(entry, version, resolve):
            if key == "aws:principalarn":
                if entry.family is Family.ARN:
                    program = atoms_to_program(atoms, "arn")
                elif entry.family is Family.STRING_LIKE:
                    program = atoms_to_program(atoms, TEXT)
                else:
                    program = literal_program("".join(t for _, t in atoms))
                if program is None:
                    continue
                if lower:
                    program = tuple(
                        Token(LIT, t.char.lower()) if t.kind == LIT else t for t in program
                    )
                got.tests.append((label_of(entry), Test((program,), lower=lower)))
            elif key in account_keys or (key == "aws:userid" and kind is CallerKind.ROOT):
                if entry.family is Family.ARN:
                    continue  # an account ID is not an ARN: never matches
                wild = entry.family is Family.STRING_LIKE
                seg = segment(
                    atoms if wild else [(False, "".join(t for _, t in atoms))],
                    CharClass.NOT_COLON,
                    lower,
                )
                got.tests.append((label_of(entry), account_test(kind, seg, lower)))
            elif key == "aws:username" and kind is CallerKind.USER:
                if entry.family is Family.ARN:
                    continue
                wild = entry.family is Family.STRING_LIKE
                seg = segment(
                    atoms if wild else [(False, "".join(t for _, t in atoms))],
                    CharClass.NOT_SLASH,
                    lower,
                )
                got.tests.append((label_of(entry), _last_name_test(kind, seg, None, lower)))
            elif key == "aws:userid" and kind is CallerKind.FEDERATED:
                if any(w for w, _ in atoms) or lower:
                    raise Undecidable(
                        f"{entry.operator} {entry.key} with a wildcard or in any case, in "
                        f"{entry.where}: the federated user's aws:userid (ACCOUNT:NAME) is not "
                        "enumerated that way"
                    )
                text = "".join(t for _, t in atoms)
                account, _, name = text.partition(":")
                arn = f"arn:aws:sts::{account}:federated-user/{name}"
                got.tests.append((label_of(entry), Test((literal_program(arn),))))
    for _policy, stmt in guard:
        pm = getattr(stmt, "principal", None)
        if pm is None:
            continue
        for account in pm.accounts:
            got.tests.append(("Principal account", account_test(kind, literal_program(account))))
        for arn in pm.arns:
            if arn.startswith("arn:aws:sts::") and ":assumed-role/" in arn:
                account = arn.split(":")[4]
                role, _, session = arn.split(":assumed-role/", 1)[1].partition("/")
                got.sessions.setdefault((account, role), set()).add(session)
                if kind is CallerKind.ROLE:
                    got.tests.append(
                        (
                            "Principal role session",
                            _last_name_test(
                                kind, literal_program(role), literal_program(account), False
                            ),
                        )
                    )
            else:
                got.tests.append(("Principal ARN", Test((literal_program(arn),))))
    return got
