"""The grammar of a policy document: which elements a statement of each kind may have, and the
document around the statements (Version, Id, Statement), checked and compiled at once.

``compile_policy`` validates a document for the place it is attached (its ``PolicyKind``) and
compiles it once: actions to sets of catalog actions, resources to wildcard matchers or
templates, principals to sets (:mod:`runner.policy.elements`), conditions through
:func:`runner.policy.conditions.compile_conditions`. Every problem is reported, never only the
first. The engine trusts what comes out of here.

Grammar sources: "IAM JSON policy element reference", "IAM JSON policy elements: Principal /
NotPrincipal", "Amazon ECR private repository policies", AWS Organizations "SCP syntax" and
"RCP syntax".
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from runner import catalog
from runner.model import PolicyInvalid, PolicyKind, PolicyPath, PolicyProblem
from runner.policy.compiled import CompiledPolicy, CompiledStatement, Effect, PolicyVersion
from runner.policy.conditions import CompiledConditions, compile_conditions
from runner.policy.elements import ElementReader, show, unknown_key
from runner.policy.keys import statement_warnings
from runner.policy.limits import IAM_KINDS, text_problems
from runner.policy.matching import ActionMatcher, PrincipalMatcher, ResourceMatcher
from runner.policy.variables import TemplateError, compile_template

__all__ = ["RepeatedKey", "compile_document", "compile_policy", "unique_keys"]

_VERSIONS = tuple(v.value for v in PolicyVersion)
#: Every catalog action, for indexing statements by the actions they cover.
_ALL_ACTIONS = frozenset(catalog.ACTIONS)
_TOP_KEYS = ("Version", "Id", "Statement")
_STATEMENT_KEYS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_EFFECTS = tuple(e.value for e in Effect)

#: How the grammar's messages name a kind, with its article ("a permissions boundary must not
#: contain Id"); the labels of ``PolicyKind`` name it without one.
_KIND_NAMES = {
    PolicyKind.IDENTITY: "an identity-based policy",
    PolicyKind.BOUNDARY: "a permissions boundary",
    PolicyKind.SESSION: "a session policy",
    PolicyKind.SCP: "a service control policy (SCP)",
    PolicyKind.RCP: "a resource control policy (RCP)",
    PolicyKind.RESOURCE: "a repository policy",
}
_NO_PRINCIPAL_WHY = {
    PolicyKind.IDENTITY: (
        "identity-based policies must not contain {key}: the policy is attached to a user, "
        "group or role, which is the implicit principal; {key} belongs in resource-based "
        "policies such as a repository policy"
    ),
    PolicyKind.BOUNDARY: (
        "a permissions boundary must not contain {key}: it is attached to a user or role, "
        "which is the implicit principal; {key} belongs in resource-based policies such as a "
        "repository policy"
    ),
    PolicyKind.SESSION: (
        "a session policy must not contain {key}: it applies to the session it is passed to; "
        "{key} belongs in resource-based policies such as a repository policy"
    ),
    PolicyKind.SCP: (
        "a service control policy must not contain {key}: an SCP applies to the principals "
        'of the accounts it is attached to (AWS Organizations "SCP syntax")'
    ),
}


class RepeatedKey(ValueError):
    """A JSON object of a policy document names the same key twice (``key``)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"the key {key!r} appears twice in one JSON object; AWS rejects a policy that "
            'repeats an element (IAM policy grammar: "Individual elements must not contain '
            'multiple instances of the same key")'
        )
        self.key = key


def unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``object_pairs_hook`` for policy JSON: Python keeps the last of two equal keys, AWS
    rejects the document ("Grammar of the IAM JSON policy language": "Individual elements
    must not contain multiple instances of the same key")."""
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise RepeatedKey(key)
        out[key] = value
    return out


class _Statements(ElementReader):
    """The statement grammar for one document. ``internal`` is set for the predefined
    policies, which may use what AWS reserves for itself (an RCP's Allow)."""

    def __init__(self, kind: PolicyKind, version: PolicyVersion, internal: bool) -> None:
        super().__init__(kind, version)
        self.internal = internal

    def statement(
        self, raw: Mapping[object, object], path: PolicyPath, index: int, line: int | None
    ) -> CompiledStatement | None:
        start = len(self.problems)
        kind = self.kind
        for key in raw:
            if key not in _STATEMENT_KEYS:
                self.problem((*path, str(key)), unknown_key(str(key), _STATEMENT_KEYS, "element"))

        sid = raw.get("Sid")
        if sid is not None and not isinstance(sid, str):
            self.problem((*path, "Sid"), f"Sid must be a string, not {show(sid)}")
            sid = None
        elif sid and kind in IAM_KINDS and not (sid.isascii() and sid.isalnum()):
            self.problem(
                (*path, "Sid"),
                f"Sid {sid!r} may contain only the letters A-Z and a-z and the digits 0-9 "
                f'in {_KIND_NAMES[kind]} ("IAM JSON policy elements: Sid")',
            )

        effect = self.effect(raw, path)
        action = self.action_element(raw, path)
        resource = self.resource_element(raw, path)
        principal = self.principal_element(raw, path, effect)

        conditions: CompiledConditions | None = None
        if "Condition" in raw:
            compiled, cproblems = compile_conditions(
                raw["Condition"], version=self.version, path=(*path, "Condition")
            )
            self.problems.extend(cproblems)
            if not cproblems and not compiled.empty:
                conditions = compiled

        if len(self.problems) > start or action is None or effect is None:
            return None
        keys, variable_keys = self.keys_read(raw)
        return CompiledStatement(
            index=index,
            sid=sid if isinstance(sid, str) else None,
            effect=effect,
            line=line,
            action=action,
            resource=resource,
            principal=principal,
            conditions=conditions,
            path=path,
            keys=keys | variable_keys,
            variable_keys=variable_keys,
        )

    def effect(self, raw: Mapping[object, object], path: PolicyPath) -> Effect | None:
        effect = raw.get("Effect")
        if effect is None:
            self.problem(path, 'a statement needs "Effect": "Allow" or "Deny"')
            return None
        if effect not in _EFFECTS:
            hint = " (case matters)" if str(effect).lower() in ("allow", "deny") else ""
            self.problem(
                (*path, "Effect"),
                f'Effect must be exactly "Allow" or "Deny"{hint}, not {show(effect)}',
            )
            return None
        if effect == Effect.ALLOW and self.kind is PolicyKind.RCP and not self.internal:
            self.problem(
                (*path, "Effect"),
                'RCP statements must use "Effect": "Deny": Allow is reserved for '
                'RCPFullAWSAccess, which AWS always attaches (AWS Organizations "RCP syntax")',
            )
        return Effect(effect)

    def action_element(
        self, raw: Mapping[object, object], path: PolicyPath
    ) -> ActionMatcher | None:
        kind = self.kind
        if "Action" in raw and "NotAction" in raw:
            self.problem(
                (*path, "NotAction"), "a statement has either Action or NotAction, not both"
            )
        elif "Action" not in raw and "NotAction" not in raw:
            self.problem(path, "a statement needs Action or NotAction")
        elif "NotAction" in raw and kind is PolicyKind.RCP:
            self.problem(
                (*path, "NotAction"),
                "RCPs do not support NotAction; list the actions in Action "
                '(AWS Organizations "RCP syntax")',
            )
        elif (
            kind is PolicyKind.RCP
            and not self.internal
            and "*" in (raw["Action"] if isinstance(raw["Action"], list) else [raw["Action"]])
        ):
            self.problem(
                (*path, "Action"),
                'an RCP cannot use "*" as an action: name the service, such as "ecr:*" '
                '(AWS Organizations "RCP syntax")',
            )
        else:
            key = "Action" if "Action" in raw else "NotAction"
            return self.actions(raw[key], (*path, key), key)
        return None

    def resource_element(
        self, raw: Mapping[object, object], path: PolicyPath
    ) -> ResourceMatcher | None:
        kind = self.kind
        if kind is PolicyKind.RESOURCE:
            for key in ("Resource", "NotResource"):
                if key in raw:
                    self.problem(
                        (*path, key),
                        f"a repository policy has no {key} element: each statement applies to "
                        f"the repository the policy is attached to (Amazon ECR rejects {key} "
                        "in repository policies)",
                    )
        elif "Resource" in raw and "NotResource" in raw:
            self.problem(
                (*path, "NotResource"),
                "a statement has either Resource or NotResource, not both",
            )
        elif "Resource" not in raw and "NotResource" not in raw:
            self.problem(
                path,
                f"a statement of {_KIND_NAMES[kind]} needs Resource or NotResource "
                '("Resource": "*" for every resource)',
            )
        else:
            key = "Resource" if "Resource" in raw else "NotResource"
            return self.resources(raw[key], (*path, key), key)
        return None

    def principal_element(
        self, raw: Mapping[object, object], path: PolicyPath, effect: Effect | None
    ) -> PrincipalMatcher | None:
        kind = self.kind
        has_p, has_np = "Principal" in raw, "NotPrincipal" in raw
        if kind in _NO_PRINCIPAL_WHY:
            for key in ("Principal", "NotPrincipal"):
                if key in raw:
                    self.problem((*path, key), _NO_PRINCIPAL_WHY[kind].format(key=key))
        elif kind is PolicyKind.RCP:
            if has_np:
                self.problem(
                    (*path, "NotPrincipal"),
                    'RCPs do not support NotPrincipal; use "Principal": "*" with a '
                    'condition on aws:PrincipalArn (AWS Organizations "RCP syntax")',
                )
            if not has_p:
                if not has_np:
                    self.problem(path, 'an RCP statement needs "Principal": "*"')
            elif raw["Principal"] != "*":
                self.problem(
                    (*path, "Principal"),
                    'RCP statements must have "Principal": "*"; narrow who they apply to '
                    "with conditions such as aws:PrincipalOrgID or aws:PrincipalArn "
                    '(AWS Organizations "RCP syntax")',
                )
            else:
                return self.principals("*", (*path, "Principal"), "Principal")
        elif has_p and has_np:
            self.problem(
                (*path, "NotPrincipal"),
                "a statement has either Principal or NotPrincipal, not both",
            )
        elif not has_p and not has_np:
            self.problem(
                path,
                "a repository policy statement needs Principal or NotPrincipal: it says who "
                "the statement applies to",
            )
        else:
            key = "Principal" if has_p else "NotPrincipal"
            if key == "NotPrincipal" and effect == Effect.ALLOW:
                self.problem(
                    (*path, "NotPrincipal"),
                    'NotPrincipal is only valid with "Effect": "Deny" (an Allow with '
                    "NotPrincipal would grant access to everyone not listed)",
                )
            else:
                return self.principals(raw[key], (*path, key), key)
        return None

    def keys_read(self, raw: Mapping[object, object]) -> tuple[frozenset[str], frozenset[str]]:
        """The lowercased condition keys a (valid) statement reads: in its Condition block,
        and in its policy variables."""
        keys: set[str] = set()
        variables: set[str] = set()
        block = raw.get("Condition")
        if isinstance(block, Mapping):
            for body in block.values():
                if isinstance(body, Mapping):
                    keys.update(str(k).lower() for k in body)
        if self.version is PolicyVersion.V2012:
            values: list[object] = [raw.get("Resource"), raw.get("NotResource")]
            if isinstance(block, Mapping):
                values += [
                    v for body in block.values() if isinstance(body, Mapping) for v in body.values()
                ]
            for value in values:
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str) and "${" in text:
                        try:
                            tpl = compile_template(text, version=self.version)
                        except TemplateError:
                            continue
                        variables.update(k.lower() for k in tpl.variable_keys)
        return frozenset(keys), frozenset(variables)


