"""How a CloudFormation template's values resolve: intrinsic functions, conditions,
parameters, mappings, pseudo parameters, and the names and ARNs of the template's own
resources, each value kept with the node it was written at.

Source: the CloudFormation "Intrinsic function reference", "Condition functions" and "Pseudo
parameters reference" pages, and each resource type's "Return values" (what ``Ref`` and
``Fn::GetAtt`` give). What only a deployment knows is an error at its node (:class:`Bad`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runner.errors import Problem
from runner.model import SourceLoc
from runner.spec.imports.cfn_parameters import is_list_type
from runner.spec.imports.common import Settings
from runner.spec.yamlsafe import (
    BOOL,
    FLOAT,
    INT,
    NULL,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
)

__all__ = ["MAX_CONDITION_DEPTH", "NO_VALUE", "Bad", "Template", "V", "plain"]

_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_SHORT = {"!Ref": "Ref", "!Condition": "Condition"}
NO_VALUE = object()
#: How long a chain of conditions referring to each other may be.
MAX_CONDITION_DEPTH = 100


class Bad(Exception):
    """An unresolvable value; already reported."""


@dataclass(slots=True)
class V:
    """A resolved value and the node it came from. ``value`` is a str, bool, None, a list of
    V or a dict of str to V."""

    value: Any
    node: Node


def plain(v: V) -> Any:
    if isinstance(v.value, dict):
        return {k: plain(x) for k, x in v.value.items()}
    if isinstance(v.value, list):
        return [plain(x) for x in v.value]
    return v.value


class Template:
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
        #: how many conditions are being evaluated, each inside the one before
        self.depth = 0

    # -- reporting

    def loc(self, node: Node) -> SourceLoc:
        return SourceLoc(self.display, node.start_mark.line + 1, node.start_mark.column + 1)

    def err(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.loc(node), message))

    def fail(self, node: Node, message: str) -> Bad:
        self.err(node, message)
        return Bad()

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
        if self.depth >= MAX_CONDITION_DEPTH:
            # each level is a few Python frames: a chain of thousands would exhaust the stack
            raise self.fail(
                at,
                f"condition {name}: conditions that refer to each other (Condition, Fn::If) "
                f"go more than {MAX_CONDITION_DEPTH} deep here; the tool reads chains of at "
                f"most {MAX_CONDITION_DEPTH}",
            )
        self.conditions[name] = None
        self.depth += 1
        try:
            value = self.truth(node)
        finally:
            self.depth -= 1
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
        return plain(self.resolve(node))

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

    def resolve(self, node: Node) -> V:
        call = self.call(node)
        if call is not None:
            return self.function(call[0], call[1], node)
        if isinstance(node, MappingNode):
            out: dict[str, V] = {}
            for k, v in node.value:
                value = self.resolve(v)
                if value.value is not NO_VALUE:
                    out[k.value] = value
            return V(out, node)
        if isinstance(node, SequenceNode):
            items = [self.resolve(x) for x in node.value]
            return V([x for x in items if x.value is not NO_VALUE], node)
        assert isinstance(node, ScalarNode)
        return V(self.scalar(node), node)

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

    def function(self, name: str, arg: Node, node: Node) -> V:
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
            return V(self.attribute(logical, attr, node), node)
        if name == "Fn::Sub":
            return V(self.sub(arg, node), node)
        if name == "Fn::Join" and items is not None and len(items) == 2:
            sep = self.text_allow_empty(items[0])
            parts = self.resolve(items[1])
            if not isinstance(parts.value, list):
                raise self.fail(items[1], "Fn::Join takes a list of values to join")
            texts = [self.string_of(x) for x in parts.value]
            return V(sep.join(texts), node)
        if name == "Fn::Select" and items is not None and len(items) == 2:
            index = self.text(items[0], "an index")
            seq = self.resolve(items[1])
            if not index.isdecimal():  # what int() reads ("²" is a digit, not a decimal)
                raise self.fail(
                    items[0], f"Fn::Select: the index {index!r} is not a whole number from 0"
                )
            if not isinstance(seq.value, list):
                raise self.fail(items[1], "Fn::Select takes [index, a list of values]")
            if int(index) >= len(seq.value):
                raise self.fail(
                    node,
                    f"Fn::Select: the index {index} is past the end of the list "
                    f"({len(seq.value)} value{'' if len(seq.value) == 1 else 's'})",
                )
            return seq.value[int(index)]  # type: ignore[no-any-return]
        if name == "Fn::Split" and items is not None and len(items) == 2:
            sep = self.text(items[0], "a delimiter")
            whole = self.string_of(self.resolve(items[1]))
            return V([V(x, node) for x in whole.split(sep)], node)
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

    def string_of(self, v: V) -> str:
        if isinstance(v.value, str):
            return v.value
        if isinstance(v.value, bool):
            return "true" if v.value else "false"
        raise self.fail(v.node, "expected text here")

    def find_in_map(self, items: list[Node], node: Node) -> V:
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
            return NO_VALUE
        raise self.fail(at, f"{name} is known only when the stack is deployed")

    def ref(self, name: str, at: Node) -> V:
        if name.startswith("AWS::"):
            return V(self.pseudo(name, at), at)
        params = self.top.get("Parameters")
        param = self.get(params, name) if params is not None else None
        if param is not None:
            return V(self.parameter(name, param, at), at)
        if name in self.resources:
            return V(self.attribute(name, "Ref", at), at)
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
        if isinstance(ptype, ScalarNode) and ptype.value.startswith("AWS::SSM::Parameter::Value<"):
            # Ref gives the SSM parameter's value, read when the stack is deployed, not the
            # parameter's name that the entry or the Default gives
            raise self.fail(
                at,
                f"parameter {name} is of Type {ptype.value}: it stands for the value of the "
                f"SSM parameter {value!r}, which is known only when the stack is deployed",
            )
        if isinstance(ptype, ScalarNode) and is_list_type(ptype.value):
            return [V(x.strip(), at) for x in value.split(",")]
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
        elif not isinstance(arg, ScalarNode):
            raise self.fail(node, "Fn::Sub takes a string, or [a string, {NAME: value, ...}]")
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
