"""Named policies of one load: read each source once, compile it once per kind it is attached
as, and resolve the references to it (``policies:``, ``boundary:``, ``policy:``, ``scps:``...).

A policy that AWS would reject where it is attached is reported at the problem's place in the
policy's own file, saying where it was attached.
"""

from __future__ import annotations

from typing import Any

from runner import model
from runner.policy import FULL_AWS_ACCESS, CompiledPolicy
from runner.spec.imports.wire import managed_reference
from runner.spec.includes import PREDEFINED_RCP, PREDEFINED_SCP, Definitions, Places
from runner.spec.nodes import Reader, SourceFile
from runner.spec.policy_cache import compile_once
from runner.spec.sources import PolicySource, policy_source
from runner.spec.yamlsafe import Node, excerpt, where

__all__ = ["PolicyBook"]

#: Compiled policies by source, kind and name, shared by the loads of one process (an include
#: or policy file used by many specs is compiled once).
_compiled_cache: dict[tuple[object, ...], CompiledPolicy] = {}
_CACHE_LIMIT = 512


def _remember(cache: dict[Any, Any], key: object, value: object) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _compile(src: PolicySource, name: str, kind: model.PolicyKind) -> CompiledPolicy:
    """The policy of ``src`` compiled as ``kind`` (once per distinct document); raises
    :class:`~runner.model.PolicyInvalid`."""
    return compile_once(
        src.read,
        kind,
        content=src.content,
        name=name,
        file=src.file,
        line=src.line,
        statement_lines=src.statement_lines,
    )


class PolicyBook:
    """The policies a spec file can name, read and compiled on first use."""

    def __init__(self, reader: Reader, places: Places, defs: Definitions) -> None:
        self.reader = reader
        self.places = places
        self.defs = defs
        self._sources: dict[str, PolicySource | None] = {}
        self._compiled: dict[tuple[str, model.PolicyKind], CompiledPolicy | None] = {}
        #: every policy compiled, in order, for the report's statement coverage
        self.infos: list[model.PolicyInfo] = []
        #: located warnings of the policies compiled (``file:line:col: message``), in order
        self.warnings: list[str] = []

    def source(self, name: str) -> PolicySource | None:
        """The source of the defined policy ``name`` (read and checked once)."""
        if name not in self._sources:
            self._sources[name] = policy_source(self.reader, self.places, self.defs.policies[name])
        return self._sources[name]

    def compile(
        self, name: str, kind: model.PolicyKind, ref: tuple[SourceFile, Node]
    ) -> CompiledPolicy | None:
        """The named policy compiled as ``kind`` (once per load and kind); ``ref`` is where
        it is attached, for messages."""
        if (name, kind) in self._compiled:
            return self._compiled[(name, kind)]
        result: CompiledPolicy | None = None
        src = self.source(name)
        if src is not None:
            key = (
                (src.cache_key, kind, name, src.file, str(self.places.display))
                if src.cache_key is not None
                else None
            )
            result = _compiled_cache.get(key) if key is not None else None
            if result is None:
                try:
                    result = _compile(src, name, kind)
                except model.PolicyInvalid as exc:
                    self._report(src, exc, name, kind, ref)
                    result = None
                else:
                    if key is not None:
                        _remember(_compiled_cache, key, result)
            if result is not None:
                self.infos.append(
                    model.PolicyInfo(name, result, model.SourceLoc(src.file, src.line, src.col))
                )
                self._warn(src, result)
        self._compiled[(name, kind)] = result
        return result

    def check_unattached(self) -> None:
        """Check every defined policy that nothing attached (read already, see
        :meth:`source`): without a kind, only what AWS refuses in a policy of every kind is
        reported (``Effect: Alow``, a malformed ARN, an unknown condition operator), at its
        place. A document valid as some kind is accepted quietly; nothing is compiled for
        a policy that is attached."""
        attached = {name for name, _kind in self._compiled}
        for name in self.defs.policies:
            src = self._sources.get(name)
            if name in attached or src is None:
                continue
            common: list[model.PolicyProblem] | None = None
            for kind in model.PolicyKind:
                try:
                    _compile(src, name, kind)
                except model.PolicyInvalid as exc:
                    found = exc.problems
                    common = list(found) if common is None else [p for p in common if p in found]
                    if not common:
                        break
                else:
                    common = None
                    break
            for problem in common or ():
                path = model.format_path(problem.path)
                prefix = f"{src.note}{path}: " if path else src.note
                self.reader.error(
                    src.file,
                    src.locate(problem.path),
                    f"{prefix}{problem.message} (policy {excerpt(name)}, attached nowhere: "
                    "wrong for every kind of policy)",
                )

    def _warn(self, src: PolicySource, policy: CompiledPolicy) -> None:
        """Locate what the policy language accepts but is almost certainly a mistake (an
        unknown condition key), once per place and message."""
        for problem in policy.warnings:
            line, col = src.locate(problem.path)
            path = model.format_path(problem.path)
            prefix = f"{src.note}{path}: " if path else src.note
            text = f"{src.file}:{line}:{col}: {prefix}{problem.message}"
            if text not in self.warnings:
                self.warnings.append(text)

    def _report(
        self,
        src: PolicySource,
        exc: model.PolicyInvalid,
        name: str,
        kind: model.PolicyKind,
        ref: tuple[SourceFile, Node],
    ) -> None:
        line, col = where(ref[1])
        attached = f"{kind.long_label} {excerpt(name)}, attached at {ref[0].display}:{line}:{col}"
        for problem in exc.problems:
            path = model.format_path(problem.path)
            prefix = f"{src.note}{path}: " if path else src.note
            self.reader.error(
                src.file, src.locate(problem.path), f"{prefix}{problem.message} ({attached})"
            )

    def ref(
        self, f: SourceFile, node: Node, kind: model.PolicyKind
    ) -> tuple[bool, CompiledPolicy | None]:
        """Resolve one policy reference: (ok, compiled). ``ok`` is False when the reference
        itself is wrong or the policy is invalid (already reported); ``compiled`` is None
        also for the always-implied RCPFullAWSAccess."""
        name = self.reader.text(f, node, "a policy name")
        if name is None:
            return False, None
        if kind is model.PolicyKind.SCP and name == PREDEFINED_SCP:
            return True, FULL_AWS_ACCESS
        if kind is model.PolicyKind.RCP and name == PREDEFINED_RCP:
            return True, None  # always implied
        if name in self.defs.broken:
            return False, None
        if name not in self.defs.policies:
            shipped = managed_reference(self.reader, f, node, name, kind)
            if shipped is not None:
                if shipped[1] is not None:
                    line, col = where(node)
                    place = model.SourceLoc(f.display, line, col)
                    self.infos.append(model.PolicyInfo(shipped[1].name, shipped[1], place))
                return shipped
            extra = [PREDEFINED_SCP] if kind is model.PolicyKind.SCP else []
            self.reader.unknown(f, node, "policy", name, [*self.defs.policies, *extra])
            return False, None
        compiled = self.compile(name, kind, (f, node))
        return compiled is not None, compiled

    def refs(
        self, f: SourceFile, node: Node, kind: model.PolicyKind, many: str
    ) -> list[CompiledPolicy] | None:
        """A policy name or a list of them, resolved; None when any is wrong."""
        names = self.reader.name_list(f, node, "policy name", many)
        if names is None:
            return None
        out: list[CompiledPolicy] = []
        ok = True
        for _name, item in names:
            good, compiled = self.ref(f, item, kind)
            ok = ok and good
            if compiled is not None:
                out.append(compiled)
        return out if ok else None
