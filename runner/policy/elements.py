"""The values of the Action, Resource and Principal elements: checked and compiled to matchers.

:class:`ElementReader` collects every problem it finds (a :class:`~runner.model.PolicyProblem`
at its path in the document) instead of stopping at the first; each method returns the
compiled matcher, or None when the value had a problem. :mod:`runner.policy.grammar` decides
which elements a statement may have; this module reads what they hold.

Sources: "IAM JSON policy elements: Action / Resource / Principal", "IAM identifiers" (ARN
shapes), "Policy variables" (where a variable may stand in an ARN).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from runner import catalog, words
from runner.model import SERVICE_PRINCIPAL, PolicyKind, PolicyPath, PolicyProblem
from runner.policy.compiled import PolicyVersion
from runner.policy.matching import ActionMatcher, PrincipalMatcher, ResourceMatcher
from runner.policy.variables import Template, TemplateError, compile_template, wildcard_regex
from runner.wildcards import Matcher

__all__ = ["ElementReader", "has_wildcard", "show", "unknown_key"]

_PRINCIPAL_KEYS = ("AWS", "Service", "Federated", "CanonicalUser")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
#: A policy variable (not the escapes ${*}, ${?}, ${$}, which stand for a character).
_VARIABLE = re.compile(r"\$\{(?![*?$]\})[^}]*\}")
_NAME = r"[\w+=,.@-]+"
_PRINCIPAL_ARNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^arn:aws:iam::(?P<account>\d{12}):root$"), "root"),
    (re.compile(rf"^arn:aws:iam::(?P<account>\d{{12}}):user/(?:{_NAME}/)*{_NAME}$"), "user"),
    (re.compile(rf"^arn:aws:iam::(?P<account>\d{{12}}):role/(?:{_NAME}/)*{_NAME}$"), "role"),
    (
        re.compile(rf"^arn:aws:sts::(?P<account>\d{{12}}):assumed-role/{_NAME}/{_NAME}$"),
        "session",
    ),
    (re.compile(rf"^arn:aws:sts::(?P<account>\d{{12}}):federated-user/{_NAME}$"), "federated"),
)
_ACTION_TEXT = re.compile(r"^(?P<service>[A-Za-z0-9-]+):(?P<name>[A-Za-z0-9*?]+)$")
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def show(value: object) -> str:
    """A document value as messages name it: strings quoted, other JSON types by kind."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if value is None:
        return "null"
    return type(value).__name__


def unknown_key(key: str, choices: Sequence[str], what: str) -> str:
    """``unknown WHAT 'key'`` with the closest choice, or every choice when none is close."""
    best = words.closest(key, choices, cutoff=words.LOOSE)
    if best is not None:
        return f"unknown {what} {key!r}; did you mean {best!r}?"
    return f"unknown {what} {key!r}; expected one of " + ", ".join(choices)


