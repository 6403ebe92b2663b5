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

A document is found again by its source's ``content`` (the text a composed value spans, or
JSON text) before it is built: building the plain document of each of those 1,600 copies and
encoding it as JSON to find it took 0.06 s of CPU.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from runner import model
from runner.policy import CompiledPolicy, CompiledStatement, compile_policy

__all__ = ["compile_once"]

StatementLines = Sequence[int] | Mapping[int, int] | None
_K = TypeVar("_K")


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


#: By kind and the document encoded as JSON, and by kind and the source's content.
_by_content: dict[tuple[model.PolicyKind, str], _Known] = {}
_by_source: dict[tuple[object, ...], _Known] = {}
_LIMIT = 512


def _remember(cache: dict[_K, _Known], key: _K, known: _Known) -> None:
    if len(cache) >= _LIMIT:
        cache.pop(next(iter(cache)))
    cache[key] = known


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


def _fields(cls: type) -> tuple[str, ...]:
    fields = dataclasses.fields(cls)
    assert all(f.init and not f.kw_only for f in fields)  # positional, in this order
    return tuple(f.name for f in fields)


# dataclasses.replace walks the fields of the class on every call: copying through these took
# half as long (1,598 placements of 4 objects each in benchmarks/bench_scale.py eval)
_STATEMENT_FIELDS = _fields(CompiledStatement)
_statement_values = operator.attrgetter(*_STATEMENT_FIELDS)
_STATEMENT_LINE = _STATEMENT_FIELDS.index("line")
_POLICY_FIELDS = _fields(CompiledPolicy)
_policy_values = operator.attrgetter(*_POLICY_FIELDS)
_POLICY_PLACE = tuple(
    _POLICY_FIELDS.index(n) for n in ("name", "file", "line", "statements", "by_action")
)


def _statement_at(s: CompiledStatement, line: int | None) -> CompiledStatement:
    """``dataclasses.replace(s, line=line)``."""
    values = list(_statement_values(s))
    values[_STATEMENT_LINE] = line
    return CompiledStatement(*values)


def _placed(
    known: _Known, name: str, file: str | None, line: int | None, lines: StatementLines
) -> CompiledPolicy:
    policy = known.policy
    wanted = [_line(lines, s.index) for s in policy.statements]
    same_place = (policy.name, policy.file, policy.line) == (name, file, line)
    if same_place and [s.line for s in policy.statements] == wanted:
        return policy
    statements = tuple(
        _statement_at(s, at) for s, at in zip(policy.statements, wanted, strict=True)
    )
    by_action: dict[str, tuple[CompiledStatement, ...]] = dict.fromkeys(policy.by_action, ())
    for positions, actions in known.index:
        found = tuple(statements[i] for i in positions)
        for action in actions:
            by_action[action] = found
    values = list(_policy_values(policy))
    for at, value in zip(
        _POLICY_PLACE, (name, file, line, statements, MappingProxyType(by_action)), strict=True
    ):
        values[at] = value
    return CompiledPolicy(*values)


def compile_once(
    read: Callable[[], object],
    kind: model.PolicyKind,
    *,
    content: tuple[object, ...] | None,
    name: str,
    file: str | None,
    line: int | None,
    statement_lines: StatementLines,
) -> CompiledPolicy:
    """``compile_policy(read(), kind, ...)``, compiled once per distinct document and kind;
    ``content`` is an exact identity of the document ``read`` returns (equal contents, equal
    documents), or None. Raises :class:`~runner.model.PolicyInvalid` as ``compile_policy``
    does (an invalid document is compiled again each time, so that its problems are reported
    each time)."""
    by_source = (kind, *content) if content is not None else None
    known = _by_source.get(by_source) if by_source is not None else None
    if known is not None:
        return _placed(known, name, file, line, statement_lines)
    document = read()
    key = _content(document, kind)
    known = _by_content.get(key) if key is not None else None
    if known is not None:
        if by_source is not None:
            _remember(_by_source, by_source, known)
        return _placed(known, name, file, line, statement_lines)
    compiled = compile_policy(
        document,  # type: ignore[arg-type]  # compile_policy reports a non-mapping itself
        kind,
        name=name,
        file=file,
        line=line,
        statement_lines=statement_lines,
    )
    known = _known(compiled)
    if key is not None:
        _remember(_by_content, key, known)
    if by_source is not None:
        _remember(_by_source, by_source, known)
    return compiled
