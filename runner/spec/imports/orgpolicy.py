"""``aws organizations describe-policy``: one SCP or RCP.

Shape: the AWS CLI reference page of ``describe-policy`` (AWS Organizations API
``DescribePolicy``): ``{"Policy": {"PolicySummary": {"Id", "Arn", "Name", "Type", ...},
"Content": "<the document as a JSON string>"}}``. ``Type`` is ``SERVICE_CONTROL_POLICY`` or
``RESOURCE_CONTROL_POLICY``; the other policy types (tag, backup, AI opt-out ...) do not
decide requests and are refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.errors import Problem
from runner.model import PolicyKind
from runner.spec.imports.common import (
    ImportedOrgPolicy,
    ImportedPolicy,
    ImportKind,
    ImportResult,
    Settings,
)
from runner.spec.imports.jsonpos import JsonProblem, parse_json

__all__ = ["parse_organization_policy"]

_KINDS = {
    "SERVICE_CONTROL_POLICY": PolicyKind.SCP,
    "RESOURCE_CONTROL_POLICY": PolicyKind.RCP,
}


def parse_organization_policy(
    display: str, text: str, settings: Settings | None = None
) -> ImportResult:
    """Read ``aws organizations describe-policy`` output (``text`` of ``display``)."""
    kind = ImportKind.ORGANIZATION_POLICY

    def fail(loc: object, message: str) -> ImportResult:
        assert loc is not None
        return ImportResult(display, kind, problems=(Problem(loc, message),))  # type: ignore[arg-type]

    try:
        doc = parse_json(display, text)
    except JsonProblem as exc:
        return fail(exc.loc, exc.message)
    root = doc.value
    policy = root.get("Policy") if isinstance(root, Mapping) else None
    if not isinstance(policy, Mapping):
        return fail(
            doc.loc(()),
            "not `aws organizations describe-policy` output: expected an object with Policy "
            "(PolicySummary and Content)",
        )
    summary = policy.get("PolicySummary")
    if not isinstance(summary, Mapping):
        return fail(doc.loc(("Policy",)), "expected Policy.PolicySummary (an object)")
    name = summary.get("Name")
    if not isinstance(name, str) or not name:
        return fail(doc.loc(("Policy", "PolicySummary")), "expected PolicySummary.Name")
    ptype = summary.get("Type")
    pkind = _KINDS.get(ptype) if isinstance(ptype, str) else None
    if pkind is None:
        return fail(
            doc.loc(("Policy", "PolicySummary", "Type")),
            f"policy {name}: Type {ptype!r} is not SERVICE_CONTROL_POLICY or "
            "RESOURCE_CONTROL_POLICY; only SCPs and RCPs decide requests",
        )
    content = policy.get("Content")
    where = ("Policy", "Content")
    if not isinstance(content, str) or not content.strip():
        return fail(doc.loc(where), f"policy {name}: expected Content (the document as a string)")
    try:
        inner = doc.embedded(where)
    except JsonProblem as exc:
        return fail(exc.loc, f"policy {name}: Content is {exc.message}")
    if not isinstance(inner.value, Mapping):
        return fail(doc.loc(where), f"policy {name}: Content must be a JSON object")
    loc = doc.loc(where)
    body = inner.value.get("Statement")
    lines = (loc.line,) * (len(body) if isinstance(body, list) else 1)
    imported = ImportedPolicy(name, loc, inner.value, inner.loc, statement_lines=lines)
    return ImportResult(display, kind, organization_policies=(ImportedOrgPolicy(pkind, imported),))
