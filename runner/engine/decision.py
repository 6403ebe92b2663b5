"""``evaluate(request)``: gather the evidence, decide, and hand back a :class:`Decision`.

``evaluate`` is the hot path: it gathers the evidence (``decide.gather``), decides
(``decide.decide``) and words the reason; the rest of the explanation is built from the same
evidence on the first ``Decision.to_dict()`` and cached.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from runner.engine import context, decide, explain
from runner.engine.evidence import Evidence
from runner.model import Gate, Request, Verdict

__all__ = ["Decision", "evaluate"]


class Decision:
    """The answer to one request. ``decision`` is a :class:`~runner.model.Verdict` (``allow``,
    ``explicit-deny`` or ``implicit-deny``); ``gate`` a :class:`~runner.model.Gate` naming the
    deciding part; ``reason`` says why in one sentence; :meth:`to_dict` explains it all."""

    __slots__ = ("_dict", "_evidence", "_ruling", "decision", "gate", "reason")

    def __init__(self, evidence: Evidence, ruling: decide.Ruling) -> None:
        self._evidence = evidence
        self._ruling = ruling
        self.decision: Verdict = ruling.verdict
        self.gate: Gate = ruling.gate
        self.reason: str = explain.reason(ruling, evidence)
        self._dict: dict[str, Any] | None = None

    @property
    def request(self) -> Request:
        """The request as decided (for ``ecr:CreateRepository``, the repository as created)."""
        return self._evidence.request

    @property
    def arn(self) -> str:
        """The resource the policies were matched against (``*`` for an account-level action)."""
        return self._evidence.arn

    @property
    def allowed(self) -> bool:
        return self.decision is Verdict.ALLOW

    def __repr__(self) -> str:
        return (
            f"Decision({self.decision.value!r}, gate={self.gate.value!r}, reason={self.reason!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The explanation as plain built-in types (docs/internals.md), built once."""
        if self._dict is None:
            self._dict = explain.explanation(self._ruling, self._evidence, self.reason)
        return self._dict

    def decisive(self) -> list[dict[str, Any]]:
        """The statements that produced the decision, as in ``to_dict()["decisive"]``; cheap
        (no request context or statement walk), for callers that need only these."""
        return explain.decisive(self._ruling, self._evidence)

    def decisive_key(self) -> tuple[object, ...]:
        """What :meth:`decisive` is made of, hashed and compared by identity: two decisions
        with equal keys have equal ``decisive()`` (the ruling and the matched policies, which
        are interned), so a caller may keep what it built from one for the other."""
        return (self._ruling, *self._evidence.policies)


def evaluate(request: Request, *, now: dt.datetime | None = None) -> Decision:
    """Decide ``request`` as AWS would. ``now`` fixes ``aws:CurrentTime`` (default: the
    engine clock). Raises ValueError only for a request that cannot exist: an action outside
    the catalog, a repository-level action without a repository, or identity policies
    attached to a root user."""
    evidence = decide.gather(request, now if now is not None else context.current_instant())
    return Decision(evidence, decide.decide(evidence))
