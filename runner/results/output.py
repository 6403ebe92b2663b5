"""Writing an output file (a results file, a report, a SARIF log), for the command line and
the pytest plugin alike: atomic for a regular file, never replacing a pipe, a device or a
symbolic link, and never one of the run's inputs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = ["refuse_input", "write_text"]


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to the output file ``path`` (a results file, a report, a SARIF log).

    A regular file (or a new one) is written atomically, a reader never seeing half a file:
    a temporary file beside it, renamed onto it; parent folders are created. A symbolic link
    stays: the file it points to is the one replaced. A pipe or a character device
    (``/dev/stdout``, ``/dev/null``) is written to as it is, never replaced; so is a regular
    file that is this process's standard output or error (``--sarif /dev/stdout > out.txt``).

    Raises OSError naming what is wrong: a directory (``Is a directory``) or another kind of
    file. A caller refuses its own inputs first (:func:`refuse_input`).
    """
    path = Path(path)
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None  # a new file (or a symbolic link to one)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            return
        if not stat.S_ISREG(st.st_mode):
            raise OSError(
                errno.EINVAL, "not a regular file, a pipe or a character device", str(path)
            )
        stream = _standard_stream(st)
        if stream is not None:
            _write_through(stream, text)
            return
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def refuse_input(path: Path, inputs: Iterable[Path]) -> None:
    """Raise OSError when the output path ``path`` is one of ``inputs`` (the same file, by any
    name), such as ``--sarif spec.yaml``; called before :func:`write_text`."""
    try:
        st = os.stat(path)
    except OSError:  # nothing there yet (or said when it is written)
        return
    if stat.S_ISREG(st.st_mode) and _is_one_of(st, inputs):
        raise OSError(
            errno.EINVAL, "it is an input of this run, not an output; name another path", str(path)
        )


def _is_one_of(st: os.stat_result, paths: Iterable[Path]) -> bool:
    """Whether the file of ``st`` is one of ``paths`` (the same file, by any name)."""
    for path in paths:
        try:
            other = os.stat(path)
        except OSError:
            continue
        if os.path.samestat(other, st):
            return True
    return False


def _standard_stream(st: os.stat_result) -> int | None:
    """The descriptor of standard output or error when it is the file of ``st``."""
    for fd in (1, 2):
        try:
            other = os.fstat(fd)
        except OSError:  # closed
            continue
        if os.path.samestat(other, st):
            return fd
    return None


def _write_through(fd: int, text: str) -> None:
    """Write ``text`` on descriptor ``fd`` after what the process has printed there."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed or replaced
            stream.flush()
    data = text.encode("utf-8")
    while data:
        written = os.write(fd, data)
        data = data[written:]
