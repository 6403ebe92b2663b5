"""Policy grammar checks and compilation: every problem is reported, never only the first.

``compile_policy`` validates a document for the place it is attached (its ``PolicyKind``) and
compiles it once: actions to sets of catalog actions, resources to regexes or templates,
principals to sets, conditions through ``conditions.compile_conditions``. The engine trusts
what comes out of here.

Grammar sources: "IAM JSON policy element reference", "IAM JSON policy elements: Principal /
NotPrincipal", "Amazon ECR private repository policies", AWS Organizations "SCP syntax" and
"RCP syntax".
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from runner import catalog
from runner.model import PolicyInvalid, PolicyKind, PolicyPath, PolicyProblem
from runner.policy.conditions import CompiledConditions, compile_conditions
from runner.policy.matching import ActionMatcher, PrincipalMatcher, ResourceMatcher
from runner.policy.variables import (
    Matcher,
    Template,
    TemplateError,
    compile_template,
    wildcard_regex,
)

__all__ = [
    "FULL_AWS_ACCESS",
    "RCP_FULL_AWS_ACCESS",
    "CompiledPolicy",
    "CompiledStatement",
    "PolicyInvalid",
    "PolicyProblem",
    "compile_policy",
]

VERSIONS = ("2012-10-17", "2008-10-17")
#: Every catalog action, for indexing statements by the actions they cover.
_ALL_ACTIONS = frozenset(catalog.ACTIONS)
_TOP_KEYS = ("Version", "Id", "Statement")
_STATEMENT_KEYS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_PRINCIPAL_KEYS = ("AWS", "Service", "Federated", "CanonicalUser")

_ACCOUNT_ID = re.compile(r"^\d{12}$")
#: A policy variable (not the escapes ${*}, ${?}, ${$}, which stand for a character).
_VARIABLE = re.compile(r"\$\{(?![*?$]\})[^}]*\}")
#: The policies of IAM itself (Sid: letters and digits only, "IAM JSON policy elements: Sid").
_IAM_KINDS = frozenset({PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION})


class RepeatedKey(ValueError):
    """A JSON object of a policy document names the same key twice (``key``)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"the key {key!r} appears twice in one JSON object; AWS rejects a policy that "
            'repeats an element (IAM policy grammar: "Individual elements must not contain '
            'multiple instances of the same key")'
        )
        self.key = key


def unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``object_pairs_hook`` for policy JSON: Python keeps the last of two equal keys, AWS
    rejects the document ("Grammar of the IAM JSON policy language": "Individual elements
    must not contain multiple instances of the same key")."""
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise RepeatedKey(key)
        out[key] = value
    return out


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
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?$")
_ACTION_TEXT = re.compile(r"^(?P<service>[A-Za-z0-9-]+):(?P<name>[A-Za-z0-9*?]+)$")
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")

_KIND_NAMES = {
    PolicyKind.IDENTITY: "an identity-based policy",
    PolicyKind.BOUNDARY: "a permissions boundary",
    PolicyKind.SESSION: "a session policy",
    PolicyKind.SCP: "a service control policy (SCP)",
    PolicyKind.RCP: "a resource control policy (RCP)",
    PolicyKind.RESOURCE: "a repository policy",
}
_NO_PRINCIPAL_WHY = {
    PolicyKind.IDENTITY: (
        "identity-based policies must not contain {key}: the policy is attached to a user, "
        "group or role, which is the implicit principal; {key} belongs in resource-based "
        "policies such as a repository policy"
    ),
    PolicyKind.BOUNDARY: (
        "a permissions boundary must not contain {key}: it is attached to a user or role, "
        "which is the implicit principal; {key} belongs in resource-based policies such as a "
        "repository policy"
    ),
    PolicyKind.SESSION: (
        "a session policy must not contain {key}: it applies to the session it is passed to; "
        "{key} belongs in resource-based policies such as a repository policy"
    ),
    PolicyKind.SCP: (
        "a service control policy must not contain {key}: an SCP applies to the principals "
        'of the accounts it is attached to (AWS Organizations "SCP syntax")'
    ),
}


@dataclass(frozen=True, slots=True, eq=False)
class CompiledStatement:
    """One validated statement. ``resource`` is None in a repository policy (the statement
    applies to the repository it is attached to); ``principal`` is None where the principal is
    implicit (identity-side policies and SCPs); ``conditions`` is None without conditions."""

    index: int
    sid: str | None
    effect: str
    line: int | None
    action: ActionMatcher
    resource: ResourceMatcher | None
    principal: PrincipalMatcher | None
    conditions: CompiledConditions | None
    path: PolicyPath
    #: the condition keys the statement reads, lowercased: in its Condition block and in the
    #: policy variables of its Resource / NotResource / condition values
    keys: frozenset[str] = frozenset()

    @property
    def is_deny(self) -> bool:
        return self.effect == "Deny"

    @property
    def label(self) -> str:
        return self.sid if self.sid else f"#{self.index}"


@dataclass(frozen=True, slots=True, eq=False)
class CompiledPolicy:
    """A validated policy, compiled once. ``by_action`` maps each catalog action to the
    statements whose Action/NotAction covers it (in document order); compare by identity."""

    name: str
    kind: PolicyKind
    file: str | None
    line: int | None
    version: str
    statements: tuple[CompiledStatement, ...]
    by_action: Mapping[str, tuple[CompiledStatement, ...]] = field(repr=False)
    #: every condition key its statements read (CompiledStatement.keys), lowercased
    keys: frozenset[str] = frozenset()

    def for_action(self, action: str) -> tuple[CompiledStatement, ...]:
        return self.by_action.get(action, ())

    def statements_for(self, actions: Iterable[str]) -> list[CompiledStatement]:
        """The statements about any of ``actions``, each once, in document order."""
        about = {id(st) for action in actions for st in self.for_action(action)}
        return [st for st in self.statements if id(st) in about]

    def single_valued_test(
        self, key: str, actions: Iterable[str]
    ) -> tuple[CompiledStatement, str] | None:
        """The first statement about one of ``actions`` (and its operator) that tests condition
        ``key`` (any case) without ForAllValues:/ForAnyValue:, or None."""
        wanted = key.lower()
        if wanted not in self.keys:
            return None
        for stmt in self.statements_for(actions):
            if stmt.conditions is not None:
                for operator, tested in stmt.conditions.single_valued():
                    if tested.lower() == wanted:
                        return stmt, operator
        return None


def _closest(word: str, choices: Sequence[str]) -> str | None:
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[hits[0]] if hits else None


def _unknown_key(key: str, choices: Sequence[str], what: str) -> str:
    best = _closest(key, choices)
    if best is not None:
        return f"unknown {what} {key!r}; did you mean {best!r}?"
    return f"unknown {what} {key!r}; expected one of " + ", ".join(choices)


class _Compiler:
    def __init__(self, kind: PolicyKind, version: str, internal: bool) -> None:
        self.kind = kind
        self.version = version
        self.internal = internal
        self.problems: list[PolicyProblem] = []

    def problem(self, path: PolicyPath, message: str) -> None:
        self.problems.append(PolicyProblem(path, message))

    # -- element values ---------------------------------------------------------------------

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
                        f"each {element} value must be a non-empty string, not {_show(item)}",
                    )
            return out if ok else None
        self.problem(path, f"{element} must be a string or a list of strings, not {_show(value)}")
        return None

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
                if "*" in text or "?" in text:
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

    def resource_arn(self, text: str, where: PolicyPath) -> bool:
        """Checks a Resource value's ARN shape; True when it is usable."""
        if text == "*":
            return True
        # A variable counts as one opaque character here, so the colon of ${aws:...} does not
        # split the ARN.
        masked = _VARIABLE.sub("\0", text) if self.version == "2012-10-17" else text
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
        partition, service = parts[1], parts[2]
        if partition not in _PARTITIONS and not _has_wildcard(partition):
            self.problem(where, f"{text!r}: unknown partition {partition!r} (expected aws)")
            return False
        if not service or _has_wildcard(service) or "$" in service:
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

    def principals(self, value: object, path: PolicyPath, key: str) -> PrincipalMatcher | None:
        negated = key == "NotPrincipal"
        if value == "*":
            return PrincipalMatcher(("*",), True, frozenset(), frozenset(), frozenset(), negated)
        if not isinstance(value, Mapping):
            self.problem(
                path,
                f'{key} must be "*" or an object such as {{"AWS": "arn:aws:iam::'
                f'111122223333:root"}} or {{"Service": "codebuild.amazonaws.com"}}, '
                f"not {_show(value)}",
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
                self.problem(where, _unknown_key(str(ptype), _PRINCIPAL_KEYS, "principal type"))
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
                    if not _SERVICE_NAME.match(text):
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
                elif _has_wildcard(text):
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

    # -- statements -----------------------------------------------------------------------

    def statement(
        self, raw: Mapping[object, object], path: PolicyPath, index: int, line: int | None
    ) -> CompiledStatement | None:
        start = len(self.problems)
        kind = self.kind
        for key in raw:
            if key not in _STATEMENT_KEYS:
                self.problem((*path, str(key)), _unknown_key(str(key), _STATEMENT_KEYS, "element"))

        sid = raw.get("Sid")
        if sid is not None and not isinstance(sid, str):
            self.problem((*path, "Sid"), f"Sid must be a string, not {_show(sid)}")
            sid = None
        elif sid and kind in _IAM_KINDS and not (sid.isascii() and sid.isalnum()):
            self.problem(
                (*path, "Sid"),
                f"Sid {sid!r} may contain only the letters A-Z and a-z and the digits 0-9 "
                f'in {_KIND_NAMES[kind]} ("IAM JSON policy elements: Sid")',
            )

        effect = raw.get("Effect")
        if effect is None:
            self.problem(path, 'a statement needs "Effect": "Allow" or "Deny"')
        elif effect not in ("Allow", "Deny"):
            hint = " (case matters)" if str(effect).lower() in ("allow", "deny") else ""
            self.problem(
                (*path, "Effect"),
                f'Effect must be exactly "Allow" or "Deny"{hint}, not {_show(effect)}',
            )
        elif effect == "Allow" and kind is PolicyKind.RCP and not self.internal:
            self.problem(
                (*path, "Effect"),
                'RCP statements must use "Effect": "Deny": Allow is reserved for '
                'RCPFullAWSAccess, which AWS always attaches (AWS Organizations "RCP syntax")',
            )

        action: ActionMatcher | None = None
        if "Action" in raw and "NotAction" in raw:
            self.problem(
                (*path, "NotAction"), "a statement has either Action or NotAction, not both"
            )
        elif "Action" not in raw and "NotAction" not in raw:
            self.problem(path, "a statement needs Action or NotAction")
        elif "NotAction" in raw and kind is PolicyKind.RCP:
            self.problem(
                (*path, "NotAction"),
                "RCPs do not support NotAction; list the actions in Action "
                '(AWS Organizations "RCP syntax")',
            )
        elif (
            kind is PolicyKind.RCP
            and not self.internal
            and "*" in (raw["Action"] if isinstance(raw["Action"], list) else [raw["Action"]])
        ):
            self.problem(
                (*path, "Action"),
                'an RCP cannot use "*" as an action: name the service, such as "ecr:*" '
                '(AWS Organizations "RCP syntax")',
            )
        else:
            key = "Action" if "Action" in raw else "NotAction"
            action = self.actions(raw[key], (*path, key), key)

        resource: ResourceMatcher | None = None
        if kind is PolicyKind.RESOURCE:
            for key in ("Resource", "NotResource"):
                if key in raw:
                    self.problem(
                        (*path, key),
                        f"a repository policy has no {key} element: each statement applies to "
                        f"the repository the policy is attached to (Amazon ECR rejects {key} "
                        "in repository policies)",
                    )
        elif "Resource" in raw and "NotResource" in raw:
            self.problem(
                (*path, "NotResource"),
                "a statement has either Resource or NotResource, not both",
            )
        elif "Resource" not in raw and "NotResource" not in raw:
            self.problem(
                path,
                f"a statement of {_KIND_NAMES[kind]} needs Resource or NotResource "
                '("Resource": "*" for every resource)',
            )
        else:
            key = "Resource" if "Resource" in raw else "NotResource"
            resource = self.resources(raw[key], (*path, key), key)

        principal: PrincipalMatcher | None = None
        has_p, has_np = "Principal" in raw, "NotPrincipal" in raw
        if kind in _NO_PRINCIPAL_WHY:
            for key in ("Principal", "NotPrincipal"):
                if key in raw:
                    self.problem((*path, key), _NO_PRINCIPAL_WHY[kind].format(key=key))
        elif kind is PolicyKind.RCP:
            if has_np:
                self.problem(
                    (*path, "NotPrincipal"),
                    'RCPs do not support NotPrincipal; use "Principal": "*" with a '
                    'condition on aws:PrincipalArn (AWS Organizations "RCP syntax")',
                )
            if not has_p:
                if not has_np:
                    self.problem(path, 'an RCP statement needs "Principal": "*"')
            elif raw["Principal"] != "*":
                self.problem(
                    (*path, "Principal"),
                    'RCP statements must have "Principal": "*"; narrow who they apply to '
                    "with conditions such as aws:PrincipalOrgID or aws:PrincipalArn "
                    '(AWS Organizations "RCP syntax")',
                )
            else:
                principal = self.principals("*", (*path, "Principal"), "Principal")
        elif has_p and has_np:
            self.problem(
                (*path, "NotPrincipal"),
                "a statement has either Principal or NotPrincipal, not both",
            )
        elif not has_p and not has_np:
            self.problem(
                path,
                "a repository policy statement needs Principal or NotPrincipal: it says who "
                "the statement applies to",
            )
        else:
            key = "Principal" if has_p else "NotPrincipal"
            if key == "NotPrincipal" and effect == "Allow":
                self.problem(
                    (*path, "NotPrincipal"),
                    'NotPrincipal is only valid with "Effect": "Deny" (an Allow with '
                    "NotPrincipal would grant access to everyone not listed)",
                )
            else:
                principal = self.principals(raw[key], (*path, key), key)

        conditions: CompiledConditions | None = None
        if "Condition" in raw:
            compiled, cproblems = compile_conditions(
                raw["Condition"], version=self.version, path=(*path, "Condition")
            )
            self.problems.extend(cproblems)
            if not cproblems and not compiled.empty:
                conditions = compiled

        if len(self.problems) > start or action is None:
            return None
        if effect not in ("Allow", "Deny"):
            return None
        return CompiledStatement(
            index=index,
            sid=sid if isinstance(sid, str) else None,
            effect=str(effect),
            line=line,
            action=action,
            resource=resource,
            principal=principal,
            conditions=conditions,
            path=path,
            keys=self.keys_read(raw),
        )

    def keys_read(self, raw: Mapping[object, object]) -> frozenset[str]:
        """The lowercased condition keys a (valid) statement reads."""
        keys: set[str] = set()
        block = raw.get("Condition")
        if isinstance(block, Mapping):
            for body in block.values():
                if isinstance(body, Mapping):
                    keys.update(str(k).lower() for k in body)
        if self.version == "2012-10-17":
            values: list[object] = [raw.get("Resource"), raw.get("NotResource")]
            if isinstance(block, Mapping):
                values += [
                    v for body in block.values() if isinstance(body, Mapping) for v in body.values()
                ]
            for value in values:
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str) and "${" in text:
                        try:
                            tpl = compile_template(text, version=self.version)
                        except TemplateError:
                            continue
                        keys.update(k.lower() for k in tpl.variable_keys)
        return frozenset(keys)


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def _show(value: object) -> str:
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