def _statement_line(lines: Sequence[int] | Mapping[int, int] | None, index: int) -> int | None:
    if lines is None:
        return None
    if isinstance(lines, Mapping):
        return lines.get(index)
    return lines[index] if 0 <= index < len(lines) else None


def _version(value: object) -> PolicyVersion | None:
    if isinstance(value, str) and value in _VERSIONS:
        return PolicyVersion(value)
    # YAML reads an unquoted 2012-10-17 as a date; it still names the version unambiguously.
    if isinstance(value, datetime.date) and value.isoformat() in _VERSIONS:
        return PolicyVersion(value.isoformat())
    return None


def compile_policy(
    document: Mapping[str, object] | str,
    kind: PolicyKind,
    *,
    name: str,
    file: str | None = None,
    line: int | None = None,
    statement_lines: Sequence[int] | Mapping[int, int] | None = None,
) -> CompiledPolicy:
    """Validate ``document`` (a mapping or JSON text) as a policy of ``kind`` and compile it.

    Raises :class:`PolicyInvalid` listing every problem, each with its path in the document.
    ``file``, ``line`` and ``statement_lines`` (the line of statement *i*) only feed
    explanations.
    """
    return compile_document(
        document, kind, name, file=file, line=line, statement_lines=statement_lines
    )


def _no_constant(name: str) -> object:
    """``parse_constant`` for policy JSON: Python reads ``NaN``, ``Infinity`` and
    ``-Infinity`` as numbers, but they are not JSON (RFC 8259), so AWS cannot read such a
    document."""
    raise ValueError(f"{name} is not a JSON value")


def _read_json(text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=unique_keys, parse_constant=_no_constant)
    except RepeatedKey as exc:
        raise PolicyInvalid([PolicyProblem((), str(exc))]) from None
    except json.JSONDecodeError as exc:
        raise PolicyInvalid(
            [
                PolicyProblem(
                    (), f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                )
            ]
        ) from None
    except ValueError as exc:  # an integer too long for Python to convert
        raise PolicyInvalid([PolicyProblem((), f"not valid JSON: {exc}")]) from None
    except RecursionError:
        raise PolicyInvalid([PolicyProblem((), "the JSON is nested too deeply")]) from None


