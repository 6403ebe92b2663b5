"""The decision engine: AWS's policy evaluation rules over compiled policies, with no I/O.

``evaluate(request)`` returns a :class:`Decision` with its explanation; ``build_context`` shows
the request context the engine fills in. The clock that gives ``aws:CurrentTime`` is set once
per run (``freeze_clock``, ``set_clock``, ``current_clock``).

Inside: ``context.py`` fills in the request context (and holds the clock); ``decide.py``
gathers the evidence from the policies (its types: ``evidence.py``) and decides over it;
``explain.py`` words the decision; ``decision.py`` ties them together in :func:`evaluate`.
"""

from runner.engine.context import (
    build_context,
    current_clock,
    freeze_clock,
    parse_instant,
    set_clock,
)
from runner.engine.decision import Decision, evaluate

__all__ = [
    "Decision",
    "build_context",
    "current_clock",
    "evaluate",
    "freeze_clock",
    "parse_instant",
    "set_clock",
]
