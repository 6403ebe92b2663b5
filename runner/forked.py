"""One piece of work over contiguous parts of a list, in forked processes, each part's output
in the list's order: ``runner eval --jobs``.

The first part runs in this process and writes to the given streams as it goes; each other
part runs in a child forked before it, which writes its output and its error text to unlinked
temporary files and pickles what the work returns to a third. The parent then reaps the
children in order, copies each one's output and error text to its own streams and returns the
values in order: each stream holds the same text, in the same order, as if the parts had run
one after the other in this process.

A process is forked only where it can be done safely: where ``os.fork`` exists (not Windows)
and from the main thread of a process that runs no other thread (a fork copies only the
forking thread, so a lock another thread held would stay held in the child).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import signal
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Generic, NoReturn, TextIO, TypeVar

__all__ = ["WorkerFailed", "available_cpus", "can_fork", "run_parts", "split"]

T = TypeVar("T")
R = TypeVar("R")


def _text(file: IO[bytes]) -> io.TextIOWrapper:
    """A child's text file as text: every str round-trips (lone surrogates included), so the
    parent writes exactly the text the work wrote."""
    return io.TextIOWrapper(file, encoding="utf-8", errors="surrogatepass", newline="\n")


class WorkerFailed(Exception):
    """A child process raised, or ended without its results; the message says which part
    and why (the child's traceback, or how it ended)."""


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether this process may fork for :func:`run_parts` (see the module's docstring)."""
    return (
        hasattr(os, "fork")
        and threading.current_thread() is threading.main_thread()
        and threading.active_count() == 1
    )


def split(weights: Sequence[int], parts: int) -> list[range]:
    """Contiguous ranges of indexes into ``weights`` covering all of them, at most ``parts``
    of them and none empty, the first ending where the running total first reaches 1/parts of
    the whole, the next at 2/parts, and so on (a weight below 1 counts as 1)."""
    count = len(weights)
    parts = max(1, min(parts, count))
    sizes = [max(1, w) for w in weights]
    total = sum(sizes)
    ranges: list[range] = []
    start = 0
    running = 0
    for index, size in enumerate(sizes):
        running += size
        left = parts - len(ranges) - 1  # boundaries still to place after this range
        if left == 0:
            break
        # close the range here when its share is reached, or when every remaining item must
        # start a range of its own
        if running * parts >= total * (len(ranges) + 1) or count - index - 1 == left:
            ranges.append(range(start, index + 1))
            start = index + 1
    ranges.append(range(start, count))
    return [r for r in ranges if len(r)]


def run_parts(
    items: Sequence[T],
    jobs: int,
    weight: Callable[[T], int],
    work: Callable[[Sequence[T], TextIO, TextIO], R],
    out: TextIO,
    err: TextIO,
) -> list[R]:
    """``work(part, out, err)`` for contiguous parts of ``items`` of about equal ``weight``,
    in up to ``jobs`` processes; the values in the parts' order. With ``jobs`` below 2, one
    item, or where this process may not fork, the work runs once, here, over all items.
    Raises :class:`WorkerFailed` when a child's work raised or the child ended without its
    results."""
    parts = split([weight(item) for item in items], jobs) if jobs > 1 and can_fork() else []
    if len(parts) < 2:
        return [work(items, out, err)]
    # what this process has written but not flushed would be written again by each child
    out.flush()
    err.flush()
    children: list[_Child[R] | list[T]] = []  # a part a fork failed for runs here, in turn
    try:
        for part in parts[1:]:
            items_of = [items[i] for i in part]
            try:
                children.append(_Child.start(items_of, work))
            except OSError:  # no more processes or memory for one: the parts run here
                children.append(items_of)
        values = [work([items[i] for i in parts[0]], out, err)]
        for child in children:
            if isinstance(child, _Child):
                values.append(child.finish(out, err))
            else:
                values.append(work(child, out, err))
        return values
    finally:
        for child in children:
            if isinstance(child, _Child):
                child.stop()


@dataclass
class _Child(Generic[R]):
    pid: int
    first: object  # the part's first item, for messages
    size: int
    out: IO[bytes]
    err: IO[bytes]
    value: IO[bytes]
    reaped: bool = False

    @classmethod
    def start(cls, part: list[T], work: Callable[[Sequence[T], TextIO, TextIO], R]) -> _Child[R]:
        # closed by stop(), which run_parts calls for every child it started
        files = tuple(tempfile.TemporaryFile() for _ in range(3))  # noqa: SIM115
        try:
            pid = os.fork()
        except OSError:
            for file in files:
                file.close()
            raise
        if pid == 0:  # pragma: no cover - the child: measured by the tests' output only
            _run_child(part, work, files[0], files[1], files[2])
        return cls(pid, part[0], len(part), files[0], files[1], files[2])

    def finish(self, out: TextIO, err: TextIO) -> R:
        """Wait for the child; copy its text to ``out`` and ``err``; its work's value."""
        _pid, status = os.waitpid(self.pid, 0)
        self.reaped = True
        self.value.seek(0)
        try:
            outcome = pickle.load(self.value)
        except (EOFError, pickle.UnpicklingError) as exc:
            raise WorkerFailed(
                f"the worker process of {self._part()} ended without its results "
                f"({_how_it_ended(status)})"
            ) from exc
        finally:
            self.value.close()
        if outcome[0] != "ok":
            raise WorkerFailed(f"the worker process of {self._part()} failed:\n{outcome[1]}")
        for source, target in ((self.out, out), (self.err, err)):
            source.seek(0)
            with _text(source) as text:
                shutil.copyfileobj(text, target, 1 << 20)
        value: R = outcome[1]
        return value

    def stop(self) -> None:
        """Kill the child if it has not been reaped (this process is leaving early)."""
        for stream in (self.out, self.err, self.value):
            stream.close()
        if not self.reaped:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.reaped = True

    def _part(self) -> str:
        more = f" and the {self.size - 1} after it" if self.size > 1 else ""
        return f"{self.first}{more}"


def _how_it_ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:  # pragma: no cover - a signal Python has no name for
            name = f"signal {number}"
        return f"killed by {name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _run_child(  # pragma: no cover - runs in the child only
    part: list[T],
    work: Callable[[Sequence[T], TextIO, TextIO], R],
    out_file: IO[bytes],
    err_file: IO[bytes],
    value_file: IO[bytes],
) -> NoReturn:
    """The child's whole life: the work, its value pickled, then the process ends at once
    (``os._exit``: nothing of the parent's, its buffers and exit handlers, runs twice)."""
    status = 0
    try:
        out = _text(out_file)
        err = _text(err_file)
        outcome: tuple[str, object]
        try:
            outcome = ("ok", work(part, out, err))
        except BaseException:  # also KeyboardInterrupt: the parent says what happened
            outcome = ("error", traceback.format_exc())
        out.flush()
        err.flush()
        pickle.dump(outcome, value_file, protocol=pickle.HIGHEST_PROTOCOL)
        value_file.flush()
    except BaseException:
        status = 1
    os._exit(status)
