"""Keeping a long pytest run's live objects away from the cyclic garbage collector.

With tens of thousands of items (and on the controller, their results) alive until the end of
the session, each full run of the cyclic collector walks all of them again. Measured with
``python benchmarks/bench_scale.py pytest`` (and its ``xdist`` variant):

- during the run, about a sixth of a 20,000-check run goes to those walks; :meth:`GcFreezer.freeze`
  (``gc.freeze()``) moves what is alive out of the collector's reach, once after collection
  and again every :data:`FREEZE_EVERY` checks reported. Objects are still freed by reference
  counting as usual;
- after the run, pytest's unraisable-exception plugin runs collections at its cleanup: 0.4 s
  of walking after 8,000 checks at ``-n 2``. The plugin thaws (:meth:`GcFreezer.thaw`) in a
  cleanup registered before pytest's own, so it runs after them;
- at interpreter exit, the shutdown walks every live object in several full collections: 0.7 s
  after 8,000 checks, the same again in each xdist worker (:func:`_quiet_exit`).

Nothing here changes a result. Below :data:`FREEZE_EVERY` checks nothing is frozen.
"""

from __future__ import annotations

import atexit
import gc

#: Spec checks past which long-lived objects are kept away from the cyclic GC.
FREEZE_EVERY = 2000

#: Whether this process has registered _quiet_exit (once, whatever the number of sessions).
_exit_hook = False


class GcFreezer:
    """The freezing state of one pytest session."""

    def __init__(self) -> None:
        self.frozen = False
        self.reports = 0
        self.next_freeze = FREEZE_EVERY

    def collected(self, checks: int) -> None:
        """After collection: freeze at once when the run is large."""
        if checks >= FREEZE_EVERY:
            gc.collect()
            self.freeze()

    def check_reported(self) -> None:
        """One more check's call report (results pile up on the controller)."""
        self.reports += 1
        if self.reports >= self.next_freeze:
            self.freeze()

    def freeze(self) -> None:
        global _exit_hook
        gc.freeze()
        self.frozen = True
        self.next_freeze = self.reports + FREEZE_EVERY
        if not _exit_hook:
            atexit.register(_quiet_exit)
            _exit_hook = True

    def thaw(self) -> None:
        """After the session, everything goes back to the collector (an in-process
        ``pytest.main()`` caller keeps running)."""
        if self.frozen:
            gc.unfreeze()
            self.frozen = False


def _quiet_exit() -> None:
    """At interpreter exit, after a run that froze the GC: one collection for the garbage
    cycles left (their finalizers run as usual), then freeze whatever is still alive. Live
    objects are still freed by reference counting as their modules are cleared; cycles still
    alive at exit are left to the operating system, which the language allows ("It is not
    guaranteed that __del__() methods are called for objects that still exist when the
    interpreter exits", Python reference, Data model, object.__del__)."""
    gc.collect()
    gc.freeze()
