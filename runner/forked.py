"""One piece of work over consecutive parts of a list, in forked processes, with what each part
writes put back in the list's order: ``runner eval --jobs``.

The first part runs in this process and writes to the given streams as it goes. Each other part
runs in a child forked before it, which writes into one unlinked temporary file, in the order
the work wrote them, every piece of text it wrote to either stream, then the pickled value the
work returned. The parent then takes the children in order: it replays each one's text to its
own streams (so the standard output and standard error of a terminal interleave as they would
in one process) and collects the values. A child that did not finish its part (it raised, was
killed, could not write its file or pickle its value) has written nothing to the parent's
streams yet: its part runs again in the parent, so the run ends exactly as it would in one
process (an exception of the work is raised here, as there).

A process forks only where that is safe: on Linux (elsewhere a fork without exec may not be),
from the main thread of a process that runs no other thread (a fork copies the forking thread
alone, so a lock another thread held would stay held in the child; Linux lists every thread,
those Python does not know of included), and unless SIGCHLD is ignored (then children are
reaped by the system and cannot be waited for). A child ends when the parent does (Linux's
parent-death signal), so a parent killed by a signal leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Generic, NoReturn, TextIO, TypeVar, cast

__all__ = ["available_cpus", "can_fork", "run_parts", "split"]

T = TypeVar("T")
R = TypeVar("R")

#: A record of a child's file: its kind (``o`` standard output, ``e`` standard error, ``v``
#: the pickled value, always last) and the length of what follows
_HEADER = struct.Struct("<cQ")
_OUT, _ERR, _VALUE = b"o", b"e", b"v"
#: Text a child keeps before writing it as one record (consecutive writes to one stream)
_PENDING_LIMIT = 1 << 16
#: The signals blocked while forking: one arriving between the fork and the child's own
#: handling would run the parent's clean-up code in the child
_FORK_BLOCKED = {signal.SIGINT, signal.SIGTERM}
_PR_SET_PDEATHSIG = 1


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, within the CPU quota of its
    control group (cgroup v2 ``cpu.max``) where it has one."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        count = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(count, quota)) if quota is not None else count


def _cgroup_quota(proc: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup") -> int | None:
    """The CPUs the cgroup v2 quota of this process allows (rounded up), or None."""
    try:
        with open(proc, encoding="utf-8") as f:
            lines = f.read().splitlines()
        group = next(line[3:] for line in lines if line.startswith("0::"))
        with open(f"{root}{group.rstrip('/')}/cpu.max", encoding="utf-8") as f:
            quota, period = f.read().split()
        if quota == "max":
            return None
        return max(1, -(-int(quota) // int(period)))
    except (OSError, StopIteration, ValueError, ZeroDivisionError):
        return None


#: Open files left to this process whatever its workers hold (each holds one here), for the
#: spec, include and policy files it reads itself
_FILES_KEPT = 64


def _spare_files() -> int:
    """How many workers' files this process can hold and still keep :data:`_FILES_KEPT`
    files for its own reading (the soft limit of open files, less those open)."""
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 16
    try:
        open_now = len(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - no /proc
        return 0
    return max(0, soft - open_now - _FILES_KEPT)


def can_fork() -> bool:
    """Whether this process may fork for :func:`run_parts` (see the module's docstring)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False  # pragma: no cover - not Linux
    if threading.current_thread() is not threading.main_thread():
        return False
    if threading.active_count() != 1:
        return False
    try:
        if len(os.listdir("/proc/self/task")) != 1:  # threads Python does not know of
            return False
    except OSError:  # pragma: no cover - no /proc
        return False
    return signal.getsignal(signal.SIGCHLD) is not signal.SIG_IGN


def split(weights: Sequence[int], parts: int) -> list[range]:
    """Consecutive ranges of indexes into ``weights``, covering all of them, none empty, at
    most ``parts`` of them, whose largest total weight is as small as it can be (a weight below
    1 counts as 1); fewer ranges when more would not make the largest smaller."""
    sizes = [max(1, w) for w in weights]
    if not sizes:
        return []
    parts = max(1, min(parts, len(sizes)))
    # the smallest largest total with which a greedy cut makes at most ``parts`` ranges
    low, high = max(sizes), sum(sizes)
    while low < high:
        middle = (low + high) // 2
        if len(_cut(sizes, middle)) <= parts:
            high = middle
        else:
            low = middle + 1
    return _cut(sizes, low)


def _cut(sizes: Sequence[int], limit: int) -> list[range]:
    """Consecutive ranges, each as long as it can be without passing ``limit``."""
    ranges: list[range] = []
    start = 0
    total = 0
    for index, size in enumerate(sizes):
        if total + size > limit and index > start:
            ranges.append(range(start, index))
            start, total = index, 0
        total += size
    ranges.append(range(start, len(sizes)))
    return ranges


def run_parts(
    items: Sequence[T],
    jobs: int,
    weight: Callable[[T], int],
    work: Callable[[Sequence[T], TextIO, TextIO], R],
    out: TextIO,
    err: TextIO,
) -> list[R]:
    """``work(part, out, err)`` for consecutive parts of ``items`` of about equal ``weight``,
    in up to ``jobs`` processes; the values in the parts' order. With ``jobs`` below 2, one
    item, or where this process may not fork, the work runs once, here, over all items."""
    if jobs > 1 and can_fork():
        jobs = min(jobs, 1 + _spare_files())
    parts = split([weight(item) for item in items], jobs) if jobs > 1 and can_fork() else []
    if len(parts) < 2:
        return [work(items, out, err)]
    # what this process has written but not flushed would be written again by each child
    out.flush()
    err.flush()
    chunks = [[items[i] for i in part] for part in parts]
    children: list[_Child[R] | None] = []  # None: the part runs here (no file or fork for it)
    try:
        for chunk in chunks[1:]:
            child = None
            if all(c is not None for c in children):  # once a fork fails, no more are tried
                with contextlib.suppress(OSError):  # no more processes, memory or files
                    child = _Child.start(chunk, work, children)
            children.append(child)
        values = [work(chunks[0], out, err)]
        for child, chunk in zip(children, chunks[1:], strict=True):
            done = child.finish(out, err) if child is not None else None
            values.append(done[0] if done is not None else work(chunk, out, err))
        return values
    finally:
        for child in children:
            if child is not None:
                child.stop()


@dataclass
class _Child(Generic[R]):
    pid: int
    file: IO[bytes]
    reaped: bool = False

    @classmethod
    def start(
        cls,
        chunk: list[T],
        work: Callable[[Sequence[T], TextIO, TextIO], R],
        siblings: Sequence[_Child[R] | None],
    ) -> _Child[R]:
        file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop(), run_parts calls it
        parent = os.getpid()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _FORK_BLOCKED)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            file.close()
            raise
        if pid == 0:  # pragma: no cover - the child: measured by the tests' output only
            _run_child(chunk, work, file, siblings, parent, blocked)
        try:
            return cls(pid, file)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def finish(self, out: TextIO, err: TextIO) -> tuple[R] | None:
        """Wait for the child; replay its text to ``out`` and ``err`` and return its value,
        or None (nothing written) when it did not finish its part."""
        self._reap()
        value = self._value()
        if value is None:
            return None
        for kind, data in _records(self.file):
            if kind != _VALUE:
                (out if kind == _OUT else err).write(data.decode("utf-8", "surrogatepass"))
        return value

    def stop(self) -> None:
        """Close the child's file; kill the child if it has not been reaped (this process
        is leaving early)."""
        self.file.close()
        if not self.reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap()

    def _reap(self) -> None:
        if self.reaped:
            return
        self.reaped = True
        with contextlib.suppress(ChildProcessError):  # reaped already, by the system
            os.waitpid(self.pid, 0)

    def _value(self) -> tuple[R] | None:
        """The child's pickled value, when every record up to it is whole, or None."""
        import pickle  # only where processes fork: 2 ms at every start otherwise

        last: bytes | None = None
        try:
            for kind, data in _records(self.file, skip=True):
                last = data if kind == _VALUE else None
            if last is None:
                return None
            value: R = pickle.loads(last)
        except Exception:  # a cut or broken file, a value that does not unpickle
            return None
        return (value,)


