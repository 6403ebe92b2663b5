"""Request context a case must settle before its checks can be decided exactly.

- A key given several values must not meet a statement that compares one value (AWS does not
  say how that evaluates).
- A key that AWS puts in every request of a principal, but whose value the tool cannot know
  (``aws:userid`` of an IAM user is an opaque unique ID), must come from the context when a
  statement about the case's actions reads it: without it the engine would answer as if the
  key were missing, which it never is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runner import model
from runner.policy import CompiledPolicy
from runner.spec.includes import Definitions
from runner.spec.nodes import Reader, SourceFile
from runner.spec.yamlsafe import Node, ScalarNode, excerpt

__all__ = ["KeyChecks", "case_policies"]

#: Keys that AWS puts in every request of a kind of principal, with values the tool cannot know
#: ("AWS global condition context keys": aws:userid, aws:PrincipalAccount and aws:PrincipalType
#: are "included in the request context for all requests"; "Policy variables", principal key
#: values: aws:userid of a user is its unique ID, of a role session ROLE-ID:SESSION-NAME).
#: Lowercased key -> (what its value is, an example).
_UNKNOWABLE: dict[model.PrincipalType, dict[str, tuple[str, str]]] = {
    model.PrincipalType.USER: {
        "aws:userid": ("the user's unique ID", "AIDAJQABLZS4A3QDU576Q"),
    },
    model.PrincipalType.ROLE_SESSION: {
        "aws:userid": (
            "the role's unique ID and the session name",
            "AROADBQP57FF2AEXAMPLE:session-name",
        ),
    },
    model.PrincipalType.SERVICE: {
        "aws:userid": ("not documented for service principals", "..."),
        "aws:principalaccount": ("not documented for service principals", "..."),
        "aws:principaltype": ("not documented for service principals", "..."),
    },
}
_KEY_NAMES = {
    "aws:userid": "aws:userid",
    "aws:principalaccount": "aws:PrincipalAccount",
    "aws:principaltype": "aws:PrincipalType",
}

_MULTIVALUED_DOC = (
    "AWS documents only ForAllValues: and ForAnyValue: for a key with several values "
    '("Multivalued context keys require a condition set operator")'
)


def case_policies(
    principals: Sequence[model.Principal],
    resources: Sequence[model.Resource | None],
    organization: model.Organization | None,
) -> list[CompiledPolicy]:
    """Every policy that takes part in some check of a case, each once."""
    policies: dict[int, CompiledPolicy] = {}
    for p in principals:
        for pol in (*p.policies, p.boundary, p.session_policy):
            if pol is not None:
                policies.setdefault(id(pol), pol)
    for r in resources:
        if r is not None and r.policy is not None:
            policies.setdefault(id(r.policy), r.policy)
    if organization is not None:
        for pol in (*organization.scps, *organization.rcps):
            policies.setdefault(id(pol), pol)
    return list(policies.values())


class KeyChecks:
    """The context checks of the cases of one spec file. A file-level context key is
    reported once, not once per case."""

    def __init__(self, reader: Reader, defs: Definitions) -> None:
        self.reader = reader
        self.defs = defs
        self._reported: set[str] = set()

    def unknowable_keys(
        self,
        f: SourceFile,
        node: Node,
        context: Mapping[str, tuple[str, ...]],
        principals: Sequence[model.Principal],
        resources: Sequence[model.Resource | None],
        organization: model.Organization | None,
        steps: set[str],
    ) -> bool:
        """False (after reporting at the case ``node``) when a statement about the case's
        ``steps`` reads a key whose value the tool cannot know for one of its principals and
        the case's ``context`` does not give it."""
        given = {k.lower() for k in context}
        ok = True
        for p in principals:
            unknown = {k: v for k, v in _UNKNOWABLE.get(p.type, {}).items() if k not in given}
            if not unknown:
                continue
            for pol in case_policies([p], resources, organization):
                if pol.keys.isdisjoint(unknown):
                    continue
                hits = [
                    (stmt, key)
                    for stmt in pol.statements_for(steps)
                    for key in sorted(stmt.keys & unknown.keys())
                ]
                if hits:
                    stmt, key = hits[0]
                    what, example = unknown[key]
                    self.reader.error(
                        f,
                        node,
                        f"statement {stmt.label} of policy {excerpt(pol.name)} reads "
                        f"{_KEY_NAMES[key]}, "
                        f"which AWS puts in every request of {excerpt(p.name)} but whose value is "
                        f"{what}, which the tool cannot know; give it in this case's context "
                        f"(for example {_KEY_NAMES[key]}: {example})",
                    )
                    ok = False
                    break
        return ok

    def single_valued_keys(
        self,
        f: SourceFile,
        context: Mapping[str, tuple[str, ...]],
        own_nodes: Mapping[str, ScalarNode],
        principals: Sequence[model.Principal],
        resources: Sequence[model.Resource | None],
        organization: model.Organization | None,
        steps: set[str],
    ) -> bool:
        """A context key given several values must not meet a statement about the case's
        actions that tests it with a single-valued operator: AWS does not say how that
        evaluates, so the spec is refused rather than answered by a guess. False when a
        problem was recorded (at the case's own key in ``own_nodes``, else at the file's)."""
        multi = [(k, v) for k, v in context.items() if len(v) > 1]
        if not multi:
            return True
        policies = case_policies(principals, resources, organization)
        ok = True
        for key, values in multi:
            for pol in policies:
                hit = pol.single_valued_test(key, steps)
                if hit is None:
                    continue
                stmt, operator = hit
                message = (
                    f"context key {excerpt(key)} has {len(values)} values, but statement "
                    f"{stmt.label} of policy {excerpt(pol.name)} tests it with {operator}, which "
                    "compares one value; "
                    f"{_MULTIVALUED_DOC}. Give {key} one value here, or test it with "
                    f"ForAnyValue:{operator} or ForAllValues:{operator}"
                )
                own = own_nodes.get(key.lower())
                if own is not None:
                    self.reader.error(f, own, message)
                elif key.lower() not in self._reported:
                    self._reported.add(key.lower())
                    entry = self.defs.context[key.lower()]
                    self.reader.error(entry.definition.file, entry.node, message)
                ok = False
                break
        return ok
