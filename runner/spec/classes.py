"""Classes of callers (spec-format.md, "Universal checks"): a ``principals`` entry whose only
key is ``anyone``, the reserved principal ``anyone``, and the top-level ``closed-accounts``."""

from __future__ import annotations

from collections.abc import Iterable

from runner import model, words
from runner.spec.nodes import Reader, SourceFile
from runner.spec.yamlsafe import MappingNode, Node, ScalarNode, SequenceNode, describe, excerpt

__all__ = ["ANYONE", "EVERYONE", "is_class", "read_class", "read_closed_accounts"]

#: The reserved principal name: every caller.
ANYONE = "anyone"
#: The class ``anyone`` stands for.
EVERYONE = model.CallerClass(ANYONE)

_CLASS_KEYS = ("organization", "account", "type", "except")
_KINDS = tuple(k.value for k in model.CallerKind)
_MEMBERSHIP = tuple(m.value for m in model.Membership)


def is_class(node: Node) -> bool:
    """Whether a ``principals`` entry is a class: a mapping whose only key is ``anyone``."""
    if not isinstance(node, MappingNode) or len(node.value) != 1:
        return False
    key = node.value[0][0]
    return isinstance(key, ScalarNode) and key.value == ANYONE


def _words(
    reader: Reader, f: SourceFile, node: Node, what: str, choices: tuple[str, ...]
) -> list[str] | None:
    items = reader.name_list(f, node, what, f"a list of {what}s")
    if items is None:
        return None
    out: list[str] = []
    ok = True
    for word, item in items:
        if word not in choices:
            best = words.closest(word, choices)
            hint = f"; did you mean {best!r}?" if best else ""
            expected = words.join(list(choices), "or")
            reader.error(f, item, f"unknown {what} {excerpt(word)}; expected {expected}{hint}")
            ok = False
        elif word not in out:
            out.append(word)
    return out if ok else None


def read_class(
    reader: Reader,
    f: SourceFile,
    name: str,
    node: Node,
    defined: set[str],
    classes: Iterable[str] = (),
) -> model.CallerClass | None:
    """The class of the ``principals`` entry ``name`` (``node`` is its value, a class),
    or None with every problem reported. ``defined`` are the names ``except`` may use;
    ``classes`` the names of the classes, which it may not."""
    assert isinstance(node, MappingNode)
    body = node.value[0][1]
    if isinstance(body, MappingNode) and not body.value:
        return model.CallerClass(name)
    items = reader.mapping(
        f, body, "the conditions of a class (organization, account, type, except)"
    )
    if items is None:
        return None
    keys = reader.keys(f, items, _CLASS_KEYS, "condition", f" in class {excerpt(name)}")
    ok = len(keys) == len(items)
    organization: model.Membership | None = None
    if "organization" in keys:
        value = keys["organization"][1]
        word = value.value if isinstance(value, ScalarNode) else None
        if word in _MEMBERSHIP:
            organization = model.Membership(word)
        else:
            reader.error(f, value, f"expected inside or outside, got {describe(value)}")
            ok = False
    accounts: frozenset[str] | None = None
    if "account" in keys:
        value = keys["account"][1]
        nodes = value.value if isinstance(value, SequenceNode) else [value]
        found: set[str] = set()
        for item in nodes:
            account = reader.account(f, item, "an account ID")
            if account is None:
                ok = False
            else:
                found.add(account)
        if isinstance(value, SequenceNode) and not nodes:
            reader.error(f, value, "expected at least one account ID, got an empty list")
            ok = False
        accounts = frozenset(found)
    kinds: frozenset[model.CallerKind] | None = None
    if "type" in keys:
        got = _words(reader, f, keys["type"][1], "caller type", _KINDS)
        if got is None:
            ok = False
        else:
            kinds = frozenset(model.CallerKind(k) for k in got)
    excluded: frozenset[str] = frozenset()
    if "except" in keys:
        names = reader.name_list(
            f, keys["except"][1], "principal name", "a list of principal names"
        )
        if names is None:
            ok = False
        else:
            for other, item in names:
                if other in defined:
                    continue
                if other == ANYONE or other in classes:
                    reader.error(
                        f,
                        item,
                        f"{excerpt(other)} is a class of callers; 'except' takes defined "
                        "principals, not classes",
                    )
                else:
                    reader.unknown(f, item, "principal", other, sorted(defined))
                ok = False
            excluded = frozenset(n for n, _ in names)
    if not ok:
        return None
    return model.CallerClass(name, organization, accounts, kinds, excluded)


def read_closed_accounts(reader: Reader, f: SourceFile, node: Node) -> frozenset[str] | None:
    """``closed-accounts``: a list of account IDs (or one)."""
    nodes = node.value if isinstance(node, SequenceNode) else [node]
    if isinstance(node, SequenceNode) and not nodes:
        reader.error(f, node, "expected a list of account IDs, got an empty list")
        return None
    found: set[str] = set()
    ok = True
    for item in nodes:
        account = reader.account(f, item, "an account ID")
        if account is None:
            ok = False
        else:
            found.add(account)
    return frozenset(found) if ok else None
