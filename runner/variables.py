"""Policy text with wildcards and policy variables, compiled once.

A :class:`Template` is one string from a policy (a ``Resource`` entry, a String or Arn
condition value). In policy language version ``2012-10-17`` it may contain policy variables
(AWS page "IAM policy elements: Variables and tags"):

- ``${aws:username}``, ``${aws:PrincipalTag/team}``: the value of that request context key;
- ``${aws:PrincipalTag/team, 'shared'}``: the same with a default used when the key has no value;
- ``${*}``, ``${?}``, ``${$}``: a literal ``*``, ``?`` or ``$`` (not a wildcard).

In version ``2008-10-17`` (and when ``Version`` is missing) ``${...}`` is plain text.

Rules chosen here, each documented where AWS is not explicit:

- A variable whose key is missing from the request, has no value, or has several values has
  no value: AWS substitutes only single-valued keys ("Policy variables": "you can't use
  multivalued keys as policy variables"). The default applies then; without a default the whole
  text has no value and :meth:`Template.render` / :meth:`Template.regex` return ``None``, which
  the caller treats as "this policy value matches nothing".
- Text that comes from a variable (and from ``${*}``, ``${?}``, ``${$}`` and defaults) is always
  literal; only ``*`` and ``?`` written in the policy itself are wildcards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from runner.model import RequestContext

__all__ = ["Template", "TemplateError", "compile_template", "wildcard_regex"]

#: The one policy language version in which ``${...}`` is a policy variable.
VARIABLES_VERSION = "2012-10-17"

_ESCAPES = {"*": "*", "?": "?", "$": "$"}
# ${service:key} or ${service:key, 'default'}; blanks around the parts are allowed.
_VARIABLE = re.compile(r"^\s*(?P<key>[^\s,'{}$]+)\s*(?:,\s*'(?P<default>[^'{}$]*)'\s*)?$")
_KEY = re.compile(r"^[A-Za-z0-9_.-]+:\S+$")
# A pattern that matches nothing (a policy value that can never match, see regex()).
_NEVER = re.compile(r"(?!)")
_CACHE_LIMIT = 256


class TemplateError(ValueError):
    """Policy text whose variable syntax is malformed; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class _Variable:
    key: str
    default: str | None


# A part of a template: policy text (``*``/``?`` are wildcards), literal text, or a variable.
_Part = tuple[str, str] | _Variable
_POLICY = "policy"
_LITERAL = "literal"


class Template:
    """One policy string, parsed once. Build it with :func:`compile_template`."""

    __slots__ = ("_cache", "_parts", "_static", "has_variables", "text")

    def __init__(self, text: str, parts: tuple[_Part, ...]) -> None:
        self.text: str = text
        self._parts = parts
        self.has_variables: bool = any(isinstance(p, _Variable) for p in parts)
        self._static: dict[int, re.Pattern[str]] = {}
        self._cache: dict[tuple[int, tuple[str, ...]], re.Pattern[str]] = {}

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    @property
    def variable_keys(self) -> tuple[str, ...]:
        """The condition keys of the variables, in order (``${*}`` and the like are text)."""
        return tuple(p.key for p in self._parts if isinstance(p, _Variable))

    def _values(self, ctx: RequestContext) -> tuple[str, ...] | None:
        """The text of every variable, in order; None when one of them has no value."""
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, _Variable):
                values = ctx.get_values(part.key)
                if values is not None and len(values) == 1:
                    out.append(values[0])
                elif part.default is not None:
                    out.append(part.default)
                else:
                    return None
        return tuple(out)

    def render(self, ctx: RequestContext) -> str | None:
        """The text with every variable replaced by its value (``${*}`` -> ``*`` and so on);
        ``None`` when a variable has no value and no default."""
        if not self.has_variables:
            return "".join(p[1] for p in self._parts if not isinstance(p, _Variable))
        values = self._values(ctx)
        if values is None:
            return None
        it = iter(values)
        return "".join(next(it) if isinstance(p, _Variable) else p[1] for p in self._parts)

    def regex(
        self, ctx: RequestContext, *, arn_components: bool = False, resource: bool = False
    ) -> re.Pattern[str] | None:
        """A pattern to ``fullmatch`` against request text: ``*`` and ``?`` written in the
        policy are wildcards (``*`` may match nothing), everything else is literal.

        With ``arn_components`` the text is compared as an ARN, part by part (AWS page
        "IAM JSON policy elements: Condition operators", ARN operators: "each of the six
        colon-delimited components of the ARN is checked separately"): wildcards do not cross
        ``:`` in the first five parts; the sixth part (the resource) is the rest of the ARN, so
        there ``*`` may match ``:``. Text that is not an ARN (fewer than six parts) matches
        nothing.

        With ``resource`` the text is a ``Resource`` ARN pattern ("IAM JSON policy elements:
        Resource"): wildcards work "within the individual segments of an ARN (the parts
        separated by colons)", except that "if the * wildcard is the last character of a
        resource ARN segment, it can expand to match beyond the colon boundaries". So ``?``
        and a ``*`` inside a segment stay within it; a ``*`` that ends one may cross ``:``.

        ``None`` when a variable has no value and no default."""
        mode = _ARN if arn_components else _RESOURCE if resource else _TEXT
        if not self.has_variables:
            pattern = self._static.get(mode)
            if pattern is None:
                pattern = _compile(self._atoms(()), mode)
                self._static[mode] = pattern
            return pattern
        values = self._values(ctx)
        if values is None:
            return None
        key = (mode, values)
        pattern = self._cache.get(key)
        if pattern is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            pattern = _compile(self._atoms(values), mode)
            self._cache[key] = pattern
        return pattern

    def _atoms(self, values: tuple[str, ...]) -> list[tuple[bool, str]]:
        """(is_wildcard, text) pieces: wildcards are single ``*``/``?`` from policy text."""
        atoms: list[tuple[bool, str]] = []
        it = iter(values)
        for part in self._parts:
            if isinstance(part, _Variable):
                atoms.append((False, next(it)))
            elif part[0] == _LITERAL:
                atoms.append((False, part[1]))
            else:
                for piece in re.split(r"([*?])", part[1]):
                    if piece in ("*", "?"):
                        atoms.append((True, piece))
                    elif piece:
                        atoms.append((False, piece))
        return atoms


