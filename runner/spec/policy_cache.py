"""Compile each distinct policy document once per process, wherever it is written.

Many spec files repeat the same document (an inline identity policy copied into every file of
a team, a shared policy file): compiling is the largest part of loading such files
(benchmarks/bench_scale.py eval: 1,600 compilations of two distinct documents took 0.33 s of
the 1.24 s of CPU that loading the 800 files took; placing a compiled copy takes a fifth of
that). A compiled policy depends on its document and kind only, except for
where it was written: its name, file and line, and the line of each statement, which feed
explanations. :func:`compile_once` compiles a document the first time and afterwards returns
the compiled policy placed where this copy is written (new policy and statement objects that
share the compiled matchers and conditions, which hold no place).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from runner import model
from runner.policy import CompiledPolicy, CompiledStatement, compile_policy

__all__ = ["compile_once"]

StatementLines = Sequence[int] | Mapping[int, int] | None


@dataclass(frozen=True, slots=True)
class _Known:
    """A compiled document and how its action index is made of statements: for each distinct
    list of statements (by position), the actions that list is for."""

    policy: CompiledPolicy
    index: tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]


def _known(policy: CompiledPolicy) -> _Known:
    position = {id(s): i for i, s in enumerate(policy.statements)}
    groups: dict[tuple[int, ...], list[str]] = {}
    for action, found in policy.by_action.items():
        groups.setdefault(tuple(position[id(s)] for s in found), []).append(action)
    return _Known(policy, tuple((k, tuple(v)) for k, v in groups.items()))


_by_content: dict[tuple[model.PolicyKind, str], _Known] = {}
_LIMIT = 512


def _content(document: object, kind: model.PolicyKind) -> tuple[model.PolicyKind, str] | None:
    try:
        return kind, json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return None


def _line(lines: StatementLines, index: int) -> int | None:
    """The line of statement ``index``, as ``compile_policy`` reads ``statement_lines``."""
    if lines is None:
        return None
    if isinstance(lines, Mapping):
        return lines.get(index)
    return lines[index] if 0 <= index < len(lines) else None


def _placed(
    known: _Known, name: str, file: str | None, line: int | None, lines: StatementLines
) -> CompiledPolicy:
    policy = known.policy
    wanted = [_line(lines, s.index) for s in policy.statements]
    same_place = (policy.name, policy.file, policy.line) == (name, file, line)
    if same_place and [s.line for s in policy.statements] == wanted:
        return policy
    statements = tuple(
        dataclasses.replace(s, line=at) for s, at in zip(policy.statements, wanted, strict=True)
    )
    by_action: dict[str, tuple[CompiledStatement, ...]] = dict.fromkeys(policy.by_action, ())
    for positions, actions in known.index:
        found = tuple(statements[i] for i in positions)
        for action in actions:
            by_action[action] = found
    return dataclasses.replace(
        policy,
        name=name,
        file=file,
        line=line,
        statements=statements,
        by_action=MappingProxyType(by_action),
    )


def compile_once(
    document: object,
    kind: model.PolicyKind,
    *,
    name: str,
    file: str | None,
    line: int | None,
    statement_lines: StatementLines,
) -> CompiledPolicy:
    """``compile_policy(document, kind, ...)``, compiled once per distinct document and kind.
    Raises :class:`~runner.model.PolicyInvalid` as ``compile_policy`` does (an invalid
    document is compiled again each time, so that its problems are reported each time)."""
    key = _content(document, kind)
    known = _by_content.get(key) if key is not None else None
    if known is not None:
        return _placed(known, name, file, line, statement_lines)
    compiled = compile_policy(
        document,  # type: ignore[arg-type]  # compile_policy reports a non-mapping itself
        kind,
        name=name,
        file=file,
        line=line,
        statement_lines=statement_lines,
    )
    if key is not None:
        if len(_by_content) >= _LIMIT:
            _by_content.pop(next(iter(_by_content)))
        _by_content[key] = _known(compiled)
    return compiled
