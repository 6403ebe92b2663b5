"""Policy text with wildcards and policy variables, compiled once.

A :class:`Template` is one string from a policy (a ``Resource`` entry, a String or Arn
condition value). In policy language version ``2012-10-17`` it may contain policy variables
(AWS page "IAM policy elements: Variables and tags"):

- ``${aws:username}``, ``${aws:PrincipalTag/team}``: the value of that request context key;
- ``${aws:PrincipalTag/team, 'shared'}``: the same with a default used when the key has no value;
- ``${*}``, ``${?}``, ``${$}``: a literal ``*``, ``?`` or ``$`` (not a wildcard).

In version ``2008-10-17`` (and when ``Version`` is missing) ``${...}`` is plain text.

Rules chosen here, each documented where AWS is not explicit:

- A variable that names a multivalued key (``${aws:TagKeys}``) is refused, as a problem of the
  policy: AWS says "You can't use a multivalued condition key as a variable" and does not say
  what such text becomes, not even with a default.
- A variable whose key is missing from the request, has no value, or has several values has
  no value ("Policy variables with no value"; a single-valued key given several values cannot
  reach here, the spec loader refuses it). The default applies then; without a default the
  whole text has no value and :meth:`Template.render` / :meth:`Template.regex` return ``None``,
  which the caller treats as "this policy value matches nothing".
- Only ``*`` and ``?`` written in the policy itself are wildcards; ``${*}``, ``${?}``, ``${$}``
  are literal. A ``*`` or ``?`` in a variable's value (or its default) where wildcards match
  (:meth:`Template.regex`) raises :class:`~runner.errors.Undecided`: AWS does not say whether
  it is one. Where text is compared whole (:meth:`Template.render`) it is just a character.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NoReturn

from runner.errors import Undecided
from runner.model import RequestContext
from runner.wildcards import Atom, Matcher, Mode, compile_atoms, token_regex

__all__ = [
    "PolicyVersion",
    "Template",
    "TemplateError",
    "Variable",
    "compile_template",
    "token_regex",
    "wildcard_regex",
]


class PolicyVersion(enum.StrEnum):
    """The policy language versions ("IAM JSON policy elements: Version"). Only in
    ``2012-10-17`` is ``${...}`` a policy variable; a document without Version is
    ``2008-10-17``."""

    V2012 = "2012-10-17"
    V2008 = "2008-10-17"


_ESCAPES = {"*": "*", "?": "?", "$": "$"}
# ${service:key} or ${service:key, 'default'}; blanks around the parts are allowed.
_VARIABLE = re.compile(r"^\s*(?P<key>[^\s,'{}$]+)\s*(?:,\s*'(?P<default>[^'{}$]*)'\s*)?$")
_KEY = re.compile(r"^[A-Za-z0-9_.-]+:\S+$")
#: The multivalued condition keys of "AWS global condition context keys" (lowercased): a
#: policy variable cannot name them
_MULTIVALUED = frozenset(
    k.lower()
    for k in (
        "aws:CalledVia", "aws:PrincipalOrgPaths", "aws:PrincipalServiceNamesList",
        "aws:ResourceOrgPaths", "aws:SourceOrgPaths", "aws:TagKeys", "aws:VpceOrgPaths",
    )
)  # fmt: skip
_CACHE_LIMIT = 256


class TemplateError(ValueError):
    """Policy text whose variable syntax is malformed; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Variable:
    """A policy variable: ``${key}``, or ``${key, 'default'}``."""

    key: str
    default: str | None


@dataclass(frozen=True, slots=True)
class _Text:
    """Text of a template: written in the policy (``*``/``?`` are wildcards) or not (the
    escapes ``${*}``, ``${?}``, ``${$}``: literal)."""

    text: str
    policy: bool


# A part of a template: text or a variable.
_Part = _Text | Variable