def compile_document(
    document: Mapping[str, object] | str,
    kind: PolicyKind,
    name: str,
    *,
    file: str | None = None,
    line: int | None = None,
    statement_lines: Sequence[int] | Mapping[int, int] | None = None,
    internal: bool = False,
) -> CompiledPolicy:
    """:func:`compile_policy`; ``internal`` (the predefined policies only) skips the size and
    character limits and allows what AWS reserves for itself."""
    doc = _read_json(document) if isinstance(document, str) else document
    if not isinstance(doc, Mapping):
        raise PolicyInvalid(
            [
                PolicyProblem(
                    (),
                    "a policy document must be a JSON object with Version and Statement, "
                    f"not {show(doc)}",
                )
            ]
        )

    version_raw = doc.get("Version")
    version = _version(version_raw) if "Version" in doc else PolicyVersion.V2008
    comp = _Statements(kind, version or PolicyVersion.V2012, internal)
    for key in doc:
        if key not in _TOP_KEYS:
            comp.problem((str(key),), unknown_key(str(key), _TOP_KEYS, "policy element"))
    if "Version" in doc and version is None:
        comp.problem(
            ("Version",),
            f'Version must be "2012-10-17" or "2008-10-17", not {show(version_raw)}',
        )
    if kind in (PolicyKind.RCP, PolicyKind.SCP) and (
        "Version" not in doc or version is PolicyVersion.V2008
    ):
        short, page = (
            ("an RCP", "RCP syntax") if kind is PolicyKind.RCP else ("an SCP", "SCP syntax")
        )
        comp.problem(
            ("Version",) if "Version" in doc else (),
            f'{short} needs "Version": "2012-10-17" (AWS Organizations "{page}")',
        )
    if not internal:
        comp.problems.extend(text_problems(doc, kind))
    if "Id" in doc:
        if kind is not PolicyKind.RESOURCE:
            comp.problem(
                ("Id",),
                f"{_KIND_NAMES[kind]} must not contain Id (Id belongs in resource-based policies)",
            )
        elif not isinstance(doc["Id"], str):
            comp.problem(("Id",), f"Id must be a string, not {show(doc['Id'])}")

    raw_statements: list[tuple[PolicyPath, int, object]] = []
    if "Statement" not in doc:
        comp.problem((), "a policy needs a Statement (one statement object or a list of them)")
    else:
        body = doc["Statement"]
        if isinstance(body, Mapping):
            raw_statements.append((("Statement",), 0, body))
        elif isinstance(body, list):
            if not body:
                comp.problem(("Statement",), "Statement must not be an empty list")
            raw_statements.extend((("Statement", i), i, s) for i, s in enumerate(body))
        else:
            comp.problem(
                ("Statement",),
                f"Statement must be an object or a list of objects, not {show(body)}",
            )

    statements: list[CompiledStatement] = []
    warnings: list[PolicyProblem] = []
    sids: dict[str, int] = {}
    for path, index, raw in raw_statements:
        if not isinstance(raw, Mapping):
            comp.problem(path, f"a statement must be an object, not {show(raw)}")
            continue
        sid = raw.get("Sid")
        if isinstance(sid, str) and kind is not PolicyKind.RESOURCE:
            if sid in sids:
                comp.problem(
                    (*path, "Sid"),
                    f"duplicate Sid {sid!r} (also statement {sids[sid]}); Sids must be unique "
                    "within a policy",
                )
            sids.setdefault(sid, index)
        stmt = comp.statement(raw, path, index, _statement_line(statement_lines, index))
        if stmt is not None:
            statements.append(stmt)
            warnings.extend(statement_warnings(raw, stmt, comp.version))

    if comp.problems:
        raise PolicyInvalid(comp.problems)
    hits: dict[str, list[CompiledStatement]] = {}
    for stmt in statements:
        for action in stmt.action.covered(_ALL_ACTIONS):
            hits.setdefault(action, []).append(stmt)
    # actions about the same statements share one tuple of them: the engine remembers a
    # policy's applicable statements per request context by that tuple (decide._match)
    lists: dict[tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]] = {}
    by_action = {
        a: lists.setdefault(found, found)
        for a in catalog.ACTIONS
        if a in hits
        for found in (tuple(hits[a]),)
    }
    return CompiledPolicy(
        name=name,
        kind=kind,
        file=file,
        line=line,
        version=version or PolicyVersion.V2012,
        statements=tuple(statements),
        by_action=MappingProxyType(by_action),
        keys=frozenset().union(*(st.keys for st in statements)),
        warnings=tuple(warnings),
    )
