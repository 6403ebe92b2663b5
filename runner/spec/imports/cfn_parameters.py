"""What CloudFormation refuses of a template's parameters before it creates anything: a name
the template does not declare, and a value that the parameter's Type or constraints refuse.

Source: the "Parameters" page of the CloudFormation template reference (Type, AllowedValues,
MinLength, MaxLength, MinValue, MaxValue).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from runner import words
from runner.spec.imports.common import EntryProblem
from runner.spec.yamlsafe import NULL, MappingNode, Node, ScalarNode, SequenceNode

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner.spec.imports.cfn_template import Template

__all__ = ["check_parameters", "is_list_type"]

_T = TypeVar("_T", int, float)

#: A value of ``Type: Number`` (an integer or a float), matched whole: ASCII digits only (``\d``
#: would take other scripts' digits, which float() reads but CloudFormation does not), and no
#: line break after it (which ``$`` would let through)
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
#: How many of a template's parameter names an "unknown parameter" message lists.
_LISTED = 20
#: The length limits of a text parameter and the bound limits of a number: the key, the
#: comparison that refuses a value, and the word that says how
_LENGTHS: tuple[tuple[str, Callable[[int, int], bool], str], ...] = (
    ("MinLength", operator.lt, "shorter"),
    ("MaxLength", operator.gt, "longer"),
)
_BOUNDS: tuple[tuple[str, Callable[[float, float], bool], str], ...] = (
    ("MinValue", operator.lt, "less"),
    ("MaxValue", operator.gt, "more"),
)


def is_list_type(type_name: str) -> bool:
    """Whether a parameter of this Type stands for a list (its value is comma-separated)."""
    return type_name == "CommaDelimitedList" or type_name.startswith("List<")


def check_parameters(tpl: Template) -> list[EntryProblem]:
    """The import entry's parameters that the template refuses: a name it does not declare,
    and a value (given in the entry, or the Default used in its place) that the parameter's
    Type or constraints refuse. Problems with a given name or value are returned (the loader
    reports them at the entry); a Default's are reported at the Default (``tpl.err``)."""
    body = tpl.top.get("Parameters")
    declared = (
        {k.value: v for k, v in body.value if isinstance(k, ScalarNode)}
        if isinstance(body, MappingNode)
        else {}
    )
    out = [
        EntryProblem(name, False, _unknown(tpl.display, name, declared))
        for name in tpl.settings.parameters
        if name not in declared
    ]
    if out:
        return out
    for name, param in declared.items():
        given = tpl.settings.parameters.get(name)
        default = tpl.get(param, "Default")
        if given is None and not isinstance(default, ScalarNode):
            continue  # no value: an error where it is referenced (Template.parameter)
        value = given if given is not None else _scalar_text(tpl, default)
        if value is None:
            continue
        refused = _refusal(tpl, name, param, value)
        if refused is None:
            continue
        if given is not None:
            out.append(EntryProblem(name, True, f"{refused}; CloudFormation refuses the stack"))
        else:
            assert default is not None
            tpl.err(
                default,
                f"the Default {refused}; CloudFormation refuses the stack unless the import "
                f"entry gives {name} (parameters:)",
            )
    return out


def _unknown(display: str, name: str, declared: dict[str, Node]) -> str:
    if not declared:
        return f"unknown template parameter {name!r}: {display} has no Parameters"
    best = words.closest(name, declared)
    names = list(declared)
    shown = ", ".join(names[:_LISTED]) + (
        f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    )
    return (
        f"unknown template parameter {name!r}"
        + (f"; did you mean {best!r}?" if best else ";")
        + f" parameters of {display}: {shown}"
    )


def _scalar_text(tpl: Template, node: Node | None) -> str | None:
    """The text CloudFormation reads from a scalar (a boolean as true or false), or None."""
    if not isinstance(node, ScalarNode) or node.tag == NULL:
        return None
    value = tpl.scalar(node)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else None


def _refusal(tpl: Template, name: str, param: Node, value: str) -> str | None:
    """Why the parameter's Type or constraints (AllowedValues, MinLength, MaxLength, MinValue,
    MaxValue) refuse ``value`` (``VALUE is not ...``), or None. Each element of a list type is
    checked (as CloudFormation applies AllowedValues to each). AllowedPattern is not: it is a
    Java pattern, and matching a hostile one (``(a+)+$``) with Python's backtracking ``re``
    could take for ever."""
    ptype = tpl.get(param, "Type")
    type_name = ptype.value if isinstance(ptype, ScalarNode) else "String"
    items = [x.strip() for x in value.split(",")] if is_list_type(type_name) else [value]
    numeric = type_name in ("Number", "List<Number>")
    allowed_node = tpl.get(param, "AllowedValues")
    allowed = (
        [_scalar_text(tpl, x) for x in allowed_node.value]
        if isinstance(allowed_node, SequenceNode)
        else None
    )
    # decimal digits: what int() reads (a superscript "²" is a digit, but not a decimal one)
    lengths = [] if numeric else _limits(tpl, param, _LENGTHS, str.isdecimal)
    bounds = _limits(tpl, param, _BOUNDS, _NUMBER.fullmatch) if numeric else []
    for item in items:
        shown = repr(item)
        if numeric and not _NUMBER.fullmatch(item):
            return f"{shown} is not a number, as parameter {name} of Type {type_name} needs"
        if allowed is not None and item not in allowed:
            choices = ", ".join(x for x in allowed if x is not None)
            return f"{shown} is not one of the AllowedValues of {name} ({choices})"
        for key, bound, refuses, how in lengths:
            if refuses(len(item), int(bound)):
                return f"{shown} is {how} than the {key} {bound} of {name}"
        for key, bound, refuses, how in bounds:
            if refuses(float(item), float(bound)):
                return f"{shown} is {how} than the {key} {bound} of {name}"
    return None


def _limits(
    tpl: Template,
    param: Node,
    table: tuple[tuple[str, Callable[[_T, _T], bool], str], ...],
    valid: Callable[[str], object],
) -> list[tuple[str, str, Callable[[_T, _T], bool], str]]:
    """The limits of ``table`` that ``param`` sets with a valid bound: key, bound text,
    refusing comparison, word."""
    out = []
    for key, refuses, how in table:
        bound = _scalar_text(tpl, tpl.get(param, key))
        if bound is not None and valid(bound):
            out.append((key, bound, refuses, how))
    return out
