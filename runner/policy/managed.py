"""AWS managed policies that grant Amazon ECR actions, shipped as package data.

The documents live in ``runner/data/aws-managed-policies.json``, each with the documentation
page it was transcribed from and the policy version and edit date that page shows. A policy is
named by its name (``AmazonEC2ContainerRegistryReadOnly``) or its ARN
(``arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly``, with the policy's path where
it has one: ``arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess``).
An AWS managed policy that is not shipped is an error (:class:`NotShipped`), never an empty
policy.

Statements about other services' actions (``cloudtrail:LookupEvents``, ``iam:...``) are kept as
AWS wrote them: the validator accepts them and they never match an ECR request.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from runner import words
from runner.model import PolicyKind
from runner.policy.compiled import CompiledPolicy
from runner.policy.grammar import compile_policy

__all__ = [
    "ManagedPolicy",
    "NotShipped",
    "compiled",
    "is_aws_managed_arn",
    "lookup",
    "shipped",
]

#: ``arn:aws:iam::aws:policy/PATH/NAME``: the ARNs of AWS managed policies ("IAM identifiers").
_AWS_POLICY_ARN = re.compile(
    r"^arn:aws:iam::aws:policy/(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]+)$"
)


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """One shipped AWS managed policy and where its text comes from."""

    name: str
    #: the IAM path, ``/`` or ``/service-role/`` and the like
    path: str
    document: Mapping[str, Any]
    #: the documentation page the document was transcribed from
    source: str
    #: the version the page shows, e.g. ``v3 (default)``
    version: str
    #: the page's "Edited time"
    edited: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::aws:policy{self.path}{self.name}"


class NotShipped(LookupError):
    """An AWS managed policy (by ARN) that this tool does not ship, or a shipped one named by
    a wrong ARN. ``str()`` is the message for the user."""


def is_aws_managed_arn(text: str) -> bool:
    """Whether ``text`` is the ARN of an AWS managed policy (shipped or not)."""
    return _AWS_POLICY_ARN.match(text) is not None


@functools.cache
def shipped() -> Mapping[str, ManagedPolicy]:
    """Every shipped policy by name."""
    from runner.package_data import read_text

    raw = json.loads(read_text("aws-managed-policies.json"))
    out: dict[str, ManagedPolicy] = {}
    for entry in raw["policies"]:
        policy = ManagedPolicy(
            name=entry["name"],
            path=entry["path"],
            document=entry["document"],
            source=entry["source"],
            version=entry["version"],
            edited=entry["edited"],
        )
        out[policy.name] = policy
    return MappingProxyType(out)


def lookup(ref: str) -> ManagedPolicy | None:
    """The shipped policy ``ref`` names (a name or an ARN); None for a name that is not a
    shipped policy's. Raises :class:`NotShipped` for an AWS managed policy ARN that is not
    shipped, or a shipped policy's name under another path."""
    table = shipped()
    m = _AWS_POLICY_ARN.match(ref)
    if m is None:
        return table.get(ref)
    policy = table.get(m["name"])
    if policy is None:
        hint = words.closest(m["name"], table)
        also = f" (did you mean {table[hint].arn}?)" if hint else ""
        raise NotShipped(
            f"{ref} is an AWS managed policy this tool does not ship{also}; copy its document "
            "into `policies:` (from `aws iam get-policy-version` or the AWS managed policy "
            "reference) and attach it by that name"
        )
    if policy.arn != ref:
        raise NotShipped(
            f"{ref} is not the ARN of the AWS managed policy {policy.name}: its ARN is {policy.arn}"
        )
    return policy


@functools.cache
def compiled(name: str, kind: PolicyKind) -> CompiledPolicy:
    """The shipped policy ``name`` compiled as ``kind`` (identity policy or boundary), once
    per run. Raises ``KeyError`` for a name that is not shipped."""
    policy = shipped()[name]
    return compile_policy(policy.document, kind, name=policy.name, file=policy.source)
