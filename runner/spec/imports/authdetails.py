"""``aws iam get-account-authorization-details``: every user and role of an account, with the
policies AWS attaches to them.

Shape: the AWS CLI reference page of ``get-account-authorization-details`` (and the IAM API's
``GetAccountAuthorizationDetails``): ``UserDetailList`` (``UserPolicyList``, ``GroupList``,
``AttachedManagedPolicies``, ``PermissionsBoundary``, ``Tags``), ``GroupDetailList``
(``GroupPolicyList``, ``AttachedManagedPolicies``), ``RoleDetailList`` (``RolePolicyList``,
``AttachedManagedPolicies``, ``PermissionsBoundary``, ``Tags``, ``Path``) and ``Policies``
(``PolicyVersionList`` with ``IsDefaultVersion``). The API returns documents URL-encoded
(RFC 3986); the CLI decodes them into objects; both, and JSON strings, are read.

A user's policies are its inline and attached policies and those of its groups. A managed
policy is taken from ``Policies`` (its default version); an AWS managed policy not listed
there comes from the shipped set (``runner.policy.managed``) or is an error. The snapshot lists
every principal of its account, so the account is closed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from runner.errors import Problem
from runner.model import PolicyPath, SourceLoc
from runner.policy import managed
from runner.spec.imports.common import (
    ImportedPolicy,
    ImportedPrincipal,
    ImportKind,
    ImportResult,
    PrincipalKind,
    Settings,
    unique_by_name,
)
from runner.spec.imports.jsonpos import JsonProblem, JsonText, parse_json
from runner.words import TAGS_DIFFER_IN_CASE

__all__ = ["parse_authorization_details"]

_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


class _Bad(Exception):
    """A value that cannot be read; already reported."""


class _Snapshot:
    def __init__(self, doc: JsonText) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.managed: dict[str, PolicyPath] = {}
        self.groups: dict[str, PolicyPath] = {}
        self.accounts: set[str] = set()

    def err(self, path: PolicyPath, message: str) -> None:
        self.problems.append(Problem(self.doc.loc(path), message))

    def get(self, path: PolicyPath) -> Any:
        value: Any = self.doc.value
        for part in path:
            if isinstance(part, int):
                value = value[part] if isinstance(value, list) and part < len(value) else None
            else:
                value = value.get(part) if isinstance(value, Mapping) else None
        return value

    def text(self, path: PolicyPath, what: str) -> str:
        value = self.get(path)
        if not isinstance(value, str) or not value:
            self.err(path, f"expected {what} (a string)")
            raise _Bad
        return value

    def items(self, path: PolicyPath) -> range:
        value = self.get(path)
        if value is None:
            return range(0)
        if not isinstance(value, list):
            self.err(path, "expected a list")
            return range(0)
        return range(len(value))

    def account_of(self, arn: str) -> None:
        parts = arn.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            self.accounts.add(parts[4])

    # -- documents

    def document(self, path: PolicyPath, name: str) -> ImportedPolicy:
        value = self.get(path)
        loc = self.doc.loc(path)
        if isinstance(value, Mapping):
            doc = self.doc

            def locate(p: PolicyPath) -> SourceLoc:
                return doc.loc((*path, *p))

            return ImportedPolicy(name, loc, value, locate)
        if not isinstance(value, str) or not value.strip():
            self.err(path, f"{name}: expected a policy document (an object or a string)")
            raise _Bad
        url_encoded = not value.lstrip().startswith("{")
        try:
            inner = self.doc.embedded(path, url_encoded=url_encoded)
        except ValueError as exc:  # JsonProblem, or bad percent-encoding / UTF-8
            if isinstance(exc, JsonProblem):
                self.problems.append(Problem(exc.loc, f"{name}: the document is {exc.message}"))
            else:
                self.err(path, f"{name}: not a URL-encoded policy document: {exc}")
            raise _Bad from None
        if not isinstance(inner.value, Mapping):
            self.err(path, f"{name}: a policy document must be a JSON object")
            raise _Bad
        body = inner.value.get("Statement")
        lines = (loc.line,) * (len(body) if isinstance(body, list) else 1)
        return ImportedPolicy(name, loc, inner.value, inner.loc, statement_lines=lines)

    def managed_policy(self, path: PolicyPath) -> ImportedPolicy:
        """The policy an ``AttachedManagedPolicies`` entry or a ``PermissionsBoundary`` names."""
        key = "PermissionsBoundaryArn" if path[-1] == "PermissionsBoundary" else "PolicyArn"
        arn = self.text((*path, key), "a policy ARN")
        listed = self.managed.get(arn)
        if listed is not None:
            return self.default_version(listed)
        where = self.doc.loc((*path, key))
        if managed.is_aws_managed_arn(arn):
            try:
                shipped = managed.lookup(arn)
            except managed.NotShipped as exc:
                self.problems.append(
                    Problem(
                        where,
                        f"{exc} (this snapshot does not list it in Policies: take the snapshot "
                        "without --filter, or with AWSManagedPolicy)",
                    )
                )
                raise _Bad from None
            assert shipped is not None
            return ImportedPolicy(
                shipped.name, where, shipped.document, lambda _p: where, aws_managed=shipped.name
            )
        self.problems.append(
            Problem(
                where,
                f"managed policy {arn} is not in this snapshot's Policies, so its document is "
                "unknown; take the snapshot without --filter (or with LocalManagedPolicy)",
            )
        )
        raise _Bad

    def default_version(self, path: PolicyPath) -> ImportedPolicy:
        """The document of the policy's default version: the one version with
        IsDefaultVersion true, which DefaultVersionId (when given) names."""
        name = self.text((*path, "PolicyName"), "a policy name")
        defaults = [
            (*path, "PolicyVersionList", i)
            for i in self.items((*path, "PolicyVersionList"))
            if self.get((*path, "PolicyVersionList", i, "IsDefaultVersion")) is True
        ]
        if len(defaults) > 1:
            self.err(
                (*defaults[1], "IsDefaultVersion"),
                f"policy {name}: two versions of PolicyVersionList "
                f"({self.get((*defaults[0], 'VersionId'))!r} and "
                f"{self.get((*defaults[1], 'VersionId'))!r}) have IsDefaultVersion true, but a "
                "policy has one default version, so the document AWS applies is unknown",
            )
            raise _Bad
        if not defaults:
            self.err(
                path,
                f"policy {name}: no version in PolicyVersionList has IsDefaultVersion true, so "
                "the document AWS applies is unknown",
            )
            raise _Bad
        named = self.get((*path, "DefaultVersionId"))
        if named is not None and named != self.get((*defaults[0], "VersionId")):
            listed = [
                self.get((*path, "PolicyVersionList", i, "VersionId"))
                for i in self.items((*path, "PolicyVersionList"))
            ]
            self.err(
                (*path, "DefaultVersionId"),
                f"policy {name}: DefaultVersionId {named!r} "
                + (
                    f"is not the version with IsDefaultVersion true "
                    f"({self.get((*defaults[0], 'VersionId'))!r})"
                    if named in listed
                    else "names no version of PolicyVersionList"
                )
                + ", so the document AWS applies is unknown",
            )
            raise _Bad
        return self.document((*defaults[0], "Document"), name)

    def inline(self, path: PolicyPath, owner: str) -> list[ImportedPolicy]:
        out = []
        for i in self.items(path):
            name = self.text((*path, i, "PolicyName"), "a policy name")
            out.append(self.document((*path, i, "PolicyDocument"), f"{owner}/{name}"))
        return out

    def attached(self, path: PolicyPath) -> list[ImportedPolicy]:
        out: list[ImportedPolicy] = []
        failed = False
        for i in self.items(path):
            try:
                out.append(self.managed_policy((*path, i)))
            except _Bad:
                failed = True
        if failed:
            raise _Bad
        return out

    def tags(self, path: PolicyPath) -> dict[str, str]:
        out: dict[str, str] = {}
        seen: dict[str, int] = {}
        for i in self.items(path):
            key = self.text((*path, i, "Key"), "a tag key")
            first = seen.setdefault(key.lower(), i)
            if first != i:
                # IAM refuses tag keys that differ only in case (and a key given twice), and
                # aws:PrincipalTag/team ignores case: which value a policy saw would be a guess
                other = self.get((*path, first, "Key"))
                self.err(
                    (*path, i, "Key"),
                    f"tag key {key!r} is given twice (also {other!r} on line "
                    f"{self.doc.loc((*path, first, 'Key')).line});"
                    f" {TAGS_DIFFER_IN_CASE}",
                )
                raise _Bad
            value = self.get((*path, i, "Value"))
            if not isinstance(value, str):
                self.err((*path, i, "Value"), f"tag {key!r}: expected a value (a string)")
                raise _Bad
            out[key] = value
        return out

    # -- entities

    def read(self) -> list[ImportedPrincipal]:
        root = self.doc.value
        if not isinstance(root, Mapping) or not any(k in root for k in _LISTS):
            self.err(
                (),
                "not `aws iam get-account-authorization-details` output: expected an object "
                "with UserDetailList, GroupDetailList, RoleDetailList and Policies",
            )
            return []
        if root.get("IsTruncated") is True:
            self.err(
                ("IsTruncated",),
                "this snapshot is truncated (IsTruncated is true): it does not list every "
                "principal; take it with the AWS CLI, which reads every page",
            )
            return []
        for i in self.items(("Policies",)):
            try:
                arn = self.text(("Policies", i, "Arn"), "the policy's ARN")
            except _Bad:
                continue
            self.managed[arn] = ("Policies", i)
        for i in self.items(("GroupDetailList",)):
            try:
                self.groups[self.text(("GroupDetailList", i, "GroupName"), "a group name")] = (
                    "GroupDetailList",
                    i,
                )
            except _Bad:
                continue
        out: list[ImportedPrincipal] = []
        for key, kind, name_key, inline_key in (
            ("UserDetailList", PrincipalKind.USER, "UserName", "UserPolicyList"),
            ("RoleDetailList", PrincipalKind.ROLE, "RoleName", "RolePolicyList"),
        ):
            for i in self.items((key,)):
                try:
                    out.append(self.principal((key, i), kind, name_key, inline_key))
                except _Bad:
                    continue
        return out

    def principal(
        self, path: PolicyPath, kind: PrincipalKind, name_key: str, inline_key: str
    ) -> ImportedPrincipal:
        name = self.text((*path, name_key), f"the {kind.value}'s name")
        arn = self.text((*path, "Arn"), f"the {kind.value}'s ARN")
        resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
        if not resource.startswith(f"{kind.value}/") or resource.rsplit("/", 1)[1] != name:
            # the name is what cases use, the ARN what policies see: they must be one principal
            self.err(
                (*path, "Arn"),
                f"the Arn {arn} does not name the {kind.value} {name!r} of {name_key}: the "
                f"ARN of an IAM {kind.value} is arn:aws:iam::ACCOUNT:{kind.value}/[PATH/]{name}",
            )
            raise _Bad
        self.account_of(arn)
        policies: list[ImportedPolicy] = []
        failed = False
        parts: list[Callable[[], list[ImportedPolicy]]] = [
            lambda: self.inline((*path, inline_key), name),
            lambda: self.attached((*path, "AttachedManagedPolicies")),
        ]
        for k in self.items((*path, "GroupList")):
            parts.append(functools.partial(self.group_policies, (*path, "GroupList", k)))
        for part in parts:
            try:
                policies.extend(part())
            except _Bad:
                failed = True
        boundary = None
        try:
            if self.get((*path, "PermissionsBoundary")) is not None:
                boundary = self.managed_policy((*path, "PermissionsBoundary"))
            tags = self.tags((*path, "Tags"))
        except _Bad:
            failed = True
        if failed:
            raise _Bad
        return ImportedPrincipal(
            name,
            kind,
            arn,
            self.doc.loc((*path, name_key)),
            unique_by_name(policies),
            boundary,
            tags,
        )

    def group_policies(self, path: PolicyPath) -> list[ImportedPolicy]:
        group = self.text(path, "a group name")
        where = self.groups.get(group)
        if where is None:
            self.err(
                path,
                f"group {group!r} is not in GroupDetailList, so its policies are unknown; take "
                "the snapshot without --filter (or with Group)",
            )
            raise _Bad
        return [
            *self.inline((*where, "GroupPolicyList"), f"group {group}"),
            *self.attached((*where, "AttachedManagedPolicies")),
        ]


def parse_authorization_details(
    display: str, text: str, settings: Settings | None = None
) -> ImportResult:
    """Read ``aws iam get-account-authorization-details`` output (``text`` of ``display``)."""
    kind = ImportKind.AUTHORIZATION_DETAILS
    try:
        doc = parse_json(display, text)
    except JsonProblem as exc:
        return ImportResult(display, kind, problems=(Problem(exc.loc, exc.message),))
    snap = _Snapshot(doc)
    principals = snap.read()
    if settings is not None and settings.account is not None:
        stray = sorted(snap.accounts - {settings.account})
        if stray:
            snap.err(
                (),
                f"this snapshot holds principals of account {stray[0]}, not of "
                f"{settings.account} as the import entry says",
            )
        else:
            snap.accounts.add(settings.account)
    if not snap.accounts and not snap.problems:
        snap.err(
            (),
            "this snapshot names no user or role, so the account it describes is unknown; "
            "give `account:` in the import entry",
        )
    if len(snap.accounts) > 1 and not snap.problems:
        snap.err(
            (),
            "this snapshot holds principals of several accounts: "
            + ", ".join(sorted(snap.accounts)),
        )
    if snap.problems:
        return ImportResult(display, kind, problems=tuple(snap.problems))
    return ImportResult(
        display, kind, principals=tuple(principals), closed_accounts=frozenset(snap.accounts)
    )
