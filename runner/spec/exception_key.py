"""A case's ``exception`` key: its YAML nodes handed to :mod:`runner.exceptions`, which checks
them (reason, until, ticket) and says what is wrong, at the place it is wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner import model
from runner.spec.nodes import Reader, SourceFile
from runner.spec.yamlsafe import STR, TEXT_TAGS, TIMESTAMP, Node, ScalarNode, describe, where

if TYPE_CHECKING:
    from runner.exceptions import KnownException

__all__ = ["read_exception"]

#: ``until`` is a date: written plainly (a YAML timestamp) or quoted.
_DATE_TAGS = frozenset({STR, TIMESTAMP})


def read_exception(reader: Reader, f: SourceFile, key: Node, node: Node) -> KnownException | None:
    """The known exception whose ``exception`` key is ``key`` and value ``node``, or None
    after recording its problems."""
    # here: few cases have an exception, and importing runner.exceptions (its dataclasses,
    # enum and patterns) took ~2 ms of every start
    from runner import exceptions

    items = reader.mapping(f, node, exceptions.EXPECTED)
    if items is None:
        return None
    fields: dict[str, exceptions.Field] = {}
    for name, value in items:
        tags = _DATE_TAGS if name.value == "until" else TEXT_TAGS
        text = value.value if isinstance(value, ScalarNode) and value.tag in tags else None
        fields[str(name.value)] = exceptions.Field(
            key_loc=_loc(f, name), loc=_loc(f, value), text=text, described=describe(value)
        )
    known, problems = exceptions.read_exception(fields, _loc(f, key))
    reader.problems.extend(problems)
    return known


def _loc(f: SourceFile, node: Node) -> model.SourceLoc:
    line, col = where(node)
    return model.SourceLoc(f.display, line, col)
