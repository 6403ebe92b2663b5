"""``terraform show -json PLANFILE``: the IAM users and roles, ECR repositories and
organization policies a plan leaves behind.

Shape: Terraform's "JSON Output Format" page. Values are read from
``resource_changes[].change.after`` (``after_unknown`` says which are known only after apply)
and, for data sources read while planning, from ``prior_state``. A value known only after apply
is an error at its place, except the attributes that are unknown only because the provider
computes them: a new role's ``managed_policy_arns`` and ``inline_policy`` when the
configuration does not set them (the attachment resources of the plan say what they hold), and
the ``arn``/``name``/``id`` of a user, role, policy or repository that the plan creates, found
through ``configuration``'s ``references``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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
from runner.spec.imports.jsonpos import JsonProblem, JsonText, parse_json

__all__ = ["parse_plan"]

_ORG_KINDS = {
    "SERVICE_CONTROL_POLICY": PolicyKind.SCP,
    "RESOURCE_CONTROL_POLICY": PolicyKind.RCP,
}
#: the exclusive resources of groups are not read: a member's group policies could be wrong,
#: so a plan with them is refused rather than read without them
_GROUP_TYPES = frozenset(
    {"aws_iam_group_policies_exclusive", "aws_iam_group_policy_attachments_exclusive"}
)


class _Unknown(Exception):
    """A value the plan does not know; already reported."""


@dataclass(slots=True, eq=False)
class _Res:
    """One resource instance of the plan (after apply)."""

    module: str  # "" at the root, "module.a.module.b" inside modules
    mode: str  # "managed" or "data"
    type: str
    name: str
    index: object
    values: Mapping[str, Any]
    unknown: Mapping[str, Any]
    #: JSON paths of ``values`` and of ``unknown`` in the plan
    path: PolicyPath
    unknown_path: PolicyPath | None
    #: the JSON path of the resource's ``address``
    origin: PolicyPath = ()
    config: Mapping[str, Any] | None = None
    computed: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        prefix = f"{self.module}." if self.module else ""
        data = "data." if self.mode == "data" else ""
        index = ""
        if isinstance(self.index, str):
            index = f'["{self.index}"]'
        elif self.index is not None:
            index = f"[{self.index}]"
        return f"{prefix}{data}{self.type}.{self.name}{index}"


#: The skeleton of `terraform show -json` output (the "JSON Output Format" page): for each
#: place, the kind of value it must hold. ``*`` is every element of a list or every value of
#: an object; a name ending in ``?`` may be absent or null.
_OBJ, _LIST, _STR, _EACH = "an object", "a list", "a string", "an object of names"
_STATE_MODULE: dict[str, object] = {
    "resources?": (
        _LIST,
        {"address": _STR, "mode": _STR, "type": _STR, "name": _STR, "values?": _OBJ},
    ),
}
_STATE_MODULE["child_modules?"] = (_LIST, _STATE_MODULE)
_CONFIG_MODULE: dict[str, object] = {
    "resources?": (
        _LIST,
        {
            "mode?": _STR,
            "type": _STR,
            "name": _STR,
            "provider_config_key?": _STR,
            "expressions?": _OBJ,
        },
    ),
    "outputs?": (_EACH, {"expression?": _OBJ}),
}
_CONFIG_MODULE["module_calls?"] = (_EACH, {"module?": (_OBJ, _CONFIG_MODULE)})
_PLAN_SHAPE: dict[str, object] = {
    "resource_changes?": (
        _LIST,
        {
            "address": _STR,
            "module_address?": _STR,
            "mode?": _STR,
            "type": _STR,
            "name": _STR,
            "change": {"actions?": (_LIST, _STR), "after?": _OBJ, "after_unknown?": _OBJ},
        },
    ),
    "prior_state?": {"values?": {"root_module?": (_OBJ, _STATE_MODULE)}},
    "configuration?": {
        "provider_config?": (_EACH, {"name?": _STR, "expressions?": _OBJ}),
        "root_module?": (_OBJ, _CONFIG_MODULE),
    },
    "variables?": (_EACH, _OBJ),
}
_KIND_OF = {_OBJ: Mapping, _LIST: list, _STR: str, _EACH: Mapping}


def _shape_problems(doc: JsonText) -> list[Problem]:
    """Where the plan's skeleton is not what Terraform writes (the first few places)."""
    problems: list[Problem] = []
    pending: list[tuple[object, object, PolicyPath]] = [(doc.value, (_OBJ, _PLAN_SHAPE), ())]
    while pending and len(problems) < 10:
        value, shape, path = pending.pop()
        if isinstance(shape, dict):
            shape = (_OBJ, shape)
        if isinstance(shape, str):
            shape = (shape, None)
        assert isinstance(shape, tuple)
        kind, inner = shape
        if not isinstance(value, _KIND_OF[kind]):
            shown = _OBJ if kind == _EACH else kind
            problems.append(Problem(doc.loc(path), f"expected {shown} here, got {_what(value)}"))
            continue
        if inner is None:
            continue
        if kind == _LIST:
            assert isinstance(value, list)
            pending.extend((item, inner, (*path, i)) for i, item in enumerate(value))
        elif kind == _OBJ and isinstance(inner, dict):
            assert isinstance(value, Mapping)
            for key, sub in inner.items():
                name = key.rstrip("?")
                if value.get(name) is None:
                    if not key.endswith("?"):
                        problems.append(Problem(doc.loc(path), f"expected {name!r} here"))
                    continue
                pending.append((value[name], sub, (*path, name)))
        else:
            assert isinstance(value, Mapping)
            pending.extend((item, inner, (*path, k)) for k, item in value.items())
    return problems


