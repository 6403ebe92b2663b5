"""CloudFormation templates (YAML with short-form tags, or JSON): the IAM users and roles,
ECR repositories and organization policies a template creates.

Shapes: the "AWS::ECR::Repository", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group",
"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::UserPolicy",
"AWS::IAM::GroupPolicy", "AWS::IAM::UserToGroupAddition" and "AWS::Organizations::Policy"
pages of the CloudFormation template reference, and its "Intrinsic function reference" and
"Pseudo parameters reference". ``Ref``, ``Fn::Sub``, ``Fn::GetAtt`` (names and ARNs of the
template's own resources), ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` with
``Conditions``, ``Fn::FindInMap`` and the pseudo parameters (from the import entry) are
resolved; anything else (a ``Transform``, a custom resource, a name CloudFormation generates
at deploy time, another intrinsic function) is an error at its line, never a guess.

Scalars are read as CloudFormation reads YAML 1.1: an unquoted ``2012-10-17`` is that text,
``yes``/``no`` are booleans, and an unquoted number that starts with 0 and has only the digits
0-7 is an *octal* number (``012345670123`` is 1402433619), reported as a warning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from runner.errors import Problem
from runner.model import PolicyKind, PolicyPath, SourceLoc
from runner.policy import managed
from runner.spec.imports.cfn_parameters import check_parameters
from runner.spec.imports.cfn_template import NO_VALUE, Bad, Template, V, plain
from runner.spec.imports.common import (
    ImportedOrgPolicy,
    ImportedPolicy,
    ImportedPrincipal,
    ImportedRepository,
    ImportKind,
    ImportResult,
    PrincipalKind,
    Settings,
    unique_by_name,
)
from runner.spec.yamlcheck import compose_text
from runner.spec.yamlsafe import MappingNode, Node, ScalarNode
from runner.words import TAGS_DIFFER_IN_CASE

__all__ = ["parse_template"]

_ORG_KINDS = {"SERVICE_CONTROL_POLICY": PolicyKind.SCP, "RESOURCE_CONTROL_POLICY": PolicyKind.RCP}


class _Reader(Template):
    """What the template creates: principals with their policies, repositories, SCPs."""

    def document(self, node: Node, name: str) -> ImportedPolicy:
        v = self.resolve(node)
        if isinstance(v.value, str):
            try:
                doc = json.loads(v.value)
            except ValueError as exc:
                raise self.fail(node, f"{name}: the policy is not valid JSON: {exc}") from None
            loc = self.loc(node)
            if not isinstance(doc, Mapping):
                raise self.fail(node, f"{name}: a policy document must be an object")
            return ImportedPolicy(name, loc, doc, lambda _p: loc)
        if not isinstance(v.value, dict):
            raise self.fail(node, f"{name}: expected a policy document (a mapping)")

        def locate(path: PolicyPath) -> SourceLoc:
            cur = v
            for part in path:
                nxt = None
                if isinstance(cur.value, dict) and isinstance(part, str):
                    nxt = cur.value.get(part)
                elif (
                    isinstance(cur.value, list) and isinstance(part, int) and part < len(cur.value)
                ):
                    nxt = cur.value[part]
                if nxt is None:
                    break
                cur = nxt
            return self.loc(cur.node)

        return ImportedPolicy(name, self.loc(node), plain(v), locate)

    def props(self, logical: str) -> MappingNode:
        node = self.get(self.resources[logical], "Properties")
        if node is None:
            return MappingNode(
                "tag:yaml.org,2002:map", [], self.resources[logical].start_mark, None
            )
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{logical}: Properties must be a mapping")
        return node

    def of_type(self, *types: str) -> list[str]:
        out = []
        for logical, res in self.resources.items():
            rtype = self.get(res, "Type")
            if isinstance(rtype, ScalarNode) and rtype.value in types:
                try:
                    if self.exists(logical):
                        out.append(logical)
                except Bad:
                    continue
        return out

    def names_list(self, props: MappingNode, key: str) -> list[str]:
        node = self.get(props, key)
        if node is None:
            return []
        v = self.resolve(node)
        if not isinstance(v.value, list):
            raise self.fail(node, f"{key} must be a list")
        return [self.string_of(x) for x in v.value]

    def inline_list(self, props: MappingNode, owner: str) -> list[ImportedPolicy]:
        node = self.get(props, "Policies")
        if node is None:
            return []
        v = self.resolve(node)
        if not isinstance(v.value, list):
            raise self.fail(node, "Policies must be a list")
        out = []
        for item in v.value:
            pname = item.value.get("PolicyName") if isinstance(item.value, dict) else None
            pdoc = self.get(item.node, "PolicyDocument")
            if pname is None or pdoc is None or not isinstance(pname.value, str):
                raise self.fail(
                    item.node, "each entry of Policies needs PolicyName and PolicyDocument"
                )
            out.append(self.document(pdoc, f"{owner}/{pname.value}"))
        return out

    def managed_arn(self, arn: str, at: Node) -> ImportedPolicy:
        loc = self.loc(at)
        if managed.is_aws_managed_arn(arn):
            try:
                shipped = managed.lookup(arn)
            except managed.NotShipped as exc:
                raise self.fail(at, str(exc)) from None
            assert shipped is not None
            return ImportedPolicy(
                shipped.name, loc, shipped.document, lambda _p: loc, aws_managed=shipped.name
            )
        for logical in self.of_type("AWS::IAM::ManagedPolicy"):
            if self.attribute(logical, "PolicyArn", at) == arn:
                props = self.props(logical)
                doc = self.get(props, "PolicyDocument")
                if doc is None:
                    raise self.fail(props, f"{logical}: expected PolicyDocument")
                return self.document(doc, self.physical_name(logical, "ManagedPolicyName", at))
        raise self.fail(
            at,
            f"managed policy {arn} is not created by this template, so its document is unknown",
        )

    def tags(self, props: MappingNode) -> dict[str, str]:
        node = self.get(props, "Tags")
        if node is None:
            return {}
        v = self.resolve(node)
        if not isinstance(v.value, list):
            raise self.fail(node, "Tags must be a list of Key/Value")
        out = {}
        seen: dict[str, V] = {}
        for item in v.value:
            if (
                not isinstance(item.value, dict)
                or "Key" not in item.value
                or "Value" not in item.value
            ):
                raise self.fail(item.node, "each tag needs Key and Value")
            key = self.string_of(item.value["Key"])
            first = seen.setdefault(key.lower(), item.value["Key"])
            if first is not item.value["Key"]:
                # IAM refuses tag keys that differ only in case (and a key given twice), and
                # aws:PrincipalTag/team ignores case: which value a policy saw would be a guess
                raise self.fail(
                    item.value["Key"].node,
                    f"tag key {key!r} is given twice (also {self.string_of(first)!r} on line "
                    f"{self.loc(first.node).line});"
                    f" {TAGS_DIFFER_IN_CASE}",
                )
            out[key] = self.string_of(item.value["Value"])
        return out

    def principals(self) -> list[ImportedPrincipal]:
        attached: dict[tuple[str, str], list[ImportedPolicy]] = {}
        members: dict[str, list[str]] = {}
        groups: dict[str, list[ImportedPolicy]] = {}
        for logical in self.of_type("AWS::IAM::Group"):
            try:
                props = self.props(logical)
                name = self.physical_name(logical, "GroupName", self.resources[logical])
                groups[name] = [
                    *self.inline_list(props, f"group {name}"),
                    *(
                        self.managed_arn(a, props)
                        for a in self.names_list(props, "ManagedPolicyArns")
                    ),
                ]
            except Bad:
                continue
        for logical in self.of_type("AWS::IAM::UserToGroupAddition"):
            try:
                props = self.props(logical)
                group = self.text(self.get(props, "GroupName") or props, "GroupName")
                for user in self.names_list(props, "Users"):
                    members.setdefault(user, []).append(group)
            except Bad:
                continue
        for logical in self.of_type("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            try:
                props = self.props(logical)
                rtype = self.get(self.resources[logical], "Type")
                assert isinstance(rtype, ScalarNode)
                doc_node = self.get(props, "PolicyDocument")
                if doc_node is None:
                    raise self.fail(props, f"{logical}: expected PolicyDocument")
                for key, kind in (("Roles", "role"), ("Users", "user"), ("Groups", "group")):
                    for target in self.names_list(props, key):
                        if rtype.value == "AWS::IAM::ManagedPolicy":
                            pname = self.physical_name(logical, "ManagedPolicyName", props)
                        else:
                            inline = self.text(self.get(props, "PolicyName") or props, "PolicyName")
                            pname = f"{target}/{inline}"
                        attached.setdefault((kind, target), []).append(
                            self.document(doc_node, pname)
                        )
            except Bad:
                continue
        for logical, kind, key in (
            ("AWS::IAM::RolePolicy", "role", "RoleName"),
            ("AWS::IAM::UserPolicy", "user", "UserName"),
            ("AWS::IAM::GroupPolicy", "group", "GroupName"),
        ):
            for lid in self.of_type(logical):
                try:
                    props = self.props(lid)
                    target = self.text(self.get(props, key) or props, key)
                    pname = self.text(self.get(props, "PolicyName") or props, "PolicyName")
                    doc_node = self.get(props, "PolicyDocument")
                    if doc_node is None:
                        raise self.fail(props, f"{lid}: expected PolicyDocument")
                    attached.setdefault((kind, target), []).append(
                        self.document(doc_node, f"{target}/{pname}")
                    )
                except Bad:
                    continue
        for (kind, name), pols in attached.items():
            if kind == "group":
                groups.setdefault(name, []).extend(pols)
        out: list[ImportedPrincipal] = []
        for type_name, pkind, name_prop in (
            ("AWS::IAM::Role", PrincipalKind.ROLE, "RoleName"),
            ("AWS::IAM::User", PrincipalKind.USER, "UserName"),
        ):
            for logical in self.of_type(type_name):
                try:
                    res = self.resources[logical]
                    props = self.props(logical)
                    name = self.physical_name(logical, name_prop, res)
                    arn = self.attribute(logical, "Arn", res)
                    policies = [
                        *self.inline_list(props, name),
                        *(
                            self.managed_arn(a, props)
                            for a in self.names_list(props, "ManagedPolicyArns")
                        ),
                        *attached.get((pkind.value, name), []),
                    ]
                    group_names = (
                        self.names_list(props, "Groups") if pkind is PrincipalKind.USER else []
                    )
                    for group in [*group_names, *members.get(name, [])]:
                        if group not in groups:
                            raise self.fail(
                                self.get(props, "Groups") or res,
                                f"user {name} is in group {group!r}, which this template does not "
                                "create, so its policies are unknown",
                            )
                        policies.extend(groups[group])
                    boundary_node = self.get(props, "PermissionsBoundary")
                    boundary = None
                    if boundary_node is not None:
                        resolved = self.resolve(boundary_node)
                        if resolved.value is not NO_VALUE:
                            boundary = self.managed_arn(
                                self.text(boundary_node, "a policy ARN"), boundary_node
                            )
                    unique = unique_by_name(policies)
                    out.append(
                        ImportedPrincipal(
                            name,
                            pkind,
                            arn,
                            self.loc(res),
                            tuple(unique),
                            boundary,
                            self.tags(props),
                        )
                    )
                except Bad:
                    continue
        return out

    def repositories(self) -> list[ImportedRepository]:
        out = []
        for logical in self.of_type("AWS::ECR::Repository"):
            try:
                res = self.resources[logical]
                props = self.props(logical)
                name = self.physical_name(logical, "RepositoryName", res)
                arn = self.attribute(logical, "Arn", res)
                policy_node = self.get(props, "RepositoryPolicyText")
                policy = None
                if policy_node is not None:
                    policy = self.document(policy_node, f"{name} repository policy")
                out.append(ImportedRepository(name, arn, self.loc(res), policy, self.tags(props)))
            except Bad:
                continue
        return out

    def organization_policies(self) -> list[ImportedOrgPolicy]:
        out = []
        for logical in self.of_type("AWS::Organizations::Policy"):
            try:
                props = self.props(logical)
                name = self.text(self.get(props, "Name") or props, "Name")
                ptype = self.text(self.get(props, "Type") or props, "Type")
                kind = _ORG_KINDS.get(ptype)
                if kind is None:
                    continue
                content = self.get(props, "Content")
                if content is None:
                    raise self.fail(props, f"{logical}: expected Content")
                targets = self.get(props, "TargetIds")
                ids = self.text_or_list(targets) if targets is not None else []
                ids = ids if isinstance(ids, list) else [ids]
                if not ids:
                    self.warnings.append(
                        Problem(
                            self.loc(props),
                            f"{logical}: not imported: it has no TargetIds, so it is attached "
                            "to nothing",
                        )
                    )
                    continue
                assert targets is not None
                not_root = [t for t in ids if not (isinstance(t, str) and t.startswith("r-"))]
                if not_root:
                    # the spec's organization applies its policies to every member account,
                    # as an attachment at the root does; an OU or an account gets only some
                    raise self.fail(
                        targets,
                        f"{logical}: TargetIds names {not_root[0]!r}, an organizational unit "
                        "or an account; the tool applies SCPs and RCPs to every member "
                        "account of the organization, so it imports only policies attached at "
                        "the root (r-...); write this organization's policies in the spec's "
                        "organization instead",
                    )
                out.append(ImportedOrgPolicy(kind, self.document(content, name)))
            except Bad:
                continue
        return out


def parse_template(display: str, text: str, settings: Settings | None = None) -> ImportResult:
    """Read a CloudFormation template (``text`` of ``display``, YAML or JSON)."""
    kind = ImportKind.CLOUDFORMATION
    composed = compose_text(text, custom_tags=True)
    if composed.problems or composed.root is None:
        problems = tuple(
            Problem(SourceLoc(display, p.line, p.col), p.message) for p in composed.problems
        ) or (Problem(SourceLoc(display, 1, 1), "the template is empty"),)
        return ImportResult(display, kind, problems=problems)
    if not isinstance(composed.root, MappingNode):
        return ImportResult(
            display,
            kind,
            problems=(Problem(SourceLoc(display, 1, 1), "a template is a mapping with Resources"),),
        )
    try:
        return _read(display, composed.root, settings or Settings())
    except RecursionError:
        # a guard, not a path: condition chains are bounded (MAX_CONDITION_DEPTH) and YAML
        # nesting by the composer
        return ImportResult(
            display,
            kind,
            problems=(
                Problem(
                    SourceLoc(display, 1, 1),
                    "the template's values refer to each other too deeply to be read",
                ),
            ),
        )


def _read(display: str, root: MappingNode, settings: Settings) -> ImportResult:
    kind = ImportKind.CLOUDFORMATION
    tpl = _Reader(display, root, settings)
    entry_problems = check_parameters(tpl)
    if entry_problems or tpl.problems:
        # the stack would not be created: what it holds with other values would mislead
        return ImportResult(
            display,
            kind,
            problems=tuple(tpl.problems),
            entry_problems=tuple(entry_problems),
            warnings=tuple(dict.fromkeys(tpl.warnings)),
        )
    tpl.read_resources()
    if tpl.problems:
        return ImportResult(
            display, kind, problems=tuple(tpl.problems), warnings=tuple(tpl.warnings)
        )
    principals = tpl.principals()
    repositories = tpl.repositories()
    org = tpl.organization_policies()
    return ImportResult(
        display,
        kind,
        principals=tuple(principals),
        repositories=tuple(repositories),
        organization_policies=tuple(org),
        problems=tuple(dict.fromkeys(tpl.problems)),
        warnings=tuple(dict.fromkeys(tpl.warnings)),
    )