def _records(file: IO[bytes], *, skip: bool = False) -> Iterator[tuple[bytes, bytes]]:
    """The records of a child's file, from its start; with ``skip`` the payloads of text
    records are not read (empty). Raises ValueError at a record cut short."""
    file.seek(0)
    while header := file.read(_HEADER.size):
        if len(header) < _HEADER.size:
            raise ValueError("a record cut short")
        kind, length = _HEADER.unpack(header)
        if skip and kind != _VALUE:
            file.seek(length, os.SEEK_CUR)
            data = b""
        else:
            data = file.read(length)
            if len(data) < length:
                raise ValueError("a record cut short")
        yield kind, data
    if skip and file.tell() != os.fstat(file.fileno()).st_size:
        raise ValueError("a record cut short")  # pragma: no cover - seek past the end


class _Journal:
    """A child's file as both streams' writer: the text written, in order, in records."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.kind = _OUT
        self.pending: list[str] = []
        self.size = 0

    def write(self, kind: bytes, text: str) -> None:
        if kind != self.kind or self.size > _PENDING_LIMIT:
            self.flush()
            self.kind = kind
        self.pending.append(text)
        self.size += len(text)

    def flush(self) -> None:
        if self.pending:
            self.record(self.kind, "".join(self.pending).encode("utf-8", "surrogatepass"))
            self.pending.clear()
            self.size = 0

    def record(self, kind: bytes, data: bytes) -> None:
        self.file.write(_HEADER.pack(kind, len(data)))
        self.file.write(data)


class _Stream(io.TextIOBase):
    """One stream of a child, written to its journal."""

    def __init__(self, journal: _Journal, kind: bytes) -> None:
        self.journal = journal
        self.kind = kind

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.journal.write(self.kind, text)
        return len(text)


def _run_child(  # pragma: no cover - runs in the child only
    chunk: list[T],
    work: Callable[[Sequence[T], TextIO, TextIO], R],
    file: IO[bytes],
    siblings: Sequence[_Child[R] | None],
    parent: int,
    blocked: set[int | signal.Signals],
) -> NoReturn:
    """The child's whole life: the work, its text and value written to ``file``, then the
    process ends at once (``os._exit``: nothing of the parent's, its buffers and exit
    handlers, runs twice). Any failure ends it without the value record: the parent then runs
    the part itself."""
    status = 1
    try:
        _die_with(parent)
        for sibling in siblings:
            if sibling is not None:
                sibling.file.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        journal = _Journal(file)
        # a TextIOBase with write() is all the work writes to (print() and .write())
        streams = (cast(TextIO, _Stream(journal, _OUT)), cast(TextIO, _Stream(journal, _ERR)))
        value = work(chunk, *streams)
        journal.flush()
        import pickle

        journal.record(_VALUE, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        file.flush()
        status = 0
    except BaseException:  # also KeyboardInterrupt: the parent runs the part, or stops
        pass
    os._exit(status)


def _die_with(parent: int) -> None:  # pragma: no cover - runs in the child only
    """End this process when its parent ends (Linux's PR_SET_PDEATHSIG); end it now if the
    parent has already gone."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
