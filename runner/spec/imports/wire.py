"""The ``import:`` section of a spec: read each entry's file with its reader, compile what it
holds, and hand the loader principals, repositories, organization policies and closed accounts.

An entry is a mapping with one source key (``terraform-plan``, ``cloudformation``,
``authorization-details``, ``organization-policy``) naming a file relative to the spec (or
include) file, and optionally ``account``, ``region`` and, for CloudFormation, ``parameters``.
A file read by many specs is read and parsed once per process.

Imported users and roles are principals named after their IAM names, repositories resources
named after their repository names; a name defined twice (by two imports, or by an import and
the spec) is an error naming both places. A policy AWS would reject is reported inside the
imported file. AWS managed policies named in a spec's ``policies:``/``boundary:`` (by name or
ARN) are resolved here too (:func:`managed_reference`).

This module is what the loader sees (:class:`Imports`, :func:`read_imports`); the entries are
read by :mod:`runner.spec.imports.entries`, imported only for a load that has imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runner import model, words
from runner.policy import CompiledPolicy, managed
from runner.spec.includes import Places
from runner.spec.nodes import Definition, Reader, SourceFile
from runner.spec.yamlsafe import Node, excerpt

__all__ = ["Imports", "managed_reference", "read_imports"]

#: AWS managed policies that grant Amazon ECR actions and that the tool does not ship (their
#: documents are long and change often), named without their ARN: without this list the name
#: would be "unknown", as if misspelt.
_NOT_SHIPPED = frozenset(
    {
        "AdministratorAccess",
        "PowerUserAccess",
        "ReadOnlyAccess",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonECSTaskExecutionRolePolicy",
        "AmazonEC2ContainerServiceforEC2Role",
    }
)
#: How close (``difflib`` ratio, ignoring case) a name must be to a shipped policy's to be
#: taken as a misspelling of it: the shipped names are long, so a near miss is not another
#: policy's name.
_NEAR = 0.9


@dataclass(slots=True)
class Imports:
    """What the imports of one load define. ``origin`` says where each name comes from, for
    "defined twice" messages."""

    principals: dict[str, model.Principal | None] = field(default_factory=dict)
    resources: dict[str, model.Resource | None] = field(default_factory=dict)
    scps: list[CompiledPolicy] = field(default_factory=list)
    rcps: list[CompiledPolicy] = field(default_factory=list)
    closed_accounts: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    infos: list[model.PolicyInfo] = field(default_factory=list)
    origin: dict[tuple[str, str], str] = field(default_factory=dict)
    #: where the first import entry that brought SCPs or RCPs is
    organization_at: tuple[SourceFile, Node] | None = None


def read_imports(reader: Reader, places: Places, sections: list[Definition]) -> Imports:
    """Read every ``import:`` section (one per file that has one), problems reported; files
    outside the project are refused unread."""
    out = Imports()
    if sections:
        # here: a load without imports never needs the readers (runner.spec.imports.entries)
        from runner.spec.imports.entries import Importer

        importer = Importer(reader, places, out)
        for d in sections:
            importer.section(d)
    return out


def managed_reference(
    reader: Reader, f: SourceFile, node: Node, name: str, kind: model.PolicyKind
) -> tuple[bool, CompiledPolicy | None] | None:
    """A policy reference that names a shipped AWS managed policy (by name or ARN): (ok,
    compiled); None when ``name`` is not an AWS managed policy at all. An AWS managed policy
    ARN that is not shipped, or one attached where only customer policies go, is reported."""
    try:
        shipped = managed.lookup(name)
    except managed.NotShipped as exc:
        reader.error(f, node, str(exc))
        return False, None
    if shipped is None:
        return _not_shipped(reader, f, node, name) if kind in model.MANAGED_POLICY_KINDS else None
    if kind not in model.MANAGED_POLICY_KINDS:
        reader.error(
            f,
            node,
            f"{shipped.name} is an AWS managed policy: it is attached to users and roles (as "
            f"an identity policy or a permissions boundary), not as a {kind.long_label}",
        )
        return False, None
    return True, managed.compiled(shipped.name, kind)


def _not_shipped(
    reader: Reader, f: SourceFile, node: Node, name: str
) -> tuple[bool, CompiledPolicy | None] | None:
    """A plain name that is not a shipped AWS managed policy's: an AWS managed policy the tool
    does not ship, or one a letter away from a shipped one (``...Readonly``), is reported;
    None for any other name (the caller reports an unknown policy)."""
    if name in _NOT_SHIPPED:
        reader.error(
            f,
            node,
            f"{name} is an AWS managed policy this tool does not ship; copy its document into "
            "`policies:` (from `aws iam get-policy-version` or the AWS managed policy "
            "reference) under a name of its own and attach it by that name",
        )
        return False, None
    near = words.closest(name, managed.shipped(), cutoff=_NEAR)
    if near is None:
        return None
    reader.error(
        f,
        node,
        f"unknown policy {excerpt(name)}; did you mean the AWS managed policy {near}?"
        + (" (policy names are case-sensitive)" if near.lower() == name.lower() else ""),
    )
    return False, None