class Template:
    """One policy string, parsed once. Build it with :func:`compile_template`."""

    __slots__ = ("_cache", "_parts", "_static", "has_variables", "text")

    def __init__(self, text: str, parts: tuple[_Part, ...]) -> None:
        self.text: str = text
        self._parts = parts
        self.has_variables: bool = any(isinstance(p, Variable) for p in parts)
        self._static: dict[Mode, Matcher] = {}
        self._cache: dict[tuple[Mode, tuple[str, ...]], Matcher] = {}

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    @property
    def variables(self) -> tuple[Variable, ...]:
        """The variables, in order (``${*}`` and the like are text)."""
        return tuple(p for p in self._parts if isinstance(p, Variable))

    @property
    def variable_keys(self) -> tuple[str, ...]:
        """The condition keys of the variables, in order (``${*}`` and the like are text)."""
        return tuple(p.key for p in self._parts if isinstance(p, Variable))

    def _values(self, ctx: RequestContext) -> tuple[str, ...] | None:
        """The text of every variable, in order; None when one of them has no value."""
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, Variable):
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
            return "".join(p.text for p in self._parts if isinstance(p, _Text))
        values = self._values(ctx)
        if values is None:
            return None
        it = iter(values)
        return "".join(next(it) if isinstance(p, Variable) else p.text for p in self._parts)

    def regex(
        self, ctx: RequestContext, *, arn_components: bool = False, resource: bool = False
    ) -> Matcher | None:
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
        resource ARN segment, it can expand to match beyond the colon boundaries". So in the
        first five segments ``?`` and a ``*`` inside a segment stay within it, and a ``*`` that
        ends one may cross ``:``; the sixth (the resource) is the rest of the ARN, as above.

        ``None`` when a variable has no value and no default."""
        mode = Mode.ARN if arn_components else Mode.RESOURCE if resource else Mode.TEXT
        if not self.has_variables:
            pattern = self._static.get(mode)
            if pattern is None:
                pattern = compile_atoms(self._atoms(()), mode)
                self._static[mode] = pattern
            return pattern
        values = self._values(ctx)
        if values is None:
            return None
        if any("*" in value or "?" in value for value in values):
            self._undecided(values)
        key = (mode, values)
        pattern = self._cache.get(key)
        if pattern is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            pattern = compile_atoms(self._atoms(values), mode)
            self._cache[key] = pattern
        return pattern

    def _undecided(self, values: tuple[str, ...]) -> NoReturn:
        """Raise Undecided for the first variable whose value holds a wildcard character."""
        variable, value = next(
            (var, val)
            for var, val in zip(self.variables, values, strict=True)
            if "*" in val or "?" in val
        )
        wild = "*" if "*" in value else "?"
        raise Undecided(
            f"the policy variable ${{{variable.key}}} in {self.text!r} is {value!r} for this "
            f"request, and AWS does not document whether a {wild!r} that comes from a "
            "variable's value is a wildcard (only that ${*} and ${?} are literal)"
        )

    def _atoms(self, values: tuple[str, ...]) -> list[Atom]:
        """The pattern's pieces: wildcards are single ``*``/``?`` from policy text."""
        atoms: list[Atom] = []
        it = iter(values)
        for part in self._parts:
            if isinstance(part, Variable):
                atoms.append(Atom(False, next(it)))
            elif not part.policy:
                atoms.append(Atom(False, part.text))
            else:
                for piece in re.split(r"([*?])", part.text):
                    if piece in ("*", "?"):
                        atoms.append(Atom(True, piece))
                    elif piece:
                        atoms.append(Atom(False, piece))
        return atoms


def _parse(text: str) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    pos = 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            if pos < len(text):
                parts.append(_Text(text[pos:], policy=True))
            return tuple(parts)
        if start > pos:
            parts.append(_Text(text[pos:start], policy=True))
        end = text.find("}", start + 2)
        if end < 0:
            raise TemplateError(
                f"unclosed policy variable in {text!r}: '${{' at position {start} has no "
                "closing '}'; write ${$} for a literal '$'"
            )
        inner = text[start + 2 : end]
        if inner in _ESCAPES:
            parts.append(_Text(_ESCAPES[inner], policy=False))
        else:
            m = _VARIABLE.match(inner)
            if not m or not _KEY.match(m["key"]):
                raise TemplateError(
                    f"invalid policy variable '${{{inner}}}' in {text!r}: expected "
                    "${service:key} (such as ${aws:username}), ${service:key, 'default'}, "
                    "${*}, ${?} or ${$}"
                )
            if m["key"].lower() in _MULTIVALUED:
                raise TemplateError(
                    f"policy variable '${{{inner}}}' in {text!r} names {m['key']}, a multivalued "
                    "condition key: AWS says \"You can't use a multivalued condition key as a "
                    'variable" (IAM policy elements: Variables and tags) and does not say what '
                    "the text becomes; test the key with ForAnyValue or ForAllValues instead"
                )
            parts.append(Variable(m["key"], m["default"]))
        pos = end + 1


def compile_template(text: str, *, version: str) -> Template:
    """Parse ``text`` from a policy whose ``Version`` is ``version``.

    Only in ``2012-10-17`` is ``${...}`` a policy variable; otherwise the text is taken as
    written. Raises :class:`TemplateError` for malformed variable syntax (an unclosed ``${``,
    ``${}`` or a variable that is not ``${service:key}``)."""
    if version != PolicyVersion.V2012 or "${" not in text:
        return Template(text, (_Text(text, policy=True),) if text else ())
    return Template(text, _parse(text))


@lru_cache(maxsize=4096)
def wildcard_regex(text: str, *, arn_components: bool = False, resource: bool = False) -> Matcher:
    """``text`` with ``*`` and ``?`` as wildcards and no variables, as a pattern to
    ``fullmatch``; ``arn_components`` and ``resource`` as in :meth:`Template.regex`. Cached."""
    pattern = Template(text, (_Text(text, policy=True),) if text else ()).regex(
        RequestContext(), arn_components=arn_components, resource=resource
    )
    assert pattern is not None  # no variables, so always a pattern
    return pattern
