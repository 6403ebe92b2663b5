"""Cases into checks: each principal x resource x action or operation of a case is one
:class:`~runner.model.Check` with a test id unique within its spec file."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from runner import catalog, model, words
from runner.spec.arns import ArnReferences, id_part, is_arn
from runner.spec.classes import ANYONE, EVERYONE
from runner.spec.context_keys import KeyChecks
from runner.spec.entities import Entities
from runner.spec.exception_key import read_exception
from runner.spec.includes import Definitions
from runner.spec.nodes import Entry, Reader, SourceFile
from runner.spec.yamlsafe import Node, ScalarNode, describe, excerpt, where

__all__ = ["MAX_CHECKS", "CaseReader", "slug"]

#: A spec file may not expand into more checks than this.
MAX_CHECKS = 100_000

_CASE_KEYS = (
    "name", "principal", "resource", "allow", "deny", "action", "expect", "only", "context",
    "exception",
)  # fmt: skip
_EXPECT_WORDS = {
    "allow": "allowed",
    "deny": "denied",
    "explicit-deny": "explicitly denied",
    "implicit-deny": "implicitly denied",
}


#: What a case names as its principals: principals and classes of callers.
_Callers = list[model.Principal | model.CallerClass]


@dataclass(frozen=True, slots=True)
class _Action:
    """One action or operation of a case: the ECR actions it evaluates, what is expected,
    and where it was written."""

    action: str
    steps: tuple[str, ...]
    expected: str
    node: Node


@functools.lru_cache(maxsize=4096)
def _resolve_action(text: str) -> tuple[str, ...] | str:
    """``catalog.resolve_action`` once per distinct text: the actions, or the error message."""
    try:
        return tuple(catalog.resolve_action(text))
    except catalog.UnknownAction as exc:
        return str(exc)


def slug(name: str) -> str:
    """A case name as the label of its test ids: lowercase, spaces as '-', and only letters,
    digits, '-', '_' and '.' kept (so ids work with ``pytest -k`` and ``--lf``); runs of '-'
    become one. Empty when nothing is left (the caller then uses ``case<N>``)."""
    kept = "".join(ch for ch in name.lower().replace(" ", "-") if ch.isalnum() or ch in "-_.")
    text = re.sub(r"-{2,}", "-", kept).strip("-")
    return text if any(ch.isalnum() for ch in text) else ""


class CaseReader:
    """Reads the cases of one spec file, in order, into checks."""

    def __init__(
        self,
        reader: Reader,
        defs: Definitions,
        entities: Entities,
        organization: model.Organization | None,
        closed_accounts: frozenset[str] = frozenset(),
    ) -> None:
        self.reader = reader
        self.defs = defs
        self.entities = entities
        self.organization = organization
        self.closed_accounts = closed_accounts
        self._defined_cache: dict[str, model.Principal] | None = None
        self.file_context = {e.key: e.values for e in defs.context.values()}
        self.key_checks = KeyChecks(reader, defs)
        self.arns = ArnReferences(reader, entities)
        self._labels: set[str] = set()
        self._ids: set[str] = set()

    def principals(self, f: SourceFile, node: Node, *, classes: bool = True) -> _Callers | None:
        """The principals (and classes of callers) a case names, or None when any is wrong
        (reported)."""
        reader = self.reader
        refs = reader.name_list(f, node, "principal name", "a list of principal names")
        ok = refs is not None
        out: _Callers = []
        seen: set[str] = set()
        for pname, pnode in refs or []:
            if pname in seen:
                reader.error(f, pnode, f"principal {excerpt(pname)} is listed twice in this case")
                ok = False
                continue
            seen.add(pname)
            if pname in self.defs.broken:
                ok = False
                continue
            if classes and pname == ANYONE and pname not in self.defs.principals:
                out.append(EVERYONE)
                continue
            if is_arn(pname):
                by_arn = self.arns.principal(f, pnode, pname)
                if by_arn is None:
                    ok = False  # reported
                else:
                    out.append(by_arn)
                continue
            if pname not in self.defs.principals and pname not in self.entities.imports.principals:
                reader.unknown(f, pnode, "principal", pname, self.entities.principal_names)
                ok = False
                continue
            if self.entities.is_class(pname):
                found = self.entities.caller_class(pname)
                if not classes:
                    reader.error(
                        f, pnode, f"{excerpt(pname)} is a class of callers; 'only' names principals"
                    )
                    ok = False
                elif found is None:
                    ok = False  # already reported at its definition
                else:
                    out.append(found)
                continue
            p = self.entities.principal(pname)
            if p is None:
                ok = False  # already reported at its definition
            else:
                out.append(p)
        return out if ok else None

    def resources(self, f: SourceFile, node: Node) -> list[model.Resource | None] | None:
        """The resources a case names, or None when any is wrong (reported)."""
        reader = self.reader
        refs = reader.name_list(f, node, "resource name", "a list of resource names")
        ok = refs is not None
        out: list[model.Resource | None] = []
        seen: set[str] = set()
        for rname, rnode in refs or []:
            if rname in seen:
                reader.error(f, rnode, f"resource {excerpt(rname)} is listed twice in this case")
                ok = False
                continue
            seen.add(rname)
            if rname in self.defs.broken:
                ok = False
                continue
            if is_arn(rname):
                r_arn = self.arns.resource(f, rnode, rname)
                if r_arn is None:
                    ok = False  # reported
                else:
                    out.append(r_arn)
                continue
            if rname not in self.defs.resources and rname not in self.entities.imports.resources:
                reader.unknown(f, rnode, "resource", rname, self.entities.resource_names)
                ok = False
                continue
            r = self.entities.resource(rname)
            if r is None:
                ok = False
            else:
                out.append(r)
        return out if ok else None

    def actions(
        self,
        f: SourceFile,
        node: Node,
        expected: str,
        has_resource: bool,
        into: dict[str, _Action],
    ) -> bool:
        """Resolve an allow/deny/action value into ``into`` (by action), keeping the first of
        identical entries; False when a problem was reported."""
        reader = self.reader
        names = reader.name_list(f, node, "action", "a list of actions")
        if names is None:
            return False
        ok = True
        for text, item in names:
            entries: list[tuple[str, tuple[str, ...]]]
            if text.lower() in catalog.OPERATIONS:
                op = text.lower()
                entries = [(op, tuple(catalog.OPERATIONS[op]))]
                if not has_resource:
                    reader.error(
                        f,
                        item,
                        f"{op} acts on a repository ({', '.join(catalog.OPERATIONS[op])}); "
                        "name a resource",
                    )
                    ok = False
                    continue
            else:
                resolved = _resolve_action(text)
                if isinstance(resolved, str):
                    near = words.closest(text.lower().removeprefix("ecr:"), catalog.OPERATIONS)
                    if near:
                        ops = catalog.OPERATIONS[near]
                        resolved = (
                            f"unknown action {excerpt(text)}; did you mean the operation {near!r} "
                            f"(every action `docker {near}` needs: {', '.join(ops)})?"
                        )
                    reader.error(f, item, resolved)
                    ok = False
                    continue
                if not has_resource:
                    repo_level = [a for a in resolved if not catalog.is_account_level(a)]
                    if repo_level and len(resolved) == 1:
                        reader.error(
                            f, item, f"{repo_level[0]} acts on a repository; name a resource"
                        )
                        ok = False
                        continue
                    if repo_level:
                        shown = ", ".join(repo_level[:5]) + (", ..." if len(repo_level) > 5 else "")
                        reader.error(
                            f,
                            item,
                            f"{text} matches actions that act on a repository ({shown}); "
                            "name a resource",
                        )
                        ok = False
                        continue
                elif "*" in text or "?" in text:
                    # with a resource, a wildcard means the actions on that repository: an
                    # account-level action acts on the caller's registry and never consults
                    # a repository policy, so it is not expanded against a repository
                    on_repository = tuple(a for a in resolved if not catalog.is_account_level(a))
                    if not on_repository:
                        shown = ", ".join(resolved[:5]) + (", ..." if len(resolved) > 5 else "")
                        reader.error(
                            f,
                            item,
                            f"{excerpt(text)} matches only actions on the registry ({shown}), "
                            "none on a repository; name them in a case without 'resource'",
                        )
                        ok = False
                        continue
                    resolved = on_repository
                entries = [(a, (a,)) for a in resolved]
            for action, steps in entries:
                prev = into.get(action)
                if prev is None:
                    into[action] = _Action(action, steps, expected, item)
                elif prev.expected != expected:
                    pline, pcol = where(prev.node)
                    reader.error(
                        f,
                        item,
                        f"{action} is expected to be {_EXPECT_WORDS[expected]} here but "
                        f"{_EXPECT_WORDS[prev.expected]} at {pline}:{pcol} of the same case",
                    )
                    ok = False
        return ok

    def _expectation(self, f: SourceFile, node: Node) -> str | None:
        word = node.value if isinstance(node, ScalarNode) else None
        if word in model.EXPECTATIONS:
            return str(word)
        best = words.closest(word, model.EXPECTATIONS) if isinstance(word, str) else None
        hint = f"; did you mean {best!r}?" if best else ""
        self.reader.error(
            f,
            node,
            "expected one of " + ", ".join(model.EXPECTATIONS) + f", got {describe(node)}{hint}",
        )
        return None

    def case(self, f: SourceFile, index: int, node: Node) -> list[model.Check] | None:
        """The checks of case number ``index`` (from 0), or None when it is wrong (reported)."""
        reader = self.reader
        items = reader.mapping(f, node, "a case (a mapping with principal, resource, allow, ...)")
        if items is None:
            return None
        keys = reader.keys(f, items, _CASE_KEYS, "key", " in a case")
        ok = len(keys) == len(items)
        name: str | None = None
        if "name" in keys:
            name = reader.text(f, keys["name"][1], "a case name (text)")
            ok = ok and name is not None
        if "only" in keys:
            return self._only(f, index, node, keys, name, ok)
        principals: _Callers = []
        if "principal" not in keys:
            if ok:  # not when a key is misspelt: that message says it all
                reader.error(
                    f, node, "a case needs 'principal' (a principal name or a list of names)"
                )
            ok = False
        else:
            got_p = self.principals(f, keys["principal"][1])
            ok = ok and got_p is not None
            principals = got_p or []
        resources: list[model.Resource | None] = [None]
        if "resource" in keys:
            got_r = self.resources(f, keys["resource"][1])
            ok = ok and got_r is not None
            resources = got_r or []
        has_resource = "resource" in keys
        # actions, in the order the keys are written
        actions: dict[str, _Action] = {}
        if "action" in keys and "expect" not in keys:
            reader.error(
                f,
                keys["action"][0],
                "'action' needs 'expect' (allow, deny, explicit-deny or implicit-deny)",
            )
            ok = False
        if "expect" in keys and "action" not in keys:
            reader.error(f, keys["expect"][0], "'expect' needs 'action' (the actions it is about)")
            ok = False
        expect: str | None = None
        if "expect" in keys:
            expect = self._expectation(f, keys["expect"][1])
            ok = ok and expect is not None
        if not any(k in keys for k in ("allow", "deny", "action")):
            if len(keys) == len(items):
                reader.error(f, node, "a case needs 'allow', 'deny', or 'action' with 'expect'")
            ok = False
        for key, (_knode, vnode) in keys.items():
            if key in ("allow", "deny"):
                ok = self.actions(f, vnode, key, has_resource, actions) and ok
            elif key == "action" and expect is not None:
                ok = self.actions(f, vnode, expect, has_resource, actions) and ok
        # context
        context: dict[str, tuple[str, ...]] = dict(self.file_context)
        own_nodes: dict[str, ScalarNode] = {}
        if "context" in keys:
            own = reader.context(f, keys["context"][1])
            own_nodes = {c.key.lower(): c.node for c in own}
            context = {k: v for k, v in context.items() if k.lower() not in own_nodes}
            for c in own:
                context[c.key] = c.values
        known = None
        if "exception" in keys:
            known = read_exception(reader, f, *keys["exception"])
            ok = ok and known is not None
        if not ok:
            return None
        if not self._keys_ok(f, node, context, own_nodes, principals, resources, actions):
            return None
        total = len(principals) * len(resources) * len(actions)
        if total > MAX_CHECKS:
            reader.error(
                f, node, f"this case expands to {total} checks; at most {MAX_CHECKS} are allowed"
            )
            return None
        made = self._checks(f, index, node, name, principals, resources, actions, context)
        if known is not None:
            made = [replace(check, exception=known) for check in made]
        return made

    def _keys_ok(
        self,
        f: SourceFile,
        node: Node,
        context: Mapping[str, tuple[str, ...]],
        own_nodes: dict[str, ScalarNode],
        principals: _Callers,
        resources: list[model.Resource | None],
        actions: dict[str, _Action],
    ) -> bool:
        """The context checks of the named principals (a class's keys range or are fixed); a
        key the tool cannot know makes only the checks that need it errors (see
        :meth:`KeyChecks.unknowable`)."""
        if all(len(v) <= 1 for v in context.values()):
            return True  # only a key with several values is checked here
        named = [p for p in principals if isinstance(p, model.Principal)]
        case_steps = {a for entry in actions.values() for a in entry.steps}
        org = self.organization
        ctx = dict(context)
        return self.key_checks.single_valued_keys(
            f, ctx, own_nodes, named, resources, org, case_steps
        )

    def _only(
        self,
        f: SourceFile,
        index: int,
        node: Node,
        keys: dict[str, Entry],
        name: str | None,
        ok: bool,
    ) -> list[model.Check] | None:
        """``only: [NAME, ...]`` with a resource and ``action``: each named principal is
        allowed, and no other caller is (one universal check per resource and action)."""
        reader = self.reader
        for wrong in ("principal", "allow", "deny", "expect"):
            if wrong in keys:
                reader.error(
                    f,
                    keys[wrong][0],
                    f"a case with 'only' takes no {wrong!r}: 'only' names the principals that "
                    "are allowed the case's 'action', and no other caller is",
                )
                ok = False
        for needed in ("resource", "action"):
            if needed not in keys:
                reader.error(f, node, f"a case with 'only' needs {needed!r}")
                ok = False
        named = self.principals(f, keys["only"][1], classes=False)
        ok = ok and named is not None
        resources: list[model.Resource | None] = []
        if "resource" in keys:
            got_r = self.resources(f, keys["resource"][1])
            ok = ok and got_r is not None
            resources = got_r or []
        actions: dict[str, _Action] = {}
        if "action" in keys:
            ok = self.actions(f, keys["action"][1], "allow", True, actions) and ok
        context: dict[str, tuple[str, ...]] = dict(self.file_context)
        own_nodes: dict[str, ScalarNode] = {}
        if "context" in keys:
            own = reader.context(f, keys["context"][1])
            own_nodes = {c.key.lower(): c.node for c in own}
            context = {k: v for k, v in context.items() if k.lower() not in own_nodes}
            for c in own:
                context[c.key] = c.values
        if not ok or named is None:
            return None
        principals: _Callers = list(named)
        if not self._keys_ok(f, node, context, own_nodes, principals, resources, actions):
            return None
        others = model.CallerClass(ANYONE, excluded=frozenset(p.name for p in named))
        denied = {a: replace(entry, expected="deny") for a, entry in actions.items()}
        return self._checks(
            f, index, node, name, [*principals, others], resources, actions, context, denied
        )

    def _defined(self) -> dict[str, model.Principal]:
        """Every principal the spec defines or imports (classes aside), by name."""
        if self._defined_cache is None:
            out: dict[str, model.Principal] = {}
            for pname in self.entities.principal_names:
                if pname == ANYONE or self.entities.is_class(pname):
                    continue
                found = self.entities.principal(pname)
                if found is not None:
                    out[pname] = found
            self._defined_cache = out
        return self._defined_cache

    def _checks(
        self,
        f: SourceFile,
        index: int,
        node: Node,
        name: str | None,
        principals: _Callers,
        resources: list[model.Resource | None],
        actions: dict[str, _Action],
        context: Mapping[str, tuple[str, ...]],
        universal_actions: dict[str, _Action] | None = None,
    ) -> list[model.Check]:
        labels, ids = self._labels, self._ids
        label = slug(name) if name else ""
        if not label:
            label = f"case{index + 1}"
        if label in labels:
            n = 2
            while f"{label}-{n}" in labels:
                n += 1
            label = f"{label}-{n}"
        labels.add(label)
        line, col = where(node)
        loc = model.SourceLoc(f.display, line, col)
        case_name = name if name else f"case{index + 1}"
        out: list[model.Check] = []
        file, organization = f.display, self.organization
        for who in principals:
            universal: model.Universal | None = None
            entries = actions
            if isinstance(who, model.CallerClass):
                universal = model.Universal(who, self._defined(), self.closed_accounts)
                # a stand-in named after the class: ids, reports and eval name the class
                p = model.Principal(who.name, model.PrincipalType.ANONYMOUS)
                entries = universal_actions if universal_actions is not None else actions
            else:
                p = who
            who_id = id_part(p.name)
            for r in resources:
                unknowable = (
                    None
                    if universal is not None
                    else self.key_checks.unknowable(f, node, context, p, r, organization)
                )
                # the test id's parameters: principal, resource (if any) and action, by '-'
                before = f"{who_id}-{id_part(r.name)}-" if r is not None else f"{who_id}-"
                for entry in entries.values():
                    params = before + entry.action
                    test_id = f"{label}[{params}]"
                    if test_id in ids:
                        n = 2
                        while test_id in ids:
                            test_id = f"{label}[{params}-{n}]"
                            n += 1
                    ids.add(test_id)
                    # positional, in the order of Check's fields (eval over 100 of
                    # bench_scale.py's files: 1.1% fewer instructions than by keyword)
                    out.append(
                        model.Check(
                            file,
                            loc,
                            case_name,
                            index,
                            test_id,
                            p,
                            r,
                            entry.action,
                            entry.steps,
                            entry.expected,
                            context,
                            organization,
                            None if unknowable is None else unknowable(entry.steps),
                            None,
                            universal,
                        )
                    )
        return out
