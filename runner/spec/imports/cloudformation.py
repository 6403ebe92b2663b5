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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import Problem
from runner.model import PolicyKind, PolicyPath, SourceLoc
from runner.policy import managed
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
from runner.spec.yamlsafe import (
    BOOL,
    FLOAT,
    INT,
    NULL,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    compose_text,
)

__all__ = ["parse_template"]

_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_ORG_KINDS = {"SERVICE_CONTROL_POLICY": PolicyKind.SCP, "RESOURCE_CONTROL_POLICY": PolicyKind.RCP}
_SHORT = {"!Ref": "Ref", "!Condition": "Condition"}
_NO_VALUE = object()


class _Bad(Exception):
    """An unresolvable value; already reported."""


@dataclass(slots=True)
class _V:
    """A resolved value and the node it came from. ``value`` is a str, bool, None, a list of
    _V or a dict of str to _V."""

    value: Any
    node: Node


def _plain(v: _V) -> Any:
    if isinstance(v.value, dict):
        return {k: _plain(x) for k, x in v.value.items()}
    if isinstance(v.value, list):
        return [_plain(x) for x in v.value]
    return v.value


class _Template:
    def __init__(self, display: str, root: MappingNode, settings: Settings) -> None:
        self.display = display
        self.settings = settings
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.top = {k.value: v for k, v in root.value}
        self.top_keys = {k.value: k for k, _v in root.value}
        self.resources: dict[str, MappingNode] = {}
        self.conditions: dict[str, bool | None] = {}
        self.names: dict[str, str] = {}

    # -- reporting

    def loc(self, node: Node) -> SourceLoc:
        return SourceLoc(self.display, node.start_mark.line + 1, node.start_mark.column + 1)

    def err(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.loc(node), message))

    def fail(self, node: Node, message: str) -> _Bad:
        self.err(node, message)
        return _Bad()

    # -- structure

    @staticmethod
    def get(node: Node | None, key: str) -> Node | None:
        if isinstance(node, MappingNode):
            for k, v in node.value:
                if k.value == key:
                    found: Node = v
                    return found
        return None

    def read_resources(self) -> None:
        if "Transform" in self.top:
            self.err(
                self.top_keys["Transform"],
                "a template with a Transform (macros, AWS::Serverless, ...) is rewritten by "
                "CloudFormation before it is deployed, so what it creates is not written here; "
                "import the processed template (`aws cloudformation get-template "
                "--template-stage Processed`)",
            )
            return
        body = self.top.get("Resources")
        if not isinstance(body, MappingNode):
            where = self.top_keys.get("Resources")
            self.err(
                where if where is not None else next(iter(self.top_keys.values())),
                "not a CloudFormation template: expected Resources (a mapping of logical IDs "
                "to resources)",
            )
            return
        for key, res in body.value:
            rtype = self.get(res, "Type")
            if not isinstance(rtype, ScalarNode):
                self.err(key, f"resource {key.value}: expected Type")
                continue
            if rtype.value.startswith("Custom::") or rtype.value == (
                "AWS::CloudFormation::CustomResource"
            ):
                self.err(
                    rtype,
                    f"resource {key.value} is a custom resource ({rtype.value}): what it "
                    "creates is decided by its code at deploy time, not by the template",
                )
                continue
            assert isinstance(res, MappingNode)
            self.resources[key.value] = res

    def exists(self, logical: str) -> bool:
        cond = self.get(self.resources[logical], "Condition")
        if cond is None:
            return True
        if not isinstance(cond, ScalarNode):
            raise self.fail(cond, f"resource {logical}: Condition must be a condition name")
        return self.condition(cond.value, cond)

    def condition(self, name: str, at: Node) -> bool:
        if name in self.conditions:
            value = self.conditions[name]
            if value is None:
                raise self.fail(at, f"condition {name} depends on itself")
            return value
        body = self.top.get("Conditions")
        node = self.get(body, name) if body is not None else None
        if node is None:
            raise self.fail(at, f"condition {name!r} is not defined in Conditions")
        self.conditions[name] = None
        value = self.truth(node)
        self.conditions[name] = value
        return value

    def truth(self, node: Node) -> bool:
        call = self.call(node)
        if call is None:
            v = self.resolve(node)
            if isinstance(v.value, bool):
                return v.value
            raise self.fail(node, "expected a condition (Fn::Equals, Fn::And, Fn::Or, Fn::Not)")
        name, arg = call
        items = arg.value if isinstance(arg, SequenceNode) else None
        if name == "Condition" and isinstance(arg, ScalarNode):
            return self.condition(arg.value, arg)
        if name == "Fn::Equals" and items is not None and len(items) == 2:
            a, b = (self.text_or_list(x) for x in items)
            return bool(a == b)
        if name == "Fn::Not" and items is not None and len(items) == 1:
            return not self.truth(items[0])
        if name in ("Fn::And", "Fn::Or") and items is not None and 2 <= len(items) <= 10:
            values = [self.truth(x) for x in items]
            return all(values) if name == "Fn::And" else any(values)
        raise self.fail(node, f"{name}: unexpected arguments")

    def text_or_list(self, node: Node) -> Any:
        return _plain(self.resolve(node))

    # -- values

    def call(self, node: Node) -> tuple[str, Node] | None:
        """An intrinsic function call (``!Sub x`` or ``{"Fn::Sub": x}``) and its argument."""
        tag = node.tag
        if tag.startswith("!"):
            name = _SHORT.get(tag, "Fn::" + tag[1:])
            bare: Node
            if isinstance(node, ScalarNode):
                bare = ScalarNode(
                    "tag:yaml.org,2002:str", node.value, node.start_mark, node.end_mark, style='"'
                )
            elif isinstance(node, SequenceNode):
                bare = SequenceNode(
                    "tag:yaml.org,2002:seq", node.value, node.start_mark, node.end_mark
                )
            else:
                bare = MappingNode(
                    "tag:yaml.org,2002:map", node.value, node.start_mark, node.end_mark
                )
            return name, bare
        if isinstance(node, MappingNode) and len(node.value) == 1:
            key = node.value[0][0].value
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return key, node.value[0][1]
        return None

    def resolve(self, node: Node) -> _V:
        call = self.call(node)
        if call is not None:
            return self.function(call[0], call[1], node)
        if isinstance(node, MappingNode):
            out: dict[str, _V] = {}
            for k, v in node.value:
                value = self.resolve(v)
                if value.value is not _NO_VALUE:
                    out[k.value] = value
            return _V(out, node)
        if isinstance(node, SequenceNode):
            items = [self.resolve(x) for x in node.value]
            return _V([x for x in items if x.value is not _NO_VALUE], node)
        assert isinstance(node, ScalarNode)
        return _V(self.scalar(node), node)

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag == NULL:
            return None
        if node.tag == BOOL:
            return node.value.lower() in ("yes", "true", "on", "y")
        if node.tag == INT and _OCTAL.match(node.value):
            value = str(int(node.value.replace("_", ""), 8))
            self.warnings.append(
                Problem(
                    self.loc(node),
                    f"the unquoted {node.value} is an octal number in YAML 1.1, which "
                    f"CloudFormation reads as {value}; quote it if it is an account ID",
                )
            )
            return value
        if node.tag in (INT, FLOAT):
            return node.value.replace("_", "") if node.tag == INT else node.value
        return node.value

    def text(self, node: Node, what: str) -> str:
        v = self.resolve(node)
        if not isinstance(v.value, str) or not v.value:
            raise self.fail(node, f"expected {what} (text)")
        return v.value

    def function(self, name: str, arg: Node, node: Node) -> _V:
        items = arg.value if isinstance(arg, SequenceNode) else None
        if name == "Ref":
            if not isinstance(arg, ScalarNode):
                raise self.fail(node, "Ref takes a name")
            return self.ref(arg.value, node)
        if name == "Fn::GetAtt":
            if isinstance(arg, ScalarNode) and "." in arg.value:
                logical, attr = arg.value.split(".", 1)
            elif items is not None and len(items) == 2:
                logical, attr = (
                    self.text(items[0], "a logical ID"),
                    self.text(items[1], "an attribute"),
                )
            else:
                raise self.fail(node, "Fn::GetAtt takes [LogicalId, Attribute]")
            return _V(self.attribute(logical, attr, node), node)
        if name == "Fn::Sub":
            return _V(self.sub(arg, node), node)
        if name == "Fn::Join" and items is not None and len(items) == 2:
            sep = self.text_allow_empty(items[0])
            parts = self.resolve(items[1])
            if not isinstance(parts.value, list):
                raise self.fail(items[1], "Fn::Join takes a list of values to join")
            texts = [self.string_of(x) for x in parts.value]
            return _V(sep.join(texts), node)
        if name == "Fn::Select" and items is not None and len(items) == 2:
            index = self.text(items[0], "an index")
            seq = self.resolve(items[1])
            if (
                not index.isdigit()
                or not isinstance(seq.value, list)
                or int(index) >= len(seq.value)
            ):
                raise self.fail(node, "Fn::Select: the index is not in the list")
            return seq.value[int(index)]  # type: ignore[no-any-return]
        if name == "Fn::Split" and items is not None and len(items) == 2:
            sep = self.text(items[0], "a delimiter")
            whole = self.string_of(self.resolve(items[1]))
            return _V([_V(x, node) for x in whole.split(sep)], node)
        if name == "Fn::If" and items is not None and len(items) == 3:
            cond = self.text(items[0], "a condition name")
            return self.resolve(items[1] if self.condition(cond, items[0]) else items[2])
        if name == "Fn::FindInMap" and items is not None and len(items) == 3:
            return self.find_in_map(items, node)
        raise self.fail(
            node,
            f"{name} cannot be resolved without deploying the template (resolved here: Ref, "
            "Fn::Sub, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::FindInMap)",
        )

    def text_allow_empty(self, node: Node) -> str:
        v = self.resolve(node)
        if not isinstance(v.value, str):
            raise self.fail(node, "expected text")
        return v.value

    def string_of(self, v: _V) -> str:
        if isinstance(v.value, str):
            return v.value
        if isinstance(v.value, bool):
            return "true" if v.value else "false"
        raise self.fail(v.node, "expected text here")

    def find_in_map(self, items: list[Node], node: Node) -> _V:
        name, top, second = (self.text(x, "a mapping key") for x in items)
        table = self.top.get("Mappings")
        level = self.get(table, name) if table is not None else None
        if level is None:
            raise self.fail(items[0], f"Fn::FindInMap: no mapping {name!r} in Mappings")
        level2 = self.get(level, top)
        if level2 is None:
            raise self.fail(items[1], f"Fn::FindInMap: mapping {name} has no key {top!r}")
        value = self.get(level2, second)
        if value is None:
            raise self.fail(items[2], f"Fn::FindInMap: {name}.{top} has no key {second!r}")
        return self.resolve(value)

    def pseudo(self, name: str, at: Node) -> Any:
        if name == "AWS::AccountId":
            if self.settings.account is None:
                raise self.fail(
                    at, "AWS::AccountId: give the account in the import entry (account:)"
                )
            return self.settings.account
        if name == "AWS::Region":
            if self.settings.region is None:
                raise self.fail(at, "AWS::Region: give the region in the import entry (region:)")
            return self.settings.region
        if name == "AWS::Partition":
            return "aws"
        if name == "AWS::URLSuffix":
            return "amazonaws.com"
        if name == "AWS::NoValue":
            return _NO_VALUE
        raise self.fail(at, f"{name} is known only when the stack is deployed")

    def ref(self, name: str, at: Node) -> _V:
        if name.startswith("AWS::"):
            return _V(self.pseudo(name, at), at)
        params = self.top.get("Parameters")
        param = self.get(params, name) if params is not None else None
        if param is not None:
            return _V(self.parameter(name, param, at), at)
        if name in self.resources:
            return _V(self.attribute(name, "Ref", at), at)
        raise self.fail(at, f"Ref {name}: no parameter or resource of that name in this template")

    def parameter(self, name: str, param: Node, at: Node) -> Any:
        given = self.settings.parameters.get(name)
        if given is None:
            default = self.get(param, "Default")
            if default is None:
                raise self.fail(
                    at,
                    f"parameter {name} has no Default: give it in the import entry (parameters:)",
                )
            value = self.string_of(self.resolve(default))
        else:
            value = given
        ptype = self.get(param, "Type")
        if isinstance(ptype, ScalarNode) and (
            ptype.value == "CommaDelimitedList" or ptype.value.startswith("List<")
        ):
            return [_V(x.strip(), at) for x in value.split(",")]
        return value

    def physical_name(self, logical: str, prop: str, at: Node) -> str:
        res = self.resources[logical]
        node = self.get(self.get(res, "Properties") or res, prop)
        if node is None:
            raise self.fail(
                at,
                f"{logical} has no {prop}: CloudFormation makes up its name when the stack is "
                f"deployed; give {prop} in the template",
            )
        key = f"{logical}.{prop}"
        if key not in self.names:
            self.names[key] = self.text(node, prop)
        return self.names[key]

    def iam_path(self, logical: str) -> str:
        node = self.get(
            self.get(self.resources[logical], "Properties") or MappingNode("", []), "Path"
        )
        return self.text(node, "a path") if node is not None else "/"

    def attribute(self, logical: str, attr: str, at: Node) -> str:
        res = self.resources.get(logical)
        if res is None:
            raise self.fail(at, f"{logical}: no resource of that name in this template")
        if not self.exists(logical):
            cond = self.get(res, "Condition")
            shown = cond.value if isinstance(cond, ScalarNode) else "?"
            raise self.fail(
                at,
                f"{logical} is not created (its condition {shown} is false), so nothing can "
                "refer to it",
            )
        rtype = self.get(res, "Type")
        kind = rtype.value if isinstance(rtype, ScalarNode) else ""

        def account() -> str:
            return str(self.pseudo("AWS::AccountId", at))

        if kind == "AWS::IAM::Role" and attr in ("Ref", "Arn"):
            name = self.physical_name(logical, "RoleName", at)
            return (
                name
                if attr == "Ref"
                else f"arn:aws:iam::{account()}:role{self.iam_path(logical)}{name}"
            )
        if kind == "AWS::IAM::User" and attr in ("Ref", "Arn"):
            name = self.physical_name(logical, "UserName", at)
            return (
                name
                if attr == "Ref"
                else f"arn:aws:iam::{account()}:user{self.iam_path(logical)}{name}"
            )
        if kind == "AWS::IAM::Group" and attr in ("Ref", "Arn"):
            name = self.physical_name(logical, "GroupName", at)
            return (
                name
                if attr == "Ref"
                else f"arn:aws:iam::{account()}:group{self.iam_path(logical)}{name}"
            )
        if kind == "AWS::IAM::ManagedPolicy" and attr in ("Ref", "PolicyArn"):
            name = self.physical_name(logical, "ManagedPolicyName", at)
            return f"arn:aws:iam::{account()}:policy{self.iam_path(logical)}{name}"
        if kind == "AWS::ECR::Repository" and attr in ("Ref", "Arn", "RepositoryUri"):
            name = self.physical_name(logical, "RepositoryName", at)
            if attr == "Ref":
                return name
            region = self.pseudo("AWS::Region", at)
            if attr == "Arn":
                return f"arn:aws:ecr:{region}:{account()}:repository/{name}"
            return f"{account()}.dkr.ecr.{region}.amazonaws.com/{name}"
        raise self.fail(
            at,
            f"{'Ref' if attr == 'Ref' else 'Fn::GetAtt'} {logical}"
            f"{'' if attr == 'Ref' else '.' + attr} ({kind}) is known only when the stack is "
            "deployed",
        )

    def sub(self, arg: Node, node: Node) -> str:
        if isinstance(arg, SequenceNode) and len(arg.value) == 2:
            template = self.text_allow_empty(arg.value[0])
            local = self.resolve(arg.value[1])
            variables = local.value if isinstance(local.value, dict) else {}
        else:
            template = self.text_allow_empty(arg)
            variables = {}

        def replace(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self.string_of(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attr = name.split(".", 1)
                return self.attribute(logical, attr, node)
            return self.string_of(self.ref(name, node))

        return _SUB_VAR.sub(replace, template)

    # -- documents and entities

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

        return ImportedPolicy(name, self.loc(node), _plain(v), locate)

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
                except _Bad:
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
        for item in v.value:
            if (
                not isinstance(item.value, dict)
                or "Key" not in item.value
                or "Value" not in item.value
            ):
                raise self.fail(item.node, "each tag needs Key and Value")
            out[self.string_of(item.value["Key"])] = self.string_of(item.value["Value"])
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
            except _Bad:
                continue
        for logical in self.of_type("AWS::IAM::UserToGroupAddition"):
            try:
                props = self.props(logical)
                group = self.text(self.get(props, "GroupName") or props, "GroupName")
                for user in self.names_list(props, "Users"):
                    members.setdefault(user, []).append(group)
            except _Bad:
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
            except _Bad:
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
                except _Bad:
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
                        if resolved.value is not _NO_VALUE:
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
                except _Bad:
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
            except _Bad:
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
                out.append(ImportedOrgPolicy(kind, self.document(content, name)))
            except _Bad:
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
    tpl = _Template(display, composed.root, settings or Settings())
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
