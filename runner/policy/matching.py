"""Action, resource and principal matching, compiled once per policy statement.

Validation (:mod:`runner.policy.elements`) checks the text and builds these matchers; the
engine only calls them. Rules ("IAM JSON policy elements: Action / Resource / Principal /
NotPrincipal"):

- actions ignore case; ``*`` and ``?`` are wildcards. Requests name catalog actions only, so an
  action element compiles to the frozen set of catalog actions it covers;
- resource ARNs are case-sensitive; ``*`` and ``?`` match within one colon-separated segment
  (``*`` crosses ``/``), and a ``*`` that ends a segment may also cross ``:``
  (:meth:`runner.policy.variables.Template.regex`); policy variables are substituted per request;
- principals are matched exactly; ``*`` alone means everyone.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from runner.errors import Undecided
from runner.model import Principal, PrincipalType, RequestContext
from runner.policy.variables import Template
from runner.wildcards import Matcher

__all__ = [
    "GRANT_ACCOUNT",
    "GRANT_DIRECT",
    "GRANT_NONE",
    "GRANT_ROLE",
    "ActionMatcher",
    "Grant",
    "PrincipalMatcher",
    "ResourceMatcher",
]


class Grant(enum.IntEnum):
    """How a resource-policy principal entry names the caller, weakest first. It matters in the
    same account ("Policy evaluation logic", "Permissions boundaries for IAM entities",
    "Session policies"): an account entry delegates to IAM, a role entry is still limited by
    the boundary and session policy, a direct entry (user, role session, federated user, ``*``,
    service) grants on its own."""

    NONE = 0
    ACCOUNT = 1
    ROLE = 2
    DIRECT = 3


GRANT_NONE = Grant.NONE
GRANT_ACCOUNT = Grant.ACCOUNT
GRANT_ROLE = Grant.ROLE
GRANT_DIRECT = Grant.DIRECT


@dataclass(frozen=True, slots=True)
class ActionMatcher:
    """``Action`` or ``NotAction``: ``actions`` are the catalog actions the patterns cover."""

    patterns: tuple[str, ...]
    actions: frozenset[str]
    negated: bool

    def matches(self, action: str) -> bool:
        return (action in self.actions) != self.negated

    def covered(self, catalog_actions: frozenset[str]) -> frozenset[str]:
        """The actions of ``catalog_actions`` that :meth:`matches`, all at once."""
        return catalog_actions - self.actions if self.negated else self.actions


@dataclass(frozen=True, slots=True)
class ResourceMatcher:
    """``Resource`` or ``NotResource``. ``patterns`` pairs each text with its compiled template;
    ``static`` holds the regexes of the texts without variables, ``dynamic`` the templates
    with variables (rendered per request)."""

    texts: tuple[str, ...]
    any_resource: bool
    static: tuple[Matcher, ...]
    dynamic: tuple[Template, ...]
    negated: bool

    def _covers(self, arn: str, ctx: Callable[[], RequestContext]) -> bool:
        if self.any_resource:
            return True
        for rx in self.static:
            if rx.fullmatch(arn):
                return True
        if self.dynamic:
            context = ctx()
            undecided: Undecided | None = None
            for tpl in self.dynamic:
                try:
                    pattern = tpl.regex(context, resource=True)
                except Undecided as exc:  # another entry may match whatever it would give
                    undecided = undecided or exc
                    continue
                if pattern is not None and pattern.fullmatch(arn):
                    return True
            if undecided is not None:
                raise undecided
        return False

    def matches(self, arn: str, ctx: Callable[[], RequestContext]) -> bool:
        """Whether the statement applies to ``arn``; ``ctx`` supplies the request context
        when a variable needs it."""
        return self._covers(arn, ctx) != self.negated

    def explain(self, arn: str, ctx: Callable[[], RequestContext]) -> str:
        word = "NotResource" if self.negated else "Resource"
        listed = ", ".join(self.texts)
        covered = self._covers(arn, ctx)
        if self.negated:
            return (
                f"{arn} is excluded by NotResource [{listed}]"
                if covered
                else f"{arn} is not in NotResource [{listed}]"
            )
        return (
            f"{arn} matches {word} [{listed}]" if covered else f"{arn} is not in {word} [{listed}]"
        )


@dataclass(frozen=True, slots=True)
class PrincipalMatcher:
    """``Principal`` or ``NotPrincipal`` of a resource policy, as sets.

    ``arns`` holds user, role, role-session and federated-user ARNs; ``accounts`` the
    12-digit account IDs (from ``"111122223333"`` or ``arn:aws:iam::111122223333:root``).
    """

    texts: tuple[str, ...]
    everyone: bool
    accounts: frozenset[str]
    arns: frozenset[str]
    services: frozenset[str]
    negated: bool

    def grant(self, p: Principal) -> Grant:
        """How strongly a ``Principal`` element names ``p``."""
        if self.everyone:
            return GRANT_DIRECT
        ptype = p.type
        if ptype is PrincipalType.SERVICE:
            return GRANT_DIRECT if p.service in self.services else GRANT_NONE
        if ptype is PrincipalType.ANONYMOUS:
            return GRANT_NONE
        arns = self.arns
        if ptype is PrincipalType.ROLE_SESSION:
            if p.session_arn in arns:
                return GRANT_DIRECT
            if p.arn in arns:
                return GRANT_ROLE
        elif ptype is not PrincipalType.ROOT and p.arn in arns:
            return GRANT_DIRECT
        if p.account in self.accounts:
            return GRANT_ACCOUNT
        return GRANT_NONE

    def excludes(self, p: Principal) -> bool:
        """Whether a ``NotPrincipal`` element exempts ``p``: only when it lists every identity
        the request carries - the account, and the user, the role and its session, or the
        federated user ("IAM JSON policy elements: NotPrincipal")."""
        if self.everyone:
            return True
        ptype = p.type
        if ptype is PrincipalType.SERVICE:
            return p.service in self.services
        if ptype is PrincipalType.ANONYMOUS:
            return False
        if p.boundary is not None:
            # "IAM JSON policy elements: NotPrincipal": a Deny with NotPrincipal always denies
            # an IAM principal that has a permissions boundary, whatever NotPrincipal lists.
            return False
        if p.account not in self.accounts:
            return False
        if ptype is PrincipalType.ROOT:
            return True
        if ptype is PrincipalType.ROLE_SESSION:
            return p.arn in self.arns and p.session_arn in self.arns
        return p.arn in self.arns

    def matches(self, p: Principal) -> bool:
        """Whether the statement applies to ``p`` (for an Allow, at any grant strength)."""
        if self.negated:
            return not self.excludes(p)
        return self.grant(p) != GRANT_NONE

    def explain(self, p: Principal) -> str:
        who = p.session_arn or p.arn or p.service or "anonymous caller"
        listed = ", ".join(self.texts)
        if self.negated:
            if self.excludes(p):
                return f"{who} is exempted by NotPrincipal [{listed}]"
            if p.boundary is not None and p.type is not PrincipalType.SERVICE:
                return (
                    f"{who} is not exempted by NotPrincipal [{listed}]: a principal with a "
                    "permissions boundary never is"
                )
            return (
                f"{who} is not exempted by NotPrincipal [{listed}] (an exemption must list "
                "each identity the request carries: account, role and session, or user)"
            )
        strength = self.grant(p)
        if strength == GRANT_DIRECT:
            return f"{who} is named by Principal [{listed}]"
        if strength == GRANT_ROLE:
            return f"{who} is a session of a role named by Principal [{listed}]"
        if strength == GRANT_ACCOUNT:
            return f"the account of {who} is named by Principal [{listed}]"
        return f"{who} is not named by Principal [{listed}]"
