"""The entries of ``import:`` sections: each entry's file read with the reader of its kind
(:mod:`runner.spec.imports.terraform`, ``cloudformation``, ``authdetails``, ``orgpolicy``),
what it holds compiled and claimed by name into an :class:`~runner.spec.imports.wire.Imports`.

:func:`runner.spec.imports.wire.read_imports` imports this module when a load has an
``import:`` section: most spec files import nothing, and importing this module and the readers
it uses (with the data types of :mod:`runner.spec.imports.common`) took 5 to 7 ms at start
(35 M instructions, 6% of importing runner.cli and runner.spec).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runner import model, words
from runner.errors import Problem
from runner.policy import CompiledPolicy, compile_policy, managed
from runner.spec.classes import ANYONE
from runner.spec.imports.common import (
    ImportedPolicy,
    ImportedPrincipal,
    ImportKind,
    ImportResult,
    PrincipalKind,
    Settings,
)
from runner.spec.includes import PREDEFINED_RCP, PREDEFINED_SCP, Places
from runner.spec.nodes import Reader, SourceFile
from runner.spec.yamlsafe import (
    BOOL,
    TEXT_TAGS,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    bool_text,
    describe,
    excerpt,
    where,
)

if TYPE_CHECKING:
    from runner.spec.imports.wire import Imports
    from runner.spec.nodes import Definition

__all__ = ["IMPORT_KEYS", "MAX_IMPORT_BYTES", "Importer"]

#: Keys of an import entry besides its source key.
IMPORT_KEYS = ("account", "region", "parameters")
#: Plans and snapshots of large accounts are megabytes of JSON; this bounds memory.
MAX_IMPORT_BYTES = 64 * 1024 * 1024

#: An AWS region, as the repository ARNs of a spec spell it (``us-east-1``, ``us-gov-west-1``).
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
#: The policy names the tool predefines, and how a spec uses each.
_PREDEFINED = {
    PREDEFINED_SCP: (
        "AWS's FullAWSAccess is predefined: name it in the organization's scps instead of "
        "importing it; another policy needs another name"
    ),
    PREDEFINED_RCP: (
        "AWS's RCPFullAWSAccess is predefined and always attached: do not import it; another "
        "policy needs another name"
    ),
}

_results: dict[tuple[object, ...], ImportResult] = {}
_CACHE_LIMIT = 64


def _shown(display: str) -> str:
    """A file name in a message: as it is, or cut with its length when it is longer than a
    line (a name too long for the system)."""
    return display if len(display) <= 120 else excerpt(display)


def _parse(kind: ImportKind, display: str, text: str, settings: Settings) -> ImportResult:
    """The file's contents read by the reader of its kind (each reader imported on first
    use)."""
    if kind is ImportKind.TERRAFORM_PLAN:
        from runner.spec.imports.terraform import parse_plan

        return parse_plan(display, text, settings)
    if kind is ImportKind.CLOUDFORMATION:
        from runner.spec.imports.cloudformation import parse_template

        return parse_template(display, text, settings)
    if kind is ImportKind.AUTHORIZATION_DETAILS:
        from runner.spec.imports.authdetails import parse_authorization_details

        return parse_authorization_details(display, text, settings)
    assert kind is ImportKind.ORGANIZATION_POLICY
    from runner.spec.imports.orgpolicy import parse_organization_policy

    return parse_organization_policy(display, text, settings)


class Importer:
    """Reads the entries of a load's ``import:`` sections into ``out``."""

    def __init__(self, reader: Reader, places: Places, out: Imports) -> None:
        self.reader = reader
        self.places = places
        self.show: Callable[[Path], str] = places.show
        self.out = out
        self.compiled: dict[tuple[str, str, model.PolicyKind], CompiledPolicy | None] = {}
        #: each file imported, with its settings, and the entry that imports it
        self.imported: dict[tuple[object, ...], tuple[SourceFile, Node]] = {}

    # -- entries

    def section(self, d: Definition) -> None:
        reader, f = self.reader, d.file
        if not isinstance(d.value, SequenceNode):
            reader.error(
                f,
                d.value,
                "expected a list of imports such as [{terraform-plan: infra/plan.json}], got "
                f"{describe(d.value)}",
            )
            return
        for item in d.value.value:
            self.entry(f, item)

    def entry(self, f: SourceFile, node: Node) -> None:
        reader = self.reader
        kinds = [k.value for k in ImportKind]
        items = reader.mapping(f, node, "an import: a mapping such as {terraform-plan: FILE}")
        if items is None:
            return
        sources = [(k, v) for k, v in items if k.value in kinds]
        if len(sources) != 1:
            near = [(k.value, words.closest(k.value, kinds)) for k, _v in items]
            hints = [(key, best) for key, best in near if best is not None]
            reader.error(
                f,
                node,
                "an import names one source: "
                + ", ".join(f"'{k}: FILE'" for k in kinds)
                + (f"; this one names {len(sources)}" if sources else "")
                + (
                    f"; did you mean {hints[0][1]!r} for {excerpt(hints[0][0])}?"
                    if hints and not sources
                    else ""
                ),
            )
            return
        key, value = sources[0]
        kind = ImportKind(key.value)
        rest = reader.keys(
            f, [(k, v) for k, v in items if k is not key], IMPORT_KEYS, "key", " in an import"
        )
        if len(rest) != len(items) - 1:
            return
        settings = self.settings(f, kind, rest)
        rel = reader.text(f, value, "a file name")
        if settings is None or rel is None:
            return
        path = Path(os.path.normpath(f.path.parent / rel))
        if self.places.outside(path):
            # as for includes and policy files: never read (nor quote) a file elsewhere
            reader.error(f, value, f"cannot import {excerpt(rel)}: {self.places.refusal()}")
            return
        twice = (kind, path, settings.account, settings.region, tuple(settings.parameters.items()))
        if twice in self.imported:
            # the second would define every name again ("defined twice: by p.json and by p.json")
            first, at = self.imported[twice]
            line, col = where(at)
            reader.error(
                f,
                value,
                f"{_shown(self.show(path))} is imported twice (also at {first.display}:{line}:"
                f"{col}, with the same settings); import it once",
            )
            return
        self.imported[twice] = (f, value)
        result = self.read(f, value, path, kind, settings)
        if result is not None:
            given = rest.get("parameters")
            self.take(f, node, result, given[1] if given is not None else None)

    def settings(
        self, f: SourceFile, kind: ImportKind, keys: Mapping[str, tuple[ScalarNode, Node]]
    ) -> Settings | None:
        reader = self.reader
        account = region = None
        ok = True
        if "account" in keys:
            account = reader.account(f, keys["account"][1], "an account id")
            ok = ok and account is not None
        if "region" in keys:
            region = reader.text(f, keys["region"][1], "a region such as us-east-1")
            if region is not None and not _REGION.match(region):
                # the shape of the spec's repository ARNs: a region no ARN can hold
                reader.error(
                    f,
                    keys["region"][1],
                    f"expected a region such as us-east-1, got {excerpt(region)}",
                )
                region = None
            ok = ok and region is not None
        parameters: dict[str, str] = {}
        if "parameters" in keys:
            k, v = keys["parameters"]
            if kind is not ImportKind.CLOUDFORMATION:
                reader.error(f, k, "'parameters' is for CloudFormation templates only")
                return None
            got = self.parameters(f, v)
            ok = ok and got is not None
            parameters = got or {}
        return Settings(account, region, parameters) if ok else None

    def parameters(self, f: SourceFile, node: Node) -> dict[str, str] | None:
        """``parameters:``: template parameter names and their values (text; a YAML boolean
        is ``true`` or ``false``, as AWS writes it)."""
        items = self.reader.mapping(
            f, node, "a mapping of template parameter names to values, such as {Env: prod}"
        )
        if items is None:
            return None
        out: dict[str, str] = {}
        for k, v in items:
            if isinstance(v, ScalarNode) and v.tag == BOOL:
                out[k.value] = bool_text(v)
            elif isinstance(v, ScalarNode) and v.tag in TEXT_TAGS:
                out[k.value] = v.value
            else:
                self.reader.error(
                    f,
                    v,
                    f"expected the value of parameter {excerpt(k.value)} (text), got {describe(v)}",
                )
                return None
        return out

    def read(
        self, f: SourceFile, at: Node, path: Path, kind: ImportKind, settings: Settings
    ) -> ImportResult | None:
        display = self.show(path)
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                # a FIFO would block the read for ever, a device could be endless
                what = (
                    os.strerror(errno.EISDIR)  # what reading one said before this check
                    if stat.S_ISDIR(info.st_mode)
                    else "not a regular file"
                )
                self.reader.error(f, at, f"cannot import {_shown(display)}: {what}")
                return None
            size = info.st_size
            if size > MAX_IMPORT_BYTES:
                self.reader.error(
                    f,
                    at,
                    f"cannot import {display}: {size:,} bytes, more than the "
                    f"{MAX_IMPORT_BYTES:,} an import may have",
                )
                return None
            data = path.read_bytes()
        except OSError as exc:
            # the errno, not Path.exists(): exists() raises again for a name that is too long
            what = "no such file" if exc.errno == errno.ENOENT else (exc.strerror or "unreadable")
            self.reader.error(f, at, f"cannot import {_shown(display)}: {what}")
            return None
        import hashlib  # here: its import (OpenSSL) is ~5 ms, and most specs import nothing

        key = (
            kind,
            display,
            hashlib.blake2b(data, digest_size=16).digest(),
            settings.account,
            settings.region,
            tuple(sorted(settings.parameters.items())),
        )
        cached = _results.get(key)
        if cached is not None:
            return cached
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.reader.error(
                display, (1, 1), f"not UTF-8 text (byte {exc.start}): an import is JSON or YAML"
            )
            return None
        result = _parse(kind, display, text, settings)
        if len(_results) >= _CACHE_LIMIT:
            _results.pop(next(iter(_results)))
        _results[key] = result
        return result

    # -- what an import holds

    def take(
        self, f: SourceFile, entry: Node, result: ImportResult, parameters: Node | None = None
    ) -> None:
        out, reader = self.out, self.reader
        reader.problems.extend(result.problems)
        out.warnings.extend(str(w) for w in result.warnings)
        for problem in result.entry_problems:
            at: Node = parameters if parameters is not None else entry
            if isinstance(parameters, MappingNode):
                for k, v in parameters.value:
                    if k.value == problem.parameter:
                        at = v if problem.at_value else k
                        break
            reader.error(f, at, problem.message)
        if result.problems or result.entry_problems:
            return
        label = f"{result.kind.value} {result.file}"
        for p in result.principals:
            if not self.claim("principal", p.name, f"{label} ({p.loc})", p.loc):
                continue
            out.principals[p.name] = self.principal(p)
        for r in result.repositories:
            if not self.claim("resource", r.name, f"{label} ({r.loc})", r.loc):
                continue
            policy = None
            ok = True
            if r.policy is not None:
                policy = self.compile(r.policy, model.PolicyKind.RESOURCE, f"repository {r.name}")
                ok = policy is not None
            try:
                out.resources[r.name] = (
                    model.repository(r.name, r.arn, policy=policy, tags=r.tags) if ok else None
                )
            except model.ModelError as exc:
                reader.problems.append(Problem(r.loc, str(exc)))
                out.resources[r.name] = None
        for o in result.organization_policies:
            if o.policy.name in _PREDEFINED:
                # refused as in a spec's policies: a second policy of that name would be
                # explained as AWS's (a Deny "SCP FullAWSAccess"), and the name would be
                # ambiguous in the organization's scps
                reader.problems.append(
                    Problem(
                        o.policy.loc,
                        f"this {o.kind.label} is named {o.policy.name!r}, a predefined policy "
                        f"name; an import cannot define it ({_PREDEFINED[o.policy.name]})",
                    )
                )
                continue
            compiled = self.compile(o.policy, o.kind, "the organization")
            if compiled is not None:
                (out.scps if o.kind is model.PolicyKind.SCP else out.rcps).append(compiled)
                if out.organization_at is None:
                    out.organization_at = (f, entry)
        out.closed_accounts.update(result.closed_accounts)

    def claim(self, what: str, name: str, origin: str, loc: model.SourceLoc) -> bool:
        if what == "principal" and name == ANYONE:
            self.reader.problems.append(
                Problem(
                    loc,
                    f"this {what} is named {ANYONE!r}, which is the reserved principal name of "
                    "every possible caller, so a case cannot name it; a spec cannot import it",
                )
            )
            return False
        prev = self.out.origin.get((what, name))
        if prev is not None:
            self.reader.problems.append(
                Problem(loc, f"{what} {name!r} is defined twice: by {origin} and by {prev}")
            )
            if what == "principal":
                self.out.principals[name] = None
            else:
                self.out.resources[name] = None
            return False
        self.out.origin[(what, name)] = origin
        return True

    def principal(self, p: ImportedPrincipal) -> model.Principal | None:
        whose = f"{p.kind.value} {p.name}"
        policies = [self.compile(x, model.PolicyKind.IDENTITY, whose) for x in p.policies]
        boundary = (
            self.compile(p.boundary, model.PolicyKind.BOUNDARY, whose) if p.boundary else None
        )
        if any(x is None for x in policies) or (p.boundary is not None and boundary is None):
            return None
        session = None
        if p.kind is PrincipalKind.ROLE and len(p.name) < 2:
            session = f"{p.name}-session"  # a session name has at least 2 characters
        try:
            return model.principal_from_arn(
                p.name,
                p.arn,
                session=session,
                policies=[x for x in policies if x is not None],
                boundary=boundary,
                tags=p.tags,
            )
        except model.ModelError as exc:
            self.reader.problems.append(Problem(p.loc, f"{whose}: {exc}"))
            return None

    def compile(
        self, pol: ImportedPolicy, kind: model.PolicyKind, whose: str
    ) -> CompiledPolicy | None:
        if pol.aws_managed is not None:
            if kind not in model.MANAGED_POLICY_KINDS:
                self.reader.problems.append(
                    Problem(
                        pol.loc,
                        f"{pol.name} is an AWS managed policy: it is attached to "
                        f"users and roles, not as a {kind.label}",
                    )
                )
                return None
            compiled = managed.compiled(pol.aws_managed, kind)
            self.out.infos.append(model.PolicyInfo(pol.name, compiled, pol.loc))
            return compiled
        key = (pol.name, str(pol.loc), kind)
        if key in self.compiled:
            return self.compiled[key]
        statements = pol.document.get("Statement")
        lines: Sequence[int] | None = pol.statement_lines
        if lines is None and isinstance(statements, list):
            lines = [pol.locate(("Statement", i)).line for i in range(len(statements))]
        result: CompiledPolicy | None
        try:
            result = compile_policy(
                pol.document,
                kind,
                name=pol.name,
                file=pol.loc.file,
                line=pol.loc.line,
                statement_lines=lines,
            )
        except model.PolicyInvalid as exc:
            for problem in exc.problems:
                path = model.format_path(problem.path)
                prefix = f"{path}: " if path else ""
                self.reader.problems.append(
                    Problem(
                        pol.locate(problem.path),
                        f"{prefix}{problem.message} ({kind.long_label} {pol.name!r} of {whose})",
                    )
                )
            result = None
        else:
            self.out.infos.append(model.PolicyInfo(pol.name, result, pol.loc))
        self.compiled[key] = result
        return result
