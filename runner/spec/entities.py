"""Principals, resources and the organization of a spec, built from their definitions.

Each definition is read once per load, on first use (every definition is checked, used or
not); a wrong one is reported at its definition and is None afterwards, so references to it
stay quiet.
"""

from __future__ import annotations

import re

from runner import model
from runner.policy import FULL_AWS_ACCESS, CompiledPolicy
from runner.spec.classes import ANYONE, is_class, read_class
from runner.spec.imports.wire import Imports
from runner.spec.includes import Definitions
from runner.spec.nodes import Definition, Reader
from runner.spec.policies import PolicyBook
from runner.spec.yamlsafe import (
    TEXT_TAGS,
    MappingNode,
    ScalarNode,
    SequenceNode,
    cut,
    describe,
    excerpt,
)

__all__ = ["Entities"]

_PRINCIPAL_KEYS = ("arn", "session", "policies", "boundary", "session-policy", "tags", "service")
_RESOURCE_KEYS = ("arn", "policy", "tags")
_ORGANIZATION_KEYS = ("id", "management-account", "accounts", "scps", "rcps")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")

_PRINCIPAL_TYPE_LABEL = {
    model.PrincipalType.USER: "an IAM user",
    model.PrincipalType.ROLE_SESSION: "a role session",
    model.PrincipalType.FEDERATED_USER: "a federated user",
    model.PrincipalType.ROOT: "the account root user",
    model.PrincipalType.SERVICE: "a service principal",
    model.PrincipalType.ANONYMOUS: "an anonymous caller",
}


