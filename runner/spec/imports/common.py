"""What every import reads, whatever the source: principals, repositories, policies and
organization policies, each with the place in the source file it comes from.

Parsers (``terraform``, ``cloudformation``, ``authdetails``, ``orgpolicy``) are pure functions
from a file's name and text to an :class:`ImportResult`; they never raise for bad input but
collect located :class:`~runner.errors.Problem` s. The spec loader turns the result into
principals, resources and organization policies.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.errors import Problem
from runner.model import PolicyKind, PolicyPath, SourceLoc

__all__ = [
    "EntryProblem",
    "ImportKind",
    "ImportResult",
    "ImportedOrgPolicy",
    "ImportedPolicy",
    "ImportedPrincipal",
    "ImportedRepository",
    "PrincipalKind",
    "Settings",
    "unique_by_name",
]

#: Where each part of a policy document is in the source file.
Locate = Callable[[PolicyPath], SourceLoc]


class ImportKind(enum.StrEnum):
    """The sources an ``import`` entry can name, spelt as the entry's key."""

    TERRAFORM_PLAN = "terraform-plan"
    CLOUDFORMATION = "cloudformation"
    AUTHORIZATION_DETAILS = "authorization-details"
    ORGANIZATION_POLICY = "organization-policy"

    @property
    def label(self) -> str:
        return _IMPORT_LABELS[self]


_IMPORT_LABELS = {
    ImportKind.TERRAFORM_PLAN: "Terraform plan (`terraform show -json`)",
    ImportKind.CLOUDFORMATION: "CloudFormation template",
    ImportKind.AUTHORIZATION_DETAILS: "`aws iam get-account-authorization-details` output",
    ImportKind.ORGANIZATION_POLICY: "`aws organizations describe-policy` output",
}


class PrincipalKind(enum.StrEnum):
    USER = "user"
    ROLE = "role"


@dataclass(frozen=True, slots=True)
class Settings:
    """What the import entry says besides the file: the account and region that the source
    leaves to the deployment, and CloudFormation parameter values."""

    account: str | None = None
    region: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class ImportedPolicy:
    """A policy document as attached. ``aws_managed`` names a shipped AWS managed policy
    (``runner.policy.managed``), whose ``document`` is the shipped one; otherwise ``document``
    is the source's, and ``locate`` gives the place of each of its parts."""

    name: str
    loc: SourceLoc
    document: Mapping[str, Any]
    locate: Locate
    aws_managed: str | None = None
    #: the line of each statement, when the parser knows them without locating each (a
    #: document held in a JSON string is on one line of the file: a JSON string has no raw
    #: line break)
    statement_lines: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ImportedPrincipal:
    """An IAM user or role: ``name`` is its IAM name, ``arn`` its ARN (path included)."""

    name: str
    kind: PrincipalKind
    arn: str
    loc: SourceLoc
    policies: tuple[ImportedPolicy, ...] = ()
    boundary: ImportedPolicy | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class ImportedRepository:
    """An ECR repository: ``name`` is the repository name (it may contain ``/``)."""

    name: str
    arn: str
    loc: SourceLoc
    policy: ImportedPolicy | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class ImportedOrgPolicy:
    """An SCP or RCP (``kind``)."""

    kind: PolicyKind
    policy: ImportedPolicy


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """A problem with what the import entry says rather than with the file: a CloudFormation
    parameter the template does not have, or a value its constraints refuse. The reader knows
    only the name; the loader reports it at the entry's ``parameters:`` (at the value when
    ``at_value``, else at the name)."""

    parameter: str
    at_value: bool
    message: str


@dataclass(frozen=True, slots=True, eq=False)
class ImportResult:
    """Everything one import read, and every problem it found (empty when it is usable)."""

    file: str
    kind: ImportKind
    principals: tuple[ImportedPrincipal, ...] = ()
    repositories: tuple[ImportedRepository, ...] = ()
    organization_policies: tuple[ImportedOrgPolicy, ...] = ()
    #: accounts the source lists every principal of (``authorization-details``)
    closed_accounts: frozenset[str] = frozenset()
    problems: tuple[Problem, ...] = ()
    #: problems with the import entry's ``parameters`` (none: the result is usable)
    entry_problems: tuple[EntryProblem, ...] = ()
    #: what the import left out on purpose and the user should know (an SCP attached nowhere)
    warnings: tuple[Problem, ...] = ()


def unique_by_name(policies: list[ImportedPolicy]) -> tuple[ImportedPolicy, ...]:
    """Each policy once, in order (a policy attached twice, or through two groups, is
    attached)."""
    seen: set[str] = set()
    out: list[ImportedPolicy] = []
    for policy in policies:
        if policy.name not in seen:
            seen.add(policy.name)
            out.append(policy)
    return tuple(out)
