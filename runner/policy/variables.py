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
from typing import Protocol

from runner.model import RequestContext

__all__ = ["Matcher", "Template", "TemplateError", "compile_template", "wildcard_regex"]

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
        self._static: dict[int, Matcher] = {}
        self._cache: dict[tuple[int, tuple[str, ...]], Matcher] = {}

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


class Matcher(Protocol):
    """What a wildcard pattern offers: ``fullmatch(text)`` is truthy when it matches."""

    def fullmatch(self, string: str) -> object: ...


# Tokens of a wildcard pattern for the linear matcher: a character, any one character, any run.
# The argument of the last two: whether they may match ``:``.
_LIT, _ONE, _RUN = 0, 1, 2
_Token = tuple[int, str | bool]


class _LinearMatcher:
    """A pattern with several ``*`` as a set-of-states automaton: time linear in the text.

    Python's backtracking ``re`` takes time exponential in the number of ``.*`` on hostile
    text (``*a*a*a*a*a*a*a*a*a*a*b`` against sixty ``a``: hours). Results are remembered
    per text: a run asks about the same few repository ARNs and context values again and
    again."""

    __slots__ = ("_memo", "_tokens")

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._memo: dict[str, bool] = {}

    def fullmatch(self, string: str) -> bool:
        hit = self._memo.get(string)
        if hit is None:
            if len(self._memo) >= _CACHE_LIMIT:
                self._memo.clear()
            hit = self._memo[string] = self._run(string)
        return hit

    def _close(self, states: set[int]) -> set[int]:
        tokens, end = self._tokens, len(self._tokens)
        out: set[int] = set()
        stack = list(states)
        while stack:
            i = stack.pop()
            if i not in out:
                out.add(i)
                if i < end and tokens[i][0] == _RUN:
                    stack.append(i + 1)  # a run may be empty
        return out

    def _run(self, text: str) -> bool:
        tokens, end = self._tokens, len(self._tokens)
        states = self._close({0})
        for ch in text:
            nxt: set[int] = set()
            for i in states:
                if i == end:
                    continue
                kind, arg = tokens[i]
                if kind == _LIT:
                    if arg == ch:
                        nxt.add(i + 1)
                elif arg or ch != ":":
                    nxt.add(i + 1 if kind == _ONE else i)
            if not nxt:
                return False
            states = self._close(nxt)
        return end in states


def _compile(atoms: list[tuple[bool, str]], mode: int) -> Matcher:
    """The pattern as a regex, or, with more than one ``*``, as a linear matcher."""
    tokens: list[_Token] = []

    def literal(text: str) -> None:
        tokens.extend((_LIT, ch) for ch in text)

    def wildcard(star: bool, crosses_colon: bool) -> None:
        tokens.append((_RUN if star else _ONE, crosses_colon))

    if mode == _TEXT:
        for wild, text in atoms:
            if wild:
                wildcard(text == "*", True)
            else:
                literal(text)
    else:
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
        for index, component in enumerate(components):
            if index:
                literal(":")
            last = index == 5
            for position, (wild, text) in enumerate(component):
                if not wild:
                    literal(text)
                else:
                    ends_segment = mode == _RESOURCE and position == len(component) - 1
                    star = text == "*"
                    wildcard(star, last or (star and ends_segment))
    if sum(kind == _RUN for kind, _arg in tokens) > 1:
        return _LinearMatcher(tokens)
    return token_regex(tokens)


def token_regex(tokens: list[_Token]) -> re.Pattern[str]:
    """The backtracking regex for a token list (what _LinearMatcher computes without it)."""
    out: list[str] = []
    for kind, arg in tokens:
        if kind == _LIT:
            out.append(re.escape(str(arg)))
        elif kind == _ONE:
            out.append("." if arg else "[^:]")
        else:
            out.append(".*" if arg else "[^:]*")
    return re.compile("".join(out), re.DOTALL)


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
def wildcard_regex(text: str, *, arn_components: bool = False, resource: bool = False) -> Matcher:
    """``text`` with ``*`` and ``?`` as wildcards and no variables, as a pattern to
    ``fullmatch``; ``arn_components`` and ``resource`` as in :meth:`Template.regex`. Cached."""
    pattern = Template(text, ((_POLICY, text),) if text else ()).regex(
        RequestContext(), arn_components=arn_components, resource=resource
    )
    assert pattern is not None  # no variables, so always a pattern
    return pattern