class Entities:
    """The principals, resources and organization of one load."""

    def __init__(
        self,
        reader: Reader,
        defs: Definitions,
        policies: PolicyBook,
        imports: Imports | None = None,
    ) -> None:
        self.reader = reader
        self.defs = defs
        self.policies = policies
        self.imports = imports or Imports()
        self._principals: dict[str, model.Principal | None] = dict(self.imports.principals)
        self._resources: dict[str, model.Resource | None] = dict(self.imports.resources)
        self._classes: dict[str, model.CallerClass | None] = {}

    @property
    def principal_names(self) -> list[str]:
        """Every principal name a case can use: defined, then imported."""
        return [*self.defs.principals, *self.imports.principals]

    @property
    def resource_names(self) -> list[str]:
        """Every resource name a case can use: defined, then imported."""
        return [*self.defs.resources, *self.imports.resources]

    def principal(self, name: str) -> model.Principal | None:
        """The defined or imported principal ``name``, or None when it is wrong."""
        if name not in self._principals:
            self._principals[name] = self._principal(self.defs.principals[name])
        return self._principals[name]

    def resource(self, name: str) -> model.Resource | None:
        """The defined or imported resource ``name``, or None when it is wrong."""
        if name not in self._resources:
            self._resources[name] = self._resource(self.defs.resources[name])
        return self._resources[name]

    def is_class(self, name: str) -> bool:
        """Whether the principal ``name`` is a class of callers (``anyone: {...}``)."""
        d = self.defs.principals.get(name)
        return d is not None and is_class(d.value)

    def caller_class(self, name: str) -> model.CallerClass | None:
        """The class of callers ``name``, or None when it is wrong (reported once)."""
        if name not in self._classes:
            d = self.defs.principals[name]
            named = {n for n in self.principal_names if not self.is_class(n)}
            classes = [n for n in self.defs.principals if n not in named]
            self._classes[name] = read_class(self.reader, d.file, name, d.value, named, classes)
        return self._classes[name]

    def _principal(self, d: Definition) -> model.Principal | None:
        reader, f, node = self.reader, d.file, d.value
        if d.name == ANYONE:
            reader.error(
                f,
                d.key,
                "'anyone' is a reserved principal name (every possible caller); give this "
                "principal another name",
            )
            return None
        if is_class(node):
            self.caller_class(d.name)
            return None
        if isinstance(node, ScalarNode) and node.tag in TEXT_TAGS:
            try:
                if node.value == "anonymous":
                    return model.anonymous_principal(d.name)
                return model.principal_from_arn(d.name, node.value)
            except model.ModelError as exc:
                reader.error(f, node, str(exc))
                return None
        if not isinstance(node, MappingNode):
            reader.error(
                f,
                node,
                "expected a principal: an ARN, 'anonymous', or a mapping with 'arn' or "
                f"'service', got {describe(node)}",
            )
            return None
        items = reader.mapping(f, node, "a principal")
        assert items is not None
        mixed = next((k for k, _ in items if k.value == ANYONE), None)
        if mixed is not None:
            others = ", ".join(excerpt(k.value) for k, _ in items if k is not mixed)
            reader.error(
                f,
                mixed,
                "a class of callers has the single key 'anyone' (its conditions go under it); "
                f"principal {excerpt(d.name)} also has {others}: define the class and the "
                "principal as two entries",
            )
            items = [(k, v) for k, v in items if k is not mixed]
        keys = reader.keys(f, items, _PRINCIPAL_KEYS, "key", f" in principal {excerpt(d.name)}")
        ok = mixed is None and len(keys) == len(items)
        if "service" in keys:
            for other in keys:
                if other != "service":
                    reader.error(
                        f,
                        keys[other][0],
                        f"a service principal has only 'service'; {other!r} does not apply",
                    )
                    ok = False
            service = reader.text(
                f, keys["service"][1], "a service name such as codebuild.amazonaws.com"
            )
            if service is None or not ok:
                return None
            try:
                return model.service_principal(d.name, service)
            except model.ModelError as exc:
                reader.error(f, keys["service"][1], str(exc))
                return None
        if "arn" not in keys:
            if ok:
                reader.error(
                    f,
                    d.key,
                    f"principal {excerpt(d.name)} needs 'arn' (an IAM or STS ARN) or 'service' "
                    "(such as codebuild.amazonaws.com)",
                )
            return None
        arn = reader.text(f, keys["arn"][1], "a principal ARN")
        if arn is None:
            return None
        try:
            # the kind of principal the ARN names; the principal's own name, which is its
            # role session name unless 'session' gives one, is checked when it is built
            ptype = model.principal_type(arn)
        except model.ModelError as exc:
            reader.error(f, keys["arn"][1], str(exc))
            return None
        kind_text = _PRINCIPAL_TYPE_LABEL[ptype]
        session: str | None = None
        if "session" in keys:
            k, v = keys["session"]
            if ptype is not model.PrincipalType.ROLE_SESSION:
                reader.error(
                    f,
                    k,
                    f"'session' is only for roles; principal {excerpt(d.name)} is {kind_text} "
                    f"({cut(arn)})",
                )
                ok = False
            else:
                session = reader.text(f, v, "a role session name")
                ok = ok and session is not None
        if "session-policy" in keys and ptype not in (
            model.PrincipalType.ROLE_SESSION,
            model.PrincipalType.FEDERATED_USER,
        ):
            reader.error(
                f,
                keys["session-policy"][0],
                "'session-policy' is only for roles and federated users; principal "
                f"{excerpt(d.name)} is {kind_text} ({cut(arn)})",
            )
            ok = False
        if ptype is model.PrincipalType.ROOT:
            for attached in ("policies", "boundary", "session-policy"):
                if attached in keys:
                    reader.error(
                        f,
                        keys[attached][0],
                        f"{attached!r} cannot be attached to the account root user ({cut(arn)}); "
                        "IAM policies and boundaries do not apply to it",
                    )
                    ok = False
        book = self.policies
        policies: list[CompiledPolicy] = []
        if "policies" in keys and ok:
            got = book.refs(
                f, keys["policies"][1], model.PolicyKind.IDENTITY, "a list of policy names"
            )
            ok = ok and got is not None
            policies = got or []
        boundary = session_policy = None
        if "boundary" in keys and ok:
            good, boundary = book.ref(f, keys["boundary"][1], model.PolicyKind.BOUNDARY)
            ok = ok and good
        if "session-policy" in keys and ok:
            good, session_policy = book.ref(f, keys["session-policy"][1], model.PolicyKind.SESSION)
            ok = ok and good
        tags: dict[str, str] | None = {}
        if "tags" in keys:
            tags = reader.tags(f, keys["tags"][1])
            ok = ok and tags is not None
        if not ok:
            return None
        try:
            return model.principal_from_arn(
                d.name,
                arn,
                session=session,
                policies=policies,
                boundary=boundary,
                session_policy=session_policy,
                tags=tags,
            )
        except model.ModelError as exc:
            reader.error(f, keys["session"][1] if "session" in keys else keys["arn"][1], str(exc))
            return None

    def _resource(self, d: Definition) -> model.Resource | None:
        reader, f, node = self.reader, d.file, d.value
        if isinstance(node, ScalarNode) and node.tag in TEXT_TAGS:
            try:
                return model.repository(d.name, node.value)
            except model.ModelError as exc:
                reader.error(f, node, str(exc))
                return None
        items = reader.mapping(
            f, node, "a repository: its ARN, or a mapping with 'arn', 'policy' and 'tags'"
        )
        if items is None:
            return None
        keys = reader.keys(f, items, _RESOURCE_KEYS, "key", f" in resource {excerpt(d.name)}")
        ok = len(keys) == len(items)
        if "arn" not in keys:
            if ok:
                reader.error(
                    f,
                    d.key,
                    f"resource {excerpt(d.name)} needs 'arn' "
                    "(arn:aws:ecr:REGION:ACCOUNT:repository/NAME)",
                )
            return None
        arn = reader.text(f, keys["arn"][1], "a repository ARN")
        ok = ok and arn is not None
        policy = None
        if "policy" in keys:
            good, policy = self.policies.ref(f, keys["policy"][1], model.PolicyKind.RESOURCE)
            ok = ok and good
        tags: dict[str, str] | None = {}
        if "tags" in keys:
            tags = reader.tags(f, keys["tags"][1])
            ok = ok and tags is not None
        if not ok or arn is None:
            return None
        try:
            return model.repository(d.name, arn, policy=policy, tags=tags)
        except model.ModelError as exc:
            reader.error(f, keys["arn"][1], str(exc))
            return None

    def organization(self) -> tuple[bool, model.Organization | None]:
        """(ok, the organization): ``ok`` is False when its definition is wrong (reported);
        the organization is None when the spec has none."""
        d = self.defs.organization
        if d is None:
            if self.imports.organization_at is not None:
                f, at = self.imports.organization_at
                self.reader.error(
                    f,
                    at,
                    "this import holds SCPs or RCPs, which apply to the accounts of an "
                    "organization: define 'organization' with its accounts",
                )
                return False, None
            return True, None
        reader, f, book = self.reader, d.file, self.policies
        items = reader.mapping(
            f, d.value, "a mapping with id, management-account, accounts, scps and rcps"
        )
        if items is None:
            return False, None
        keys = reader.keys(f, items, _ORGANIZATION_KEYS, "key", " in organization")
        ok = len(keys) == len(items)
        org_id: str | None = None
        if "id" in keys:
            org_id = reader.text(f, keys["id"][1], "an organization id such as o-a1b2c3d4e5")
            if org_id is not None and not _ORG_ID.match(org_id):
                reader.error(
                    f,
                    keys["id"][1],
                    f"expected an organization id such as o-a1b2c3d4e5, got {excerpt(org_id)}",
                )
                org_id = None
            ok = ok and org_id is not None
        management: str | None = None
        if "management-account" in keys:
            management = reader.account(f, keys["management-account"][1], "an account id")
            ok = ok and management is not None
        accounts: list[str] = []
        if "accounts" in keys:
            node = keys["accounts"][1]
            if isinstance(node, SequenceNode):
                for item in node.value:
                    acct = reader.account(f, item, "an account id")
                    if acct is None:
                        ok = False
                    else:
                        accounts.append(acct)
            else:
                reader.error(f, node, f"expected a list of account ids, got {describe(node)}")
                ok = False
        scps: list[CompiledPolicy] = [FULL_AWS_ACCESS]
        if "scps" in keys:
            node = keys["scps"][1]
            if isinstance(node, SequenceNode) and not node.value:
                reader.error(
                    f,
                    node,
                    "an account always has at least one SCP attached; list at least one "
                    "(FullAWSAccess is predefined)",
                )
                ok = False
            else:
                got = book.refs(f, node, model.PolicyKind.SCP, "a list of SCP names")
                ok = ok and got is not None
                scps = got or []
        rcps: list[CompiledPolicy] = []
        if "rcps" in keys:
            node = keys["rcps"][1]
            if not (isinstance(node, SequenceNode) and not node.value):
                got = book.refs(f, node, model.PolicyKind.RCP, "a list of RCP names")
                ok = ok and got is not None
                rcps = got or []
        if not ok:
            return False, None
        scps.extend(self.imports.scps)
        rcps.extend(self.imports.rcps)
        return True, model.Organization(
            id=org_id,
            management_account=management,
            accounts=frozenset(accounts),
            scps=tuple(scps),
            rcps=tuple(rcps),
        )