def _statement_line(lines: Sequence[int] | Mapping[int, int] | None, index: int) -> int | None:
    if lines is None:
        return None
    if isinstance(lines, Mapping):
        return lines.get(index)
    return lines[index] if 0 <= index < len(lines) else None


def _version(value: object) -> str | None:
    if isinstance(value, str) and value in VERSIONS:
        return value
    # YAML reads an unquoted 2012-10-17 as a date; it still names the version unambiguously.
    if isinstance(value, datetime.date) and value.isoformat() in VERSIONS:
        return value.isoformat()
    return None


#: The largest policy of each kind AWS accepts, in characters without white space
#: ("IAM and AWS STS quotas": managed policies 6,144, inline policies at most 10,240, "IAM
#: doesn't count white space"; AssumeRole: session policies 2,048; AWS Organizations quotas:
#: SCPs 5,120, where every character counts, so the compact JSON is the least they can be).
_MAX_CHARS = {
    PolicyKind.IDENTITY: (10_240, "an identity policy (10,240 for the largest inline one)"),
    PolicyKind.BOUNDARY: (6_144, "a permissions boundary (a managed policy: 6,144)"),
    PolicyKind.SESSION: (2_048, "a session policy (2,048)"),
    PolicyKind.SCP: (5_120, "an SCP (5,120)"),
}
_NOT_LATIN1 = re.compile(r"[^\t\n\r\x20-\xff]")


