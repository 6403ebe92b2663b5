"""The index of a ``terraform show -json`` plan that the Terraform reader works on: every
resource instance left after apply, the configuration's references, the account and region of
each provider configuration, and values known at plan time (``Plan.known`` reports one known
only after apply, at its place).

Shape: Terraform's "JSON Output Format" page; a plan whose skeleton differs is refused at the
places where it does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.errors import Problem
from runner.model import PolicyPath, SourceLoc
from runner.spec.imports.common import ImportedPolicy, Settings
from runner.spec.imports.jsonpos import JsonProblem, JsonText

__all__ = ["Plan", "Res", "Unknown"]


class Unknown(Exception):
    """A value the plan does not know; already reported."""


@dataclass(slots=True, eq=False)
class Res:
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


#: The ``change.actions`` that leave an object whose values ``change.after`` holds ("JSON
#: Output Format": ``["delete"]`` leaves none, a replacement is ``["delete", "create"]`` or
#: ``["create", "delete"]``).
_LEAVES = frozenset(
    {
        (),
        ("no-op",),
        ("create",),
        ("read",),
        ("update",),
        ("delete", "create"),
        ("create", "delete"),
    }
)


def _actions_refusal(rc: Mapping[str, Any], actions: tuple[str, ...]) -> str:
    address = rc.get("address")
    if "forget" in actions:
        return (
            f"{address}: the plan forgets this object (a `removed` block with destroy = "
            "false): it stays in the account as it is, outside the plan, so the plan does "
            "not say what it holds after apply; import the account with authorization-details"
        )
    return (
        f"{address}: unknown change actions {json.dumps(list(actions))}; `terraform show "
        "-json` writes "
        '["no-op"], ["create"], ["read"], ["update"], ["delete"], ["delete", "create"] or '
        '["create", "delete"]'
    )


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


def _provider_key(r: Res) -> str:
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


class Plan:
    def __init__(self, doc: JsonText, settings: Settings) -> None:
        self.doc = doc
        self.settings = settings
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.res: list[Res] = []
        self.config: dict[tuple[str, str, str, str], Mapping[str, Any]] = {}
        self.outputs: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.account: str | None = None
        self.region: str | None = None
        self.accounts: dict[str, str] = {}
        self.regions: dict[str, str] = {}
        self.by_key: dict[tuple[str, str, str, str], list[Res]] = {}
        self.by_type: dict[str, list[Res]] = {}
        self.policy_arns: dict[str, Res] | None = None
        self.named: dict[tuple[str, str | None, str], Res] = {}

    # -- reporting

    def err(self, loc: SourceLoc, message: str) -> None:
        self.problems.append(Problem(loc, message))

    def at(self, r: Res, attr: PolicyPath) -> SourceLoc:
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
            actions = tuple(change.get("actions") or ())
            seen.add(str(rc.get("address")))
            base = ("resource_changes", i, "change")
            if actions == ("delete",):
                continue
            if actions not in _LEAVES:
                self.err(self.doc.loc((*base, "actions")), _actions_refusal(rc, actions))
                continue
            if change.get("after") is None:
                where = (*base, "after") if "after" in change else base
                self.err(
                    self.doc.loc(where),
                    f"{rc.get('address')}: change.after is "
                    f"{'null' if 'after' in change else 'missing'}, but the actions "
                    f"{json.dumps(list(actions))} leave an object, whose values `terraform show "
                    "-json` writes there",
                )
                continue
            self.res.append(
                Res(
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
                Res(
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

    def account_of(self, r: Res) -> str | None:
        key = _provider_key(r)
        return self.accounts.get(key) or self.accounts.get(key.split(":")[-1]) or self.account

    def region_of(self, r: Res) -> str | None:
        key = _provider_key(r)
        return self.regions.get(key) or self.regions.get(key.split(":")[-1]) or self.region

    # -- values

    def known(self, r: Res, attr: str) -> Any:
        """The value of ``attr``; raises Unknown (reported) when it is known only after apply."""
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
        raise Unknown

    def listed(self, r: Res, attr: str, item: type = str) -> list[Any]:
        """A list attribute (known at plan time) whose elements are ``item`` s."""
        value = self.known(r, attr) or []
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            what = "strings" if item is str else "objects"
            self.err(self.at(r, (attr,)), f"{r.address}: {attr} must be a list of {what}")
            raise Unknown
        return value

    def is_unknown(self, r: Res, attr: str) -> bool:
        return _has_true(r.unknown.get(attr)) is not None

    def referenced(self, r: Res, attr: str) -> Res | None:
        """The resource of this plan that ``attr``'s configuration names, when it names exactly
        one (``aws_iam_policy.boundary.arn``), else None."""
        expr = ((r.config or {}).get("expressions") or {}).get(attr)
        if not isinstance(expr, Mapping):
            return None
        refs = expr.get("references")
        if not isinstance(refs, list):
            return None
        return self.resolve_refs(r.module, [str(x) for x in refs])

    def resolve_refs(self, module: str, refs: list[str]) -> Res | None:
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

    def arn_of(self, r: Res) -> str:
        """The ARN of a user, role, policy or repository, computed when the plan creates it."""
        if "arn" in r.computed:
            return r.computed["arn"]
        if not self.is_unknown(r, "arn") and isinstance(r.values.get("arn"), str):
            arn = str(r.values["arn"])
        else:
            name = self.known(r, "name")
            if not isinstance(name, str) or not name:
                self.err(self.at(r, ()), f"{r.address}: no name, so its ARN is unknown")
                raise Unknown
            account = self.account_of(r)
            if account is None:
                self.err(
                    self.at(r, ()),
                    f"{r.address}: its ARN needs the account, which this plan does not name "
                    "(no data.aws_caller_identity); give `account:` in the import entry",
                )
                raise Unknown
            if r.type == "aws_ecr_repository":
                region = self.region_of(r)
                if region is None:
                    self.err(
                        self.at(r, ()),
                        f"{r.address}: its ARN needs the region, which this plan does not name "
                        "(no provider region or data.aws_region); give `region:` in the import "
                        "entry",
                    )
                    raise Unknown
                arn = f"arn:aws:ecr:{region}:{account}:repository/{name}"
            else:
                path = self.known(r, "path") or "/"
                kind = {"aws_iam_role": "role", "aws_iam_user": "user"}.get(r.type, "policy")
                arn = f"arn:aws:iam::{account}:{kind}{path}{name}"
        r.computed["arn"] = arn
        return arn

    def name_of(self, r: Res) -> str:
        name = self.known(r, "name")
        if not isinstance(name, str) or not name:
            self.err(self.at(r, ()), f"{r.address}: expected a name")
            raise Unknown
        return name

    def of_type(self, *types: str) -> Iterator[Res]:
        """The managed resources of these types, in plan order."""
        if len(types) == 1:
            yield from self.by_type.get(types[0], ())
            return
        for r in self.res:
            if r.mode == "managed" and r.type in types:
                yield r

    def policy_with_arn(self, arn: object) -> Res | None:
        """The ``aws_iam_policy`` of this plan whose ARN is ``arn``."""
        if self.policy_arns is None:
            self.policy_arns = {}
            for p in self.of_type("aws_iam_policy"):
                before = len(self.problems)
                try:
                    self.policy_arns.setdefault(self.arn_of(p), p)
                except Unknown:
                    del self.problems[before:]  # a policy nothing attaches needs no ARN
        return self.policy_arns.get(arn) if isinstance(arn, str) else None

    # -- documents

    def document(self, r: Res, attr: PolicyPath, name: str) -> ImportedPolicy:
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
            raise Unknown
        try:
            inner = self.doc.embedded(full)
        except JsonProblem as exc:
            self.err(exc.loc, f"{r.address}: the policy is {exc.message}")
            raise Unknown from None
        if not isinstance(inner.value, Mapping):
            self.err(loc, f"{r.address}: the policy must be a JSON object")
            raise Unknown
        return ImportedPolicy(
            name, loc, inner.value, inner.loc, statement_lines=_one_line(inner.value, loc)
        )
