"""The decision engine: AWS's policy evaluation rules over compiled policies, with no I/O.

``evaluate(request)`` returns a :class:`Decision` with its explanation; ``build_context`` shows
the request context the engine fills in. The clock that gives ``aws:CurrentTime`` is set once
per run (``freeze_clock``, ``set_clock``).
"""

from runner.engine.core import (
    Decision,
    build_context,
    evaluate,
    freeze_clock,
    parse_instant,
    set_clock,
)

__all__ = ["Decision", "build_context", "evaluate", "freeze_clock", "parse_instant", "set_clock"]