def _check_text(doc: Mapping[str, object], kind: PolicyKind, comp: _Compiler) -> None:
    """Characters and size, for the kinds whose limits AWS documents."""
    limit = _MAX_CHARS.get(kind)
    if kind not in _IAM_KINDS and limit is None:
        return
    # json escapes control characters (\u0001, \b, \f): any escape, like any character past
    # U+00FF, sends the search below through the document to find where it is
    compact = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str)
    if kind in _IAM_KINDS and (_NOT_LATIN1.search(compact) or "\\" in compact):
        # "Policy documents can contain only the following Unicode characters: horizontal tab
        # (U+0009), linefeed (U+000A), carriage return (U+000D), and characters in the range
        # U+0020 to U+00FF" ("IAM and AWS STS quotas")
        for where, text in _texts(doc, ()):
            bad = _NOT_LATIN1.search(text)
            if bad is not None:
                comp.problem(
                    where,
                    f"{text!r} contains {bad.group()!r} (U+{ord(bad.group()):04X}); IAM policy "
                    "documents may contain only tab, line feed, carriage return and the "
                    'characters U+0020 to U+00FF ("IAM and AWS STS quotas")',
                )
                break
    if limit is not None:
        size = len(compact)
        if kind is not PolicyKind.SCP:  # for SCPs every character counts
            size -= sum(map(compact.count, " \t\n\r"))
        if size > limit[0]:
            comp.problem(
                (),
                f"this policy has {size:,} characters"
                f"{'' if kind is PolicyKind.SCP else ' without white space'}, more than AWS "
                f"accepts in {limit[1]}",
            )