#: How _compile reads wildcards: in plain text, in an ARN compared component by component (ARN
#: condition operators), in a Resource ARN pattern.
_TEXT, _ARN, _RESOURCE = 0, 1, 2


def _compile(atoms: list[tuple[bool, str]], mode: int) -> re.Pattern[str]:
    if mode == _TEXT:
        out = []
        for wild, text in atoms:
            if wild:
                out.append(".*" if text == "*" else ".")
            else:
                out.append(re.escape(text))
        return re.compile("".join(out), re.DOTALL)
    # Split at the first five literal colons: six ARN components.
    components: list[list[tuple[bool, str]]] = [[]]
    for wild, text in atoms:
        if wild:
            components[-1].append((wild, text))
            continue
        rest = text
        while rest:
            if len(components) == 6:
                components[-1].append((False, rest))
                break
            head, colon, rest = rest.partition(":")
            if head:
                components[-1].append((False, head))
            if colon:
                components.append([])
    if len(components) < 6 and mode == _ARN:
        return _NEVER
    out = []
    for index, component in enumerate(components):
        last = index == 5
        piece = []
        for position, (wild, text) in enumerate(component):
            if not wild:
                piece.append(re.escape(text))
            elif text == "*":
                ends_segment = mode == _RESOURCE and position == len(component) - 1
                piece.append(".*" if last or ends_segment else "[^:]*")
            else:
                piece.append("." if last else "[^:]")
        out.append("".join(piece))
    return re.compile(":".join(out), re.DOTALL)


def _parse(text: str) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    pos = 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            if pos < len(text):
                parts.append((_POLICY, text[pos:]))
            return tuple(parts)
        if start > pos:
            parts.append((_POLICY, text[pos:start]))
        end = text.find("}", start + 2)
        if end < 0:
            raise TemplateError(
                f"unclosed policy variable in {text!r}: '${{' at position {start} has no "
                "closing '}'; write ${$} for a literal '$'"
            )
        inner = text[start + 2 : end]
        if inner in _ESCAPES:
            parts.append((_LITERAL, _ESCAPES[inner]))
        else:
            m = _VARIABLE.match(inner)
            if not m or not _KEY.match(m["key"]):
                raise TemplateError(
                    f"invalid policy variable '${{{inner}}}' in {text!r}: expected "
                    "${service:key} (such as ${aws:username}), ${service:key, 'default'}, "
                    "${*}, ${?} or ${$}"
                )
            parts.append(_Variable(m["key"], m["default"]))
        pos = end + 1


def compile_template(text: str, *, version: str) -> Template:
    """Parse ``text`` from a policy whose ``Version`` is ``version``.

    Only in ``2012-10-17`` is ``${...}`` a policy variable; otherwise the text is taken as
    written. Raises :class:`TemplateError` for malformed variable syntax (an unclosed ``${``,
    ``${}`` or a variable that is not ``${service:key}``)."""
    if version != VARIABLES_VERSION or "${" not in text:
        return Template(text, ((_POLICY, text),) if text else ())
    return Template(text, _parse(text))


@lru_cache(maxsize=4096)
def wildcard_regex(
    text: str, *, arn_components: bool = False, resource: bool = False
) -> re.Pattern[str]:
    """``text`` with ``*`` and ``?`` as wildcards and no variables, as a pattern to
    ``fullmatch``; ``arn_components`` and ``resource`` as in :meth:`Template.regex`. Cached."""
    pattern = Template(text, ((_POLICY, text),) if text else ()).regex(
        RequestContext(), arn_components=arn_components, resource=resource
    )
    assert pattern is not None  # no variables, so always a pattern
    return pattern
