"""Keeping a pytest run's live objects away from the cyclic garbage collector.

The loaded specs, the items and (on the controller) their results stay alive until the end of
the session, and each full run of the cyclic collector walks all of them again. Measured with
``python benchmarks/bench_scale.py pytest`` (and its ``xdist`` variant), and with
``python benchmarks/bench_universal.py --xdist`` (600 universal checks in 60 spec files: a
collector callback adding up the CPU of the passes of each generation):

- during the run: about a sixth of a 20,000-check run went to those walks; on the universal
  corpus, 12 full passes in 1.0 s of CPU and 1,700 young ones in 0.35 s, of a 13 s serial
  run (with what follows: 3 full passes in 0.17 s, 330 young ones in 0.3 s).
  :meth:`GcFreezer.collected` (``gc.freeze()``) moves what is alive after collection out of
  the collector's reach in every process that collected spec checks, and
  :meth:`GcFreezer.check_reported` again every :data:`FREEZE_EVERY` checks reported (results
  pile up on the controller). Objects are still freed by reference counting as usual. The
  plugin also pauses the collector while a check is evaluated
  (:func:`runner.speed.collector_paused`): evaluating the corpus's checks leaves no garbage
  cycle at all (``gc.collect()`` after each one found none), while its allocations started
  most of those passes;
- after the run, pytest's unraisable-exception plugin runs five full collections at its
  cleanup, so that the finalizers of garbage cycles run while its hook is still there to
  report their exceptions: 0.4 s of walking after 8,000 checks at ``-n 2``, 0.5 s after the
  600 universal checks. :meth:`GcFreezer.session_over` (at ``pytest_unconfigure``, just
  before that cleanup) does what it does first, with every object back in the collector's
  reach (collections until one finds nothing, at most :data:`COLLECTIONS`; usually two),
  then freezes what is alive, so that pytest's collections find the same garbage (none
  left) without walking the live objects again. The plugin thaws (:meth:`GcFreezer.thaw`) in
  a cleanup registered before pytest's own, so it runs after them;
- at interpreter exit, the shutdown walks every live object in several full collections: 0.7 s
  after 8,000 checks, the same again in each xdist worker (:func:`_quiet_exit`).

Nothing here changes a result; a process that neither collected nor reported a spec check
is left alone.
"""

from __future__ import annotations

import atexit
import gc

#: Spec checks reported between two freezes of what is alive.
FREEZE_EVERY = 2000
#: The most collections at the end of a session, as pytest's own cleanup runs.
COLLECTIONS = 5

#: Whether this process has registered _quiet_exit (once, whatever the number of sessions).
_exit_hook = False


class GcFreezer:
    """The freezing state of one pytest session."""

    def __init__(self) -> None:
        self.frozen = False
        self.checks = 0
        self.reports = 0
        self.next_freeze = FREEZE_EVERY

    def collected(self, checks: int) -> None:
        """After collection: when this process collected spec checks, what is alive (the
        loaded specs, the items) is frozen, after one collection."""
        self.checks = checks
        if checks:
            gc.collect()
            self.freeze()

    def check_reported(self) -> None:
        """One more check's call report (results pile up on the controller)."""
        self.reports += 1
        if self.reports >= self.next_freeze:
            self.freeze()

    def session_over(self) -> None:
        """At ``pytest_unconfigure``, before pytest's cleanup collections: those collections,
        on every object, then what is alive is frozen (see the module's docstring)."""
        if not (self.checks or self.reports):
            return
        self.thaw()
        for _ in range(COLLECTIONS):
            if not gc.collect():
                break
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