def _what(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _one_line(document: Mapping[str, Any], loc: SourceLoc) -> tuple[int, ...]:
    """The statement lines of a document held in one JSON string: all on the string's line."""
    body = document.get("Statement")
    return (loc.line,) * (len(body) if isinstance(body, list) else 1)


def _provider_key(r: _Res) -> str:
    """The provider configuration a resource uses (``aws``, ``aws.tools``)."""
    return str((r.config or {}).get("provider_config_key") or "aws")


def _step(value: Any, part: str | int) -> Any:
    if isinstance(part, int):
        return value[part] if isinstance(value, list) and 0 <= part < len(value) else None
    return value.get(part) if isinstance(value, Mapping) else None


def _has_true(value: object) -> PolicyPath | None:
    """The path of the first ``true`` in an ``after_unknown`` structure, or None."""
    if value is True:
        return ()
    if isinstance(value, Mapping):
        for key, item in value.items():
            sub = _has_true(item)
            if sub is not None:
                return (key, *sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            sub = _has_true(item)
            if sub is not None:
                return (i, *sub)
    return None


class _Plan:
    def __init__(self, doc: JsonText, settings: Settings) -> None:
        self.doc = doc
        self.settings = settings
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.res: list[_Res] = []
        self.config: dict[tuple[str, str, str, str], Mapping[str, Any]] = {}
        self.outputs: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.account: str | None = None
        self.region: str | None = None
        self.accounts: dict[str, str] = {}
        self.regions: dict[str, str] = {}
        self.by_key: dict[tuple[str, str, str, str], list[_Res]] = {}
        self.by_type: dict[str, list[_Res]] = {}
        self.policy_arns: dict[str, _Res] | None = None
        self.named: dict[tuple[str, str | None, str], _Res] = {}

    # -- reporting

    def err(self, loc: SourceLoc, message: str) -> None:
        self.problems.append(Problem(loc, message))

    def at(self, r: _Res, attr: PolicyPath) -> SourceLoc:
        """The place of ``attr`` in the resource's values; ``()``: the resource's address."""
        if not attr:
            return self.doc.loc(r.origin)
        return self.doc.loc((*r.path, *attr))

    # -- reading the plan's structure

    def read(self) -> None:
        root = self.doc.value
        if not isinstance(root, Mapping) or "format_version" not in root:
            self.err(
                self.doc.loc(()),
                "not a Terraform plan: expected the JSON that `terraform show -json PLANFILE` "
                "prints (an object with format_version and resource_changes)",
            )
            return
        self.problems.extend(_shape_problems(self.doc))
        if self.problems:
            return
        self.index_config(root.get("configuration"), "", ("configuration", "root_module"))
        changes = root.get("resource_changes") or []
        seen: set[str] = set()
        for i, rc in enumerate(changes if isinstance(changes, list) else []):
            change = rc.get("change") or {}
            actions = change.get("actions") or []
            seen.add(str(rc.get("address")))
            if actions == ["delete"] or change.get("after") is None:
                continue
            base = ("resource_changes", i, "change")
            self.res.append(
                _Res(
                    module=rc.get("module_address", ""),
                    mode=rc.get("mode", "managed"),
                    type=rc.get("type", ""),
                    name=rc.get("name", ""),
                    index=rc.get("index"),
                    values=change.get("after") or {},
                    unknown=change.get("after_unknown") or {},
                    path=(*base, "after"),
                    unknown_path=(*base, "after_unknown"),
                    origin=("resource_changes", i, "address"),
                )
            )
        prior = (root.get("prior_state") or {}).get("values") or {}
        module = prior.get("root_module")
        if isinstance(module, Mapping):
            self.read_state(module, ("prior_state", "values", "root_module"), seen)
        for r in self.res:
            r.config = self.config.get((r.module, r.mode, r.type, r.name))
            self.by_key.setdefault((r.module, r.mode, r.type, r.name), []).append(r)
            if r.mode == "managed":
                self.by_type.setdefault(r.type, []).append(r)
        self.find_account_region(root)

    def read_state(self, module: Mapping[str, Any], path: PolicyPath, seen: set[str]) -> None:
        for j, res in enumerate(module.get("resources") or []):
            if res["mode"] != "data" or res["address"] in seen:
                continue
            address = str(res.get("address", ""))
            prefix = address.rsplit(".data.", 1)[0] if ".data." in address else ""
            self.res.append(
                _Res(
                    module=prefix,
                    mode="data",
                    type=res.get("type", ""),
                    name=res.get("name", ""),
                    index=res.get("index"),
                    values=res.get("values") or {},
                    unknown={},
                    path=(*path, "resources", j, "values"),
                    unknown_path=None,
                    origin=(*path, "resources", j, "address"),
                )
            )
        for k, child in enumerate(module.get("child_modules") or []):
            self.read_state(child, (*path, "child_modules", k), seen)

    def index_config(self, config: object, module: str, path: PolicyPath) -> None:
        if not isinstance(config, Mapping):
            return
        body = config.get("root_module") if not module else config
        if not isinstance(body, Mapping):
            return
        for res in body.get("resources") or []:
            key = (module, res.get("mode", "managed"), res.get("type", ""), res.get("name", ""))
            self.config[key] = res
        for name, out in (body.get("outputs") or {}).items():
            self.outputs[(module, name)] = out
        for name, call in (body.get("module_calls") or {}).items():
            child = f"{module}.module.{name}" if module else f"module.{name}"
            self.index_config(call.get("module"), child, (*path, "module_calls", name, "module"))

    def find_account_region(self, root: Mapping[str, Any]) -> None:
        """The account and region of each provider configuration: the account from the
        ``aws_caller_identity`` read through it, the region from its ``region`` argument (a
        constant or a variable) or an ``aws_region`` read through it; the import entry's
        values for what the plan does not say."""
        for r in self.res:
            if r.mode != "data":
                continue
            key = _provider_key(r)
            if r.type == "aws_caller_identity":
                account = r.values.get("account_id")
                if isinstance(account, str) and account:
                    self.accounts[key] = account
            if r.type == "aws_region":
                region = r.values.get("region") or r.values.get("name")
                if isinstance(region, str) and region:
                    self.regions.setdefault(key, region)
        providers = (root.get("configuration") or {}).get("provider_config") or {}
        for key, provider in providers.items():
            if provider.get("name") != "aws" or key in self.regions:
                continue
            expr = (provider.get("expressions") or {}).get("region")
            if not isinstance(expr, Mapping):
                continue
            value = expr.get("constant_value")
            refs = expr.get("references")
            if value is None and isinstance(refs, list):
                names = [str(x) for x in refs if str(x).startswith("var.")]
                if names:
                    var = (root.get("variables") or {}).get(names[0][4:]) or {}
                    value = var.get("value")
            if isinstance(value, str):
                self.regions[key] = value
        for table, attr in ((self.accounts, "account"), (self.regions, "region")):
            default = table.get("aws")
            if default is None and len(set(table.values())) == 1:
                default = next(iter(table.values()))
            setattr(self, attr, default or getattr(self.settings, attr))

    def account_of(self, r: _Res) -> str | None:
        key = _provider_key(r)
        return self.accounts.get(key) or self.accounts.get(key.split(":")[-1]) or self.account

    def region_of(self, r: _Res) -> str | None:
        key = _provider_key(r)
        return self.regions.get(key) or self.regions.get(key.split(":")[-1]) or self.region

    # -- values

    def known(self, r: _Res, attr: str) -> Any:
        """The value of ``attr``; raises _Unknown (reported) when it is known only after apply."""
        where = _has_true(r.unknown.get(attr))
        if where is None:
            return r.values.get(attr)
        assert r.unknown_path is not None
        shown = attr + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where)
        self.err(
            self.doc.loc((*r.unknown_path, attr, *where)),
            f"{r.address}: {shown} is known only after apply, so the plan does not say what "
            "it will be; make it known at plan time (a literal, or a value of a resource this "
            "plan creates: its arn or name), or test the state after apply with an "
            "authorization-details import",
        )
        raise _Unknown

    def listed(self, r: _Res, attr: str, item: type = str) -> list[Any]:
        """A list attribute (known at plan time) whose elements are ``item`` s."""
        value = self.known(r, attr) or []
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            what = "strings" if item is str else "objects"
            self.err(self.at(r, (attr,)), f"{r.address}: {attr} must be a list of {what}")
            raise _Unknown
        return value

    def is_unknown(self, r: _Res, attr: str) -> bool:
        return _has_true(r.unknown.get(attr)) is not None

    def referenced(self, r: _Res, attr: str) -> _Res | None:
        """The resource of this plan that ``attr``'s configuration names, when it names exactly
        one (``aws_iam_policy.boundary.arn``), else None."""
        expr = ((r.config or {}).get("expressions") or {}).get(attr)
        if not isinstance(expr, Mapping):
            return None
        refs = expr.get("references")
        if not isinstance(refs, list):
            return None
        return self.resolve_refs(r.module, [str(x) for x in refs])

    def resolve_refs(self, module: str, refs: list[str]) -> _Res | None:
        # a reference is listed with each of its prefixes (aws_iam_policy.x.arn, aws_iam_policy.x)
        longest = [x for x in refs if not any(o != x and o.startswith(x + ".") for o in refs)]
        if len(longest) != 1:
            return None
        parts = longest[0].split(".")
        if parts[0] == "module" and len(parts) >= 3:
            child = f"{module}.module.{parts[1]}" if module else f"module.{parts[1]}"
            out = self.outputs.get((child, parts[2]))
            expr = (out or {}).get("expression") or {}
            inner = expr.get("references")
            if not isinstance(inner, list):
                return None
            return self.resolve_refs(child, [str(x) for x in inner])
        mode = "managed"
        if parts[0] == "data":
            mode, parts = "data", parts[1:]
        if len(parts) < 2 or "[" in parts[1]:
            return None
        hits = self.by_key.get((module, mode, parts[0], parts[1]), [])
        return hits[0] if len(hits) == 1 else None

    def arn_of(self, r: _Res) -> str:
        """The ARN of a user, role, policy or repository, computed when the plan creates it."""
        if "arn" in r.computed:
            return r.computed["arn"]
        if not self.is_unknown(r, "arn") and isinstance(r.values.get("arn"), str):
            arn = str(r.values["arn"])
        else:
            name = self.known(r, "name")
            if not isinstance(name, str) or not name:
                self.err(self.at(r, ()), f"{r.address}: no name, so its ARN is unknown")
                raise _Unknown
            account = self.account_of(r)
            if account is None:
                self.err(
                    self.at(r, ()),
                    f"{r.address}: its ARN needs the account, which this plan does not name "
                    "(no data.aws_caller_identity); give `account:` in the import entry",
                )
                raise _Unknown
            if r.type == "aws_ecr_repository":
                region = self.region_of(r)
                if region is None:
                    self.err(
                        self.at(r, ()),
                        f"{r.address}: its ARN needs the region, which this plan does not name "
                        "(no provider region or data.aws_region); give `region:` in the import "
                        "entry",
                    )
                    raise _Unknown
                arn = f"arn:aws:ecr:{region}:{account}:repository/{name}"
            else:
                path = self.known(r, "path") or "/"
                kind = {"aws_iam_role": "role", "aws_iam_user": "user"}.get(r.type, "policy")
                arn = f"arn:aws:iam::{account}:{kind}{path}{name}"
        r.computed["arn"] = arn
        return arn

    def name_of(self, r: _Res) -> str:
        name = self.known(r, "name")
        if not isinstance(name, str) or not name:
            self.err(self.at(r, ()), f"{r.address}: expected a name")
            raise _Unknown
        return name

    def of_type(self, *types: str) -> Iterator[_Res]:
        """The managed resources of these types, in plan order."""
        if len(types) == 1:
            yield from self.by_type.get(types[0], ())
            return
        for r in self.res:
            if r.mode == "managed" and r.type in types:
                yield r

    def policy_with_arn(self, arn: object) -> _Res | None:
        """The ``aws_iam_policy`` of this plan whose ARN is ``arn``."""
        if self.policy_arns is None:
            self.policy_arns = {}
            for p in self.of_type("aws_iam_policy"):
                before = len(self.problems)
                try:
                    self.policy_arns.setdefault(self.arn_of(p), p)
                except _Unknown:
                    del self.problems[before:]  # a policy nothing attaches needs no ARN
        return self.policy_arns.get(arn) if isinstance(arn, str) else None

    # -- documents

    def document(self, r: _Res, attr: PolicyPath, name: str) -> ImportedPolicy:
        """The policy document in the JSON string at ``attr`` of ``r``."""
        full = (*r.path, *attr)
        unknown: Any = r.unknown
        for part in attr:
            unknown = _step(unknown, part)
        if _has_true(unknown) is not None:
            self.known(r, str(attr[0]))  # reports it
        value: Any = r.values
        for part in attr:
            value = _step(value, part)
        loc = self.doc.loc(full)
        if not isinstance(value, str) or not value.strip():
            self.err(loc, f"{r.address}: expected a policy document (a JSON string)")
            raise _Unknown
        try:
            inner = self.doc.embedded(full)
        except JsonProblem as exc:
            self.err(exc.loc, f"{r.address}: the policy is {exc.message}")
            raise _Unknown from None
        if not isinstance(inner.value, Mapping):
            self.err(loc, f"{r.address}: the policy must be a JSON object")
            raise _Unknown
        return ImportedPolicy(
            name, loc, inner.value, inner.loc, statement_lines=_one_line(inner.value, loc)
        )

    def policy_by_arn(self, r: _Res, attr: str, arn: object) -> ImportedPolicy:
        """The policy an attribute names: a policy of this plan, a shipped AWS managed one, or
        (when the value is unknown) the plan's policy its configuration references."""
        if self.is_unknown(r, attr):
            target = self.referenced(r, attr)
            if target is None or target.type != "aws_iam_policy":
                self.known(r, attr)  # reports it
            assert target is not None
            return self.customer_policy(target)
        loc = self.at(r, (attr,))
        if not isinstance(arn, str):
            self.err(loc, f"{r.address}: {attr} must be a policy ARN")
            raise _Unknown
        if managed.is_aws_managed_arn(arn):
            try:
                shipped = managed.lookup(arn)
            except managed.NotShipped as exc:
                self.err(loc, f"{r.address}: {exc}")
                raise _Unknown from None
            assert shipped is not None
            return ImportedPolicy(
                shipped.name, loc, shipped.document, lambda _p: loc, aws_managed=shipped.name
            )
        target = self.policy_with_arn(arn)
        if target is not None:
            return self.customer_policy(target)
        self.err(
            loc,
            f"{r.address}: {attr} {arn} is not a policy this plan creates or manages, so its "
            "document is unknown; add the policy to the configuration, or import the account "
            "with authorization-details",
        )
        raise _Unknown

    def customer_policy(self, p: _Res) -> ImportedPolicy:
        return self.document(p, ("policy",), self.name_of(p))

    # -- entities

    def link(self) -> None:
        """Which user or role each policy and attachment resource names, once for all."""
        self.links: dict[int, list[tuple[str, _Res]]] = {}
        #: users' groups: id(user) -> (the resource and attribute that names it, group name)
        self.memberships: dict[int, list[tuple[_Res, str, str]]] = {}
        named = self.named = {}
        for r in self.of_type("aws_iam_role", "aws_iam_user", "aws_iam_group"):
            name = r.values.get("name")
            if isinstance(name, str) and not self.is_unknown(r, "name"):
                named.setdefault((r.type, self.account_of(r), name), r)
        for rtype, key, how in (
            ("aws_iam_role_policy", "role", "inline"),
            ("aws_iam_role_policy_attachment", "role", "attach"),
            ("aws_iam_user_policy", "user", "inline"),
            ("aws_iam_user_policy_attachment", "user", "attach"),
            ("aws_iam_group_policy", "group", "inline"),
            ("aws_iam_group_policy_attachment", "group", "attach"),
        ):
            target_type = f"aws_iam_{key}"
            for x in self.of_type(rtype):
                target: _Res | None
                if self.is_unknown(x, key):
                    target = self.referenced(x, key)
                    if target is None or target.type != target_type:
                        try:
                            self.known(x, key)  # reports it
                        except _Unknown:
                            continue
                else:
                    target = named.get((target_type, self.account_of(x), str(x.values.get(key))))
                if target is not None:
                    self.links.setdefault(id(target), []).append((how, x))
        for x in self.of_type("aws_iam_policy_attachment"):
            for key in ("roles", "users", "groups"):
                try:
                    members = self.listed(x, key)
                except _Unknown:
                    continue
                for member in members:
                    target = named.get((f"aws_iam_{key[:-1]}", self.account_of(x), str(member)))
                    if target is not None:
                        self.links.setdefault(id(target), []).append(("attach", x))
        for x in self.of_type("aws_iam_user_group_membership"):
            try:
                user = self.member(x, "user", "aws_iam_user")
                groups = self.listed(x, "groups")
            except _Unknown:
                continue
            if user is not None:
                self.memberships.setdefault(id(user), []).extend((x, "groups", g) for g in groups)
        for x in self.of_type("aws_iam_group_membership"):
            try:
                group = self.known(x, "group")
                users = self.listed(x, "users")
            except _Unknown:
                continue
            for name in users:
                user = named.get(("aws_iam_user", self.account_of(x), name))
                if user is not None:
                    self.memberships.setdefault(id(user), []).append((x, "group", str(group)))

    def member(self, x: _Res, key: str, target_type: str) -> _Res | None:
        """The user (or group) of this plan that attribute ``key`` of ``x`` names."""
        if self.is_unknown(x, key):
            target = self.referenced(x, key)
            if target is None or target.type != target_type:
                self.known(x, key)  # reports it
            return target
        return self.named.get((target_type, self.account_of(x), str(x.values.get(key))))

    def group_policies(self, user: _Res) -> list[ImportedPolicy]:
        """The policies a user gets through its groups; a group this plan does not create is
        an error (its policies are unknown)."""
        out: list[ImportedPolicy] = []
        failed = False
        for x, attr, name in self.memberships.get(id(user), []):
            group = self.named.get(("aws_iam_group", self.account_of(x), name))
            if group is None:
                self.err(
                    self.at(x, (attr,)),
                    f"{x.address}: group {name!r} is not in this plan, so its policies are "
                    "unknown; add it to the configuration, or import the account with "
                    "authorization-details",
                )
                failed = True
                continue
            for how, y in self.links.get(id(group), ()):
                try:
                    if how == "inline":
                        out.append(self.document(y, ("policy",), f"group {name}/{self.name_of(y)}"))
                    else:
                        out.append(self.policy_by_arn(y, "policy_arn", y.values.get("policy_arn")))
                except _Unknown:
                    failed = True
        if failed:
            raise _Unknown
        return out

    def principals(self) -> list[ImportedPrincipal]:
        out: list[ImportedPrincipal] = []
        kinds = {"aws_iam_role": PrincipalKind.ROLE, "aws_iam_user": PrincipalKind.USER}
        self.link()
        for r in self.of_type("aws_iam_role", "aws_iam_user"):
            try:
                out.append(self.principal(r, kinds[r.type]))
            except _Unknown:
                continue
        return out

    def principal(self, r: _Res, kind: PrincipalKind) -> ImportedPrincipal:
        name = self.name_of(r)
        word = kind.value
        policies: list[ImportedPolicy] = []
        failed = False
        arn = ""
        try:
            arn = self.arn_of(r)
        except _Unknown:
            failed = True
        if kind is PrincipalKind.ROLE:
            if self.is_unknown(r, "inline_policy") and self.has_expression(r, "inline_policy"):
                self.known(r, "inline_policy")
            try:
                inline = (
                    self.listed(r, "inline_policy", Mapping)
                    if not self.is_unknown(r, "inline_policy")
                    else []
                )
            except _Unknown:
                inline, failed = [], True
            for i, entry in enumerate(inline):
                if not entry.get("name") and not entry.get("policy"):
                    continue  # the provider's empty placeholder block
                try:
                    policies.append(
                        self.document(r, ("inline_policy", i, "policy"), f"{name}/{entry['name']}")
                    )
                except _Unknown:
                    failed = True
            if self.is_unknown(r, "managed_policy_arns") and self.has_expression(
                r, "managed_policy_arns"
            ):
                self.known(r, "managed_policy_arns")
            try:
                arns = (
                    self.listed(r, "managed_policy_arns")
                    if not self.is_unknown(r, "managed_policy_arns")
                    else []
                )
            except _Unknown:
                arns, failed = [], True
            for i, arn_text in enumerate(arns):
                try:
                    policies.append(self.attached(r, ("managed_policy_arns", i), arn_text))
                except _Unknown:
                    failed = True
        for how, x in self.links.get(id(r), ()):
            try:
                if how == "inline":
                    policies.append(self.document(x, ("policy",), f"{name}/{self.name_of(x)}"))
                else:
                    policies.append(self.policy_by_arn(x, "policy_arn", x.values.get("policy_arn")))
            except _Unknown:
                failed = True
        try:
            self.exclusive(r, word, name, policies)
            if kind is PrincipalKind.USER:
                policies.extend(self.group_policies(r))
        except _Unknown:
            failed = True
        boundary = None
        try:
            if self.is_unknown(r, "permissions_boundary") or r.values.get("permissions_boundary"):
                boundary = self.policy_by_arn(
                    r, "permissions_boundary", r.values.get("permissions_boundary")
                )
        except _Unknown:
            failed = True
        tags = self.tags(r)
        if failed:
            raise _Unknown
        return ImportedPrincipal(
            name, kind, arn, self.at(r, ()), unique_by_name(policies), boundary, tags
        )

    def attached(self, r: _Res, where: PolicyPath, arn: object) -> ImportedPolicy:
        loc = self.doc.loc((*r.path, *where))
        if isinstance(arn, str) and managed.is_aws_managed_arn(arn):
            try:
                shipped = managed.lookup(arn)
            except managed.NotShipped as exc:
                self.err(loc, f"{r.address}: {exc}")
                raise _Unknown from None
            assert shipped is not None
            return ImportedPolicy(
                shipped.name, loc, shipped.document, lambda _p: loc, aws_managed=shipped.name
            )
        target = self.policy_with_arn(arn)
        if target is not None:
            return self.customer_policy(target)
        self.err(
            loc,
            f"{r.address}: managed policy {arn} is not a policy this plan creates or manages, "
            "so its document is unknown; add the policy to the configuration, or import the "
            "account with authorization-details",
        )
        raise _Unknown

    def has_expression(self, r: _Res, attr: str) -> bool:
        return attr in ((r.config or {}).get("expressions") or {})

    def exclusive(self, r: _Res, word: str, name: str, policies: list[ImportedPolicy]) -> None:
        """``aws_iam_{role,user}_polic{ies,y_attachments}_exclusive``: the principal holds
        exactly the listed policies; one the plan does not define is an error."""
        for x in self.of_type(f"aws_iam_{word}_policies_exclusive"):
            if self.known(x, f"{word}_name") != name:
                continue
            listed = set(self.listed(x, "policy_names"))
            have = {
                p.name.split("/", 1)[1] for p in policies if "/" in p.name and not p.aws_managed
            }
            for missing in sorted(listed - have):
                self.err(
                    self.at(x, ("policy_names",)),
                    f"{x.address}: inline policy {missing!r} of {word} {name} is not in this "
                    "plan, so its document is unknown",
                )
            for p in list(policies):
                if "/" in p.name and not p.aws_managed and p.name.split("/", 1)[1] not in listed:
                    policies.remove(p)
        for x in self.of_type(f"aws_iam_{word}_policy_attachments_exclusive"):
            if self.known(x, f"{word}_name") != name:
                continue
            for i, arn in enumerate(self.listed(x, "policy_arns")):
                policies.append(self.attached(x, ("policy_arns", i), arn))

    def tags(self, r: _Res) -> dict[str, str]:
        attr = "tags_all" if "tags_all" in r.values or self.is_unknown(r, "tags_all") else "tags"
        value = self.known(r, attr) or {}
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            self.err(self.at(r, (attr,)), f"{r.address}: {attr} must map tag keys to text")
            raise _Unknown
        return {str(k): v for k, v in value.items()}

    def repositories(self) -> list[ImportedRepository]:
        policies: dict[int, ImportedPolicy] = {}
        by_name: dict[str, _Res] = {}
        repos = list(self.of_type("aws_ecr_repository"))
        for repo in repos:
            try:
                by_name[self.name_of(repo)] = repo
            except _Unknown:
                continue
        for x in self.of_type("aws_ecr_repository_policy"):
            try:
                if self.is_unknown(x, "repository"):
                    target = self.referenced(x, "repository")
                    if target is None or target.type != "aws_ecr_repository":
                        self.known(x, "repository")
                    assert target is not None
                else:
                    name = x.values.get("repository")
                    if not isinstance(name, str) or name not in by_name:
                        self.err(
                            self.at(x, ("repository",)),
                            f"{x.address}: repository {name!r} is not in this plan, so its ARN "
                            "and tags are unknown; add it to the configuration",
                        )
                        continue
                    target = by_name[str(name)]
                if id(target) in policies:
                    self.err(
                        self.at(x, ()),
                        f"{x.address}: a second repository policy for {target.address}; a "
                        "repository has one policy",
                    )
                    continue
                policies[id(target)] = self.document(
                    x, ("policy",), f"{self.name_of(target)} repository policy"
                )
            except _Unknown:
                continue
        out: list[ImportedRepository] = []
        for name, repo in by_name.items():
            try:
                out.append(
                    ImportedRepository(
                        name,
                        self.arn_of(repo),
                        self.at(repo, ()),
                        policies.get(id(repo)),
                        self.tags(repo),
                    )
                )
            except _Unknown:
                continue
        return out

    def organization_policies(self) -> list[ImportedOrgPolicy]:
        attached: set[int] = set()
        for x in self.of_type("aws_organizations_policy_attachment"):
            if self.is_unknown(x, "policy_id"):
                target = self.referenced(x, "policy_id")
                if target is not None:
                    attached.add(id(target))
                    continue
            for p in self.of_type("aws_organizations_policy"):
                if not self.is_unknown(p, "id") and p.values.get("id") == x.values.get("policy_id"):
                    attached.add(id(p))
        out: list[ImportedOrgPolicy] = []
        for p in self.of_type("aws_organizations_policy"):
            kind = _ORG_KINDS.get(str(p.values.get("type") or "SERVICE_CONTROL_POLICY"))
            if kind is None:
                continue
            if id(p) not in attached:
                self.warnings.append(
                    Problem(
                        self.at(p, ()),
                        f"{p.address}: not imported: no aws_organizations_policy_attachment of "
                        "this plan attaches it",
                    )
                )
                continue
            try:
                out.append(ImportedOrgPolicy(kind, self.document(p, ("content",), self.name_of(p))))
            except _Unknown:
                continue
        return out

    def refuse_groups(self) -> None:
        for r in self.res:
            if r.mode == "managed" and r.type in _GROUP_TYPES:
                self.err(
                    self.at(r, ()),
                    f"{r.address}: the exclusive resources of IAM groups are not read from "
                    "Terraform plans, and without them a member's group policies could be "
                    "wrong; import the account with authorization-details instead",
                )


def parse_plan(display: str, text: str, settings: Settings | None = None) -> ImportResult:
    """Read ``terraform show -json`` output (``text`` of the file shown as ``display``)."""
    kind = ImportKind.TERRAFORM_PLAN
    try:
        doc = parse_json(display, text)
    except JsonProblem as exc:
        return ImportResult(display, kind, problems=(Problem(exc.loc, exc.message),))
    plan = _Plan(doc, settings or Settings())
    plan.read()
    if plan.problems:
        return ImportResult(display, kind, problems=tuple(plan.problems))
    plan.refuse_groups()
    principals = plan.principals()
    repositories = plan.repositories()
    org = plan.organization_policies()
    return ImportResult(
        display,
        kind,
        principals=tuple(principals),
        repositories=tuple(repositories),
        organization_policies=tuple(org),
        problems=tuple(dict.fromkeys(plan.problems)),
        warnings=tuple(plan.warnings),
    )