class ElementReader:
    """Reads element values of a policy of ``kind`` written in language ``version``."""

    def __init__(self, kind: PolicyKind, version: PolicyVersion) -> None:
        self.kind = kind
        self.version = version
        self.problems: list[PolicyProblem] = []

    def problem(self, path: PolicyPath, message: str) -> None:
        self.problems.append(PolicyProblem(path, message))

    def strings(self, value: object, path: PolicyPath, element: str) -> list[str] | None:
        """A string or a non-empty list of strings, else a problem and None."""
        if isinstance(value, str):
            if not value:
                self.problem(path, f"{element} must not be an empty string")
                return None
            return [value]
        if isinstance(value, list):
            if not value:
                self.problem(path, f"{element} must not be an empty list")
                return None
            out: list[str] = []
            ok = True
            for i, item in enumerate(value):
                if isinstance(item, str) and item:
                    out.append(item)
                else:
                    ok = False
                    self.problem(
                        (*path, i),
                        f"each {element} value must be a non-empty string, not {show(item)}",
                    )
            return out if ok else None
        self.problem(path, f"{element} must be a string or a list of strings, not {show(value)}")
        return None

    # -- Action / NotAction -----------------------------------------------------------------

    def actions(self, value: object, path: PolicyPath, key: str) -> ActionMatcher | None:
        texts = self.strings(value, path, key)
        if texts is None:
            return None
        covered: set[str] = set()
        ok = True
        for i, text in enumerate(texts):
            where = (*path, i) if isinstance(value, list) else path
            if text == "*":
                covered.update(catalog.ACTIONS)
                continue
            m = _ACTION_TEXT.match(text)
            if not m:
                ok = False
                self.problem(
                    where,
                    f"{text!r} is not an action: expected SERVICE:ACTION such as "
                    'ecr:BatchGetImage, a pattern such as ecr:Describe*, or "*"',
                )
                continue
            if m["service"].lower() != "ecr":
                continue  # another service's action never matches an ECR request
            try:
                covered.update(catalog.resolve_action(text))
            except catalog.UnknownAction as exc:
                ok = False
                if has_wildcard(text):
                    self.problem(
                        where,
                        f"{text!r} matches no Amazon ECR action, so this entry can never "
                        "apply (a typo?)",
                    )
                else:
                    self.problem(where, str(exc))
        if not ok:
            return None
        return ActionMatcher(tuple(texts), frozenset(covered), key == "NotAction")

    # -- Resource / NotResource -------------------------------------------------------------

    def resource_arn(self, text: str, where: PolicyPath) -> bool:
        """Checks a Resource value's ARN shape; True when it is usable."""
        if text == "*":
            return True
        # A variable counts as one opaque character here, so the colon of ${aws:...} does not
        # split the ARN.
        masked = _VARIABLE.sub("\0", text) if self.version is PolicyVersion.V2012 else text
        parts = masked.split(":", 5)
        if any("\0" in part for part in parts[:5]):
            self.problem(
                where,
                f"{text!r}: a policy variable can stand only in the resource part of an ARN, "
                'after the fifth colon ("Policy variables": "You can\'t use a variable to '
                'replace parts of the ARN before the fifth colon, such as the service or account")',
            )
            return False
        if parts[0] != "arn" or len(parts) < 4:
            self.problem(
                where,
                f'{text!r} is not a resource ARN: expected "*" or '
                "arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
            )
            return False
        if len(parts) < 6 and not any(part.endswith("*") for part in parts):
            # Only a * that ends a segment expands beyond the colons ("IAM JSON policy
            # elements: Resource"), so arn:aws:ecr:* is every ECR resource; without one, fewer
            # than six parts match no request, and a deny check would pass without testing
            # anything
            self.problem(
                where,
                f'{text!r} is not a resource ARN: expected "*" or '
                f"arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (six parts separated by colons; "
                f"this has {len(parts)}, so it would match no resource)",
            )
            return False
        partition, service = parts[1], parts[2]
        if partition not in _PARTITIONS and not has_wildcard(partition):
            self.problem(where, f"{text!r}: unknown partition {partition!r} (expected aws)")
            return False
        if not service or has_wildcard(service) or "$" in service:
            self.problem(
                where,
                f"{text!r}: the service part of a resource ARN must be written out "
                "(no wildcards or variables)",
            )
            return False
        if service.lower() == "ecr" and len(parts) == 6:
            region, account, rest = parts[3], parts[4], parts[5]
            dynamic = ("*", "?", "$", "\0")
            if region and not _REGION.match(region) and not any(c in region for c in dynamic):
                self.problem(where, f"{text!r}: {region!r} is not an AWS Region")
                return False
            if not _ACCOUNT_ID.match(account) and not any(c in account for c in dynamic):
                self.problem(where, f"{text!r}: {account!r} is not a 12-digit account ID")
                return False
            if not rest.startswith("repository/") and not any(
                c in rest.split("/", 1)[0] for c in dynamic
            ):
                self.problem(
                    where,
                    f"{text!r}: an Amazon ECR resource is repository/NAME "
                    "(arn:aws:ecr:REGION:ACCOUNT:repository/NAME)",
                )
                return False
        return True

    def resources(self, value: object, path: PolicyPath, key: str) -> ResourceMatcher | None:
        texts = self.strings(value, path, key)
        if texts is None:
            return None
        ok = True
        static: list[Matcher] = []
        dynamic: list[Template] = []
        for i, text in enumerate(texts):
            where = (*path, i) if isinstance(value, list) else path
            if not self.resource_arn(text, where):
                ok = False
                continue
            try:
                tpl = compile_template(text, version=self.version)
            except TemplateError as exc:
                ok = False
                self.problem(where, str(exc))
                continue
            if tpl.has_variables:
                dynamic.append(tpl)
            elif text != "*":
                static.append(wildcard_regex(text, resource=True))
        if not ok:
            return None
        return ResourceMatcher(
            texts=tuple(texts),
            any_resource="*" in texts,
            static=tuple(static),
            dynamic=tuple(dynamic),
            negated=key == "NotResource",
        )

    # -- Principal / NotPrincipal -----------------------------------------------------------

    def principals(self, value: object, path: PolicyPath, key: str) -> PrincipalMatcher | None:
        negated = key == "NotPrincipal"
        if value == "*":
            return PrincipalMatcher(("*",), True, frozenset(), frozenset(), frozenset(), negated)
        if not isinstance(value, Mapping):
            self.problem(
                path,
                f'{key} must be "*" or an object such as {{"AWS": "arn:aws:iam::'
                f'111122223333:root"}} or {{"Service": "codebuild.amazonaws.com"}}, '
                f"not {show(value)}",
            )
            return None
        if not value:
            self.problem(path, f"{key} must not be an empty object")
            return None
        ok = True
        texts: list[str] = []
        everyone = False
        accounts: set[str] = set()
        arns: set[str] = set()
        services: set[str] = set()
        for ptype, entries in value.items():
            where = (*path, ptype)
            if ptype not in _PRINCIPAL_KEYS:
                ok = False
                self.problem(where, unknown_key(str(ptype), _PRINCIPAL_KEYS, "principal type"))
                continue
            if ptype == "Federated":
                ok = False
                self.problem(
                    where,
                    "Federated principals (SAML and web identity providers) are not supported: "
                    "they belong in role trust policies; a federated identity calls ECR as a "
                    "role session, which you name by its role or assumed-role ARN",
                )
                continue
            if ptype == "CanonicalUser":
                ok = False
                self.problem(
                    where,
                    "CanonicalUser principals (Amazon S3 canonical user IDs) are not supported "
                    "in Amazon ECR repository policies; name the account or an IAM ARN instead",
                )
                continue
            if isinstance(entries, int) and not isinstance(entries, bool):
                ok = False
                self.problem(
                    where,
                    f'account ID {entries} must be a string: write "{entries:012d}" in quotes '
                    "(a number loses leading zeros)",
                )
                continue
            items = self.strings(entries, where, f"{key}.{ptype}")
            if items is None:
                ok = False
                continue
            for i, text in enumerate(items):
                at = (*where, i) if isinstance(entries, list) else where
                texts.append(text if ptype == "AWS" else f"{ptype}:{text}")
                if ptype == "Service":
                    if not SERVICE_PRINCIPAL.match(text):
                        ok = False
                        self.problem(
                            at,
                            f"{text!r} is not a service principal: expected a name such as "
                            "codebuild.amazonaws.com (no wildcards)",
                        )
                    else:
                        services.add(text)
                    continue
                if text == "*":
                    everyone = True
                elif _ACCOUNT_ID.match(text):
                    accounts.add(text)
                elif has_wildcard(text):
                    ok = False
                    self.problem(
                        at,
                        f'wildcards are not allowed in a principal ARN ({text!r}): use "*" '
                        'alone for everyone, or narrow "*" with a condition such as ArnLike '
                        "on aws:PrincipalArn",
                    )
                else:
                    kind = _principal_arn_kind(text)
                    if kind is None:
                        ok = False
                        self.problem(at, _bad_principal_message(text))
                    elif kind[0] == "root":
                        accounts.add(kind[1])
                    else:
                        arns.add(text)
        if not ok:
            return None
        return PrincipalMatcher(
            tuple(texts),
            everyone,
            frozenset(accounts),
            frozenset(arns),
            frozenset(services),
            negated,
        )


def _principal_arn_kind(text: str) -> tuple[str, str] | None:
    for rx, kind in _PRINCIPAL_ARNS:
        m = rx.match(text)
        if m:
            return kind, m["account"]
    return None


def _bad_principal_message(text: str) -> str:
    parts = text.split(":")
    if len(parts) > 1 and parts[0] == "arn" and parts[1] != "aws":
        return f"{text!r}: only the aws partition is supported"
    return (
        f'{text!r} is not a valid AWS principal: expected "*", an account ID (12 digits), '
        "arn:aws:iam::ACCOUNT:root, or a user, role, assumed-role session or federated-user ARN"
    )