def _texts(value: object, path: PolicyPath) -> Iterator[tuple[PolicyPath, str]]:
    """Every key and string in a JSON document, with where it is."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*path, key), key
            yield from _texts(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _texts(item, (*path, i))


def compile_policy(
    document: Mapping[str, object] | str,
    kind: PolicyKind,
    *,
    name: str,
    file: str | None = None,
    line: int | None = None,
    statement_lines: Sequence[int] | Mapping[int, int] | None = None,
) -> CompiledPolicy:
    """Validate ``document`` (a mapping or JSON text) as a policy of ``kind`` and compile it.

    Raises :class:`PolicyInvalid` listing every problem, each with its path in the document.
    ``file``, ``line`` and ``statement_lines`` (the line of statement *i*) only feed
    explanations.
    """
    return _compile(document, kind, name, file, line, statement_lines, internal=False)


def _compile(
    document: Mapping[str, object] | str,
    kind: PolicyKind,
    name: str,
    file: str | None,
    line: int | None,
    statement_lines: Sequence[int] | Mapping[int, int] | None,
    *,
    internal: bool,
) -> CompiledPolicy:
    doc: object = document
    if isinstance(document, str):
        try:
            doc = json.loads(document, object_pairs_hook=unique_keys)
        except RepeatedKey as exc:
            raise PolicyInvalid([PolicyProblem((), str(exc))]) from None
        except json.JSONDecodeError as exc:
            raise PolicyInvalid(
                [
                    PolicyProblem(
                        (), f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                    )
                ]
            ) from None
        except ValueError as exc:  # an integer too long for Python to convert
            raise PolicyInvalid([PolicyProblem((), f"not valid JSON: {exc}")]) from None
        except RecursionError:
            raise PolicyInvalid([PolicyProblem((), "the JSON is nested too deeply")]) from None
    if not isinstance(doc, Mapping):
        raise PolicyInvalid(
            [
                PolicyProblem(
                    (),
                    "a policy document must be a JSON object with Version and Statement, "
                    f"not {_show(doc)}",
                )
            ]
        )

    version_raw = doc.get("Version")
    version = _version(version_raw) if "Version" in doc else "2008-10-17"
    comp = _Compiler(kind, version or "2012-10-17", internal)
    for key in doc:
        if key not in _TOP_KEYS:
            comp.problem((str(key),), _unknown_key(str(key), _TOP_KEYS, "policy element"))
    if "Version" in doc and version is None:
        comp.problem(
            ("Version",),
            f'Version must be "2012-10-17" or "2008-10-17", not {_show(version_raw)}',
        )
    if kind in (PolicyKind.RCP, PolicyKind.SCP) and (
        "Version" not in doc or version == "2008-10-17"
    ):
        short, page = (
            ("an RCP", "RCP syntax") if kind is PolicyKind.RCP else ("an SCP", "SCP syntax")
        )
        comp.problem(
            ("Version",) if "Version" in doc else (),
            f'{short} needs "Version": "2012-10-17" (AWS Organizations "{page}")',
        )
    if not internal:
        _check_text(doc, kind, comp)
    if "Id" in doc:
        if kind is not PolicyKind.RESOURCE:
            comp.problem(
                ("Id",),
                f"{_KIND_NAMES[kind]} must not contain Id (Id belongs in resource-based policies)",
            )
        elif not isinstance(doc["Id"], str):
            comp.problem(("Id",), f"Id must be a string, not {_show(doc['Id'])}")

    raw_statements: list[tuple[PolicyPath, int, object]] = []
    if "Statement" not in doc:
        comp.problem((), "a policy needs a Statement (one statement object or a list of them)")
    else:
        body = doc["Statement"]
        if isinstance(body, Mapping):
            raw_statements.append((("Statement",), 0, body))
        elif isinstance(body, list):
            if not body:
                comp.problem(("Statement",), "Statement must not be an empty list")
            raw_statements.extend((("Statement", i), i, s) for i, s in enumerate(body))
        else:
            comp.problem(
                ("Statement",),
                f"Statement must be an object or a list of objects, not {_show(body)}",
            )

    statements: list[CompiledStatement] = []
    sids: dict[str, int] = {}
    for path, index, raw in raw_statements:
        if not isinstance(raw, Mapping):
            comp.problem(path, f"a statement must be an object, not {_show(raw)}")
            continue
        sid = raw.get("Sid")
        if isinstance(sid, str) and kind is not PolicyKind.RESOURCE:
            if sid in sids:
                comp.problem(
                    (*path, "Sid"),
                    f"duplicate Sid {sid!r} (also statement {sids[sid]}); Sids must be unique "
                    "within a policy",
                )
            sids.setdefault(sid, index)
        stmt = comp.statement(raw, path, index, _statement_line(statement_lines, index))
        if stmt is not None:
            statements.append(stmt)

    if comp.problems:
        raise PolicyInvalid(comp.problems)
    hits: dict[str, list[CompiledStatement]] = {}
    for stmt in statements:
        for action in stmt.action.covered(_ALL_ACTIONS):
            hits.setdefault(action, []).append(stmt)
    by_action = {a: tuple(hits[a]) for a in catalog.ACTIONS if a in hits}
    return CompiledPolicy(
        name=name,
        kind=kind,
        file=file,
        line=line,
        version=version or "2012-10-17",
        statements=tuple(statements),
        by_action=MappingProxyType(by_action),
        keys=frozenset().union(*(st.keys for st in statements)),
    )


#: The predefined ``FullAWSAccess`` SCP (AWS Organizations "Service control policies").
FULL_AWS_ACCESS: CompiledPolicy = _compile(
    {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}},
    PolicyKind.SCP,
    "FullAWSAccess",
    None,
    None,
    None,
    internal=True,
)

#: ``RCPFullAWSAccess``, which AWS attaches to every account once RCPs are enabled and which
#: cannot be detached (AWS Organizations "Resource control policies (RCPs)").
RCP_FULL_AWS_ACCESS: CompiledPolicy = _compile(
    {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
    },
    PolicyKind.RCP,
    "RCPFullAWSAccess",
    None,
    None,
    None,
    internal=True,
)
