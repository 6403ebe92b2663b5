"""A spec file and the files it includes: their top-level keys and the definitions they share.

:func:`gather` reads a spec file and, depth first, every file it includes (an included file's
definitions come before the including file's), and returns the :class:`Definitions` of all of
them. Include chains of any depth are walked without recursion.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from runner.errors import Problem
from runner.policy import managed
from runner.spec.nodes import Definition, Entry, Reader, SourceFile
from runner.spec.yamlfiles import parse_file
from runner.spec.yamlsafe import MappingNode, Node, ScalarNode, describe, excerpt, where

__all__ = [
    "SPEC_KEYS",
    "Definitions",
    "FileContextKey",
    "Places",
    "file_state",
    "gather",
    "open_file",
]

#: The top-level keys of a spec file, in the documented order.
SPEC_KEYS = (
    "description",
    "include",
    "import",
    "policies",
    "principals",
    "resources",
    "organization",
    "closed-accounts",
    "context",
    "cases",
)
#: ``closed-accounts`` speaks for the spec that runs: an include file cannot close accounts.
_INCLUDE_KEYS = tuple(k for k in SPEC_KEYS if k not in ("cases", "closed-accounts"))
SUFFIXES = (".yaml", ".yml")
#: Names that the organization section gives to policies the tool defines itself.
PREDEFINED_SCP = "FullAWSAccess"
PREDEFINED_RCP = "RCPFullAWSAccess"
_PLURAL = {"policy": "policies", "principal": "principals", "resource": "resources"}


@dataclass(frozen=True, slots=True)
class Places:
    """Where the files of one load are: ``display`` is the folder that messages show paths
    relative to; ``project`` the folder (resolved) outside which no file is read, so that a
    spec cannot make the tool read and quote a file elsewhere (a symbolic link to a key)."""

    display: Path
    project: Path

    def outside(self, path: Path) -> bool:
        """Whether ``path``, symbolic links followed, is outside the project."""
        try:
            return not path.resolve().is_relative_to(self.project)
        except ValueError:  # a NUL in the name: no such file, as the caller will find
            return False
        except (OSError, RuntimeError):  # a link loop
            return True

    def refusal(self) -> str:
        """The words for a file refused by :meth:`outside`."""
        return (
            f"it is outside the project {self.project.as_posix()} (symbolic links followed); "
            "files outside the project are never read"
        )

    def show(self, path: Path) -> str:
        """``path`` relative to the display folder when inside it (posix slashes), else
        absolute."""
        if isinstance(path, PurePosixPath):
            # what relative_to gives for a path below the folder, as text (a tenth of it)
            text, folder = str(path), str(self.display)
            if text.startswith(folder) and text[len(folder) : len(folder) + 1] == "/":
                return text[len(folder) + 1 :]
        try:
            return path.relative_to(self.display).as_posix()
        except ValueError:
            return path.as_posix()


def join(including: Path, relative: str) -> Path:
    """A path named in ``including`` (already absolute), relative to its folder; normalised
    without touching the disk (``..`` removed), as resolving every path costs a stat per
    component."""
    return Path(os.path.normpath(including.parent / relative))


@dataclass(frozen=True, slots=True)
class FileContextKey:
    """A key of a file's ``context`` (for every case): the key as written, its values, the
    ``context`` definition it belongs to and the key's node."""

    key: str
    values: tuple[str, ...]
    definition: Definition
    node: ScalarNode


@dataclass(frozen=True, slots=True)
class Definitions:
    """Everything a spec file and its includes define, by name. ``broken`` holds names whose
    definition is wrong (already reported), so that references to them stay quiet; ``fatal``
    says a problem was found after which later messages would be nonsense (a misspelt
    section, an include that cannot be read), so cases are not read."""

    spec: SourceFile
    top: dict[str, Entry]
    description: str | None
    policies: dict[str, Definition] = field(default_factory=dict)
    principals: dict[str, Definition] = field(default_factory=dict)
    resources: dict[str, Definition] = field(default_factory=dict)
    organization: Definition | None = None
    #: lowercased key -> the key of a file's context
    context: dict[str, FileContextKey] = field(default_factory=dict)
    #: the ``import`` section of each file that has one (read by ``runner.spec.imports``)
    imports: list[Definition] = field(default_factory=list)
    broken: frozenset[str] = frozenset()
    fatal: bool = False


#: What ``Path.exists`` takes for "no such file" (os.stat fails with one of these errors).
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})
NO_FILE = "no such file"
NOT_REGULAR = "not a regular file"


def file_state(path: Path) -> str | None:
    """None when ``path`` is a regular file (symbolic links followed), else why not:
    :data:`NO_FILE`, :data:`NOT_REGULAR`, or the system's words for a name it refuses
    ("File name too long"), which ``Path.is_file`` would raise. One stat call."""
    try:
        mode = os.stat(path).st_mode
    except ValueError:  # a NUL in the name
        return NO_FILE
    except OSError as exc:
        if exc.errno in _ABSENT:
            return NO_FILE
        return exc.strerror or str(exc)
    return None if stat.S_ISREG(mode) else NOT_REGULAR


def open_file(
    reader: Reader, places: Places, path: Path, *, at: tuple[SourceFile, ScalarNode] | None
) -> SourceFile | None:
    """Parse a spec file (``at`` None) or an include file named at ``at``; problems are
    reported in it (or at the include)."""
    display = places.show(path)
    what = file_state(path)
    if what is not None:
        if at is None:
            reader.problems.append(Problem(None, f"{display}: {what}"))
        elif what in (NO_FILE, NOT_REGULAR):
            reader.error(at[0], at[1], f"cannot include {excerpt(at[1].value)}: {what} ({display})")
        else:  # the name itself is refused: it would only be repeated
            reader.error(at[0], at[1], f"cannot include {excerpt(at[1].value)}: {what}")
        return None
    parsed = parse_file(path, cache=at is not None)
    for p in parsed.problems:
        reader.error(display, (p.line, p.col), p.message)
    if parsed.problems:
        return None
    if parsed.root is None:
        reader.error(
            display,
            (1, 1),
            "the file is empty; a spec needs at least 'cases'"
            if at is None
            else "the included file is empty",
        )
        return None
    if not isinstance(parsed.root, MappingNode):
        reader.error(
            display,
            parsed.root,
            f"expected a mapping of top-level keys ({', '.join(SPEC_KEYS)}), "
            f"got {describe(parsed.root)}",
        )
        return None
    assert parsed.text is not None  # it was composed
    return SourceFile(path, display, parsed.key, parsed.root, parsed.text)


@dataclass(slots=True)
class _Frame:
    """A file being read: its known top-level keys and the includes still to read."""

    file: SourceFile
    top: dict[str, Entry]
    includes: Iterator[tuple[str, Node]]


class _Gathering:
    """The definitions of one spec file as they are found, file by file."""

    def __init__(self, reader: Reader, places: Places) -> None:
        self.reader = reader
        self.places = places
        self.loaded: set[Path] = set()
        self.broken: set[str] = set()
        self.fatal = False
        self.description: str | None = None
        self.policies: dict[str, Definition] = {}
        self.principals: dict[str, Definition] = {}
        self.resources: dict[str, Definition] = {}
        self.organization: Definition | None = None
        self.context: dict[str, FileContextKey] = {}
        self.imports: list[Definition] = []

    def run(self, spec: SourceFile) -> Definitions:
        chain: list[_Frame] = [self.enter(spec, include_file=False)]
        on_chain: list[Path] = [spec.path]
        top = chain[0].top
        while chain:
            frame = chain[-1]
            nxt = self.next_include(frame, on_chain)
            if nxt is not None:
                chain.append(self.enter(nxt, include_file=True))
                on_chain.append(nxt.path)
                continue
            chain.pop()
            on_chain.pop()
            self.leave(frame, include_file=bool(chain))
        return Definitions(
            spec=spec,
            top=top,
            description=self.description,
            policies=self.policies,
            principals=self.principals,
            resources=self.resources,
            organization=self.organization,
            context=self.context,
            imports=self.imports,
            broken=frozenset(self.broken),
            fatal=self.fatal,
        )

    def enter(self, f: SourceFile, *, include_file: bool) -> _Frame:
        """Read the top-level keys of ``f``."""
        reader = self.reader
        items = reader.mapping(f, f.root, "a mapping")
        assert items is not None
        if include_file:
            for k, _v in items:
                if k.value == "cases":
                    reader.error(
                        f,
                        k,
                        "an include file cannot hold 'cases': include files only share "
                        "definitions (policies, principals, resources, organization, context); "
                        "move the cases into a spec file",
                    )
            items = [(k, v) for k, v in items if k.value != "cases"]
        valid = _INCLUDE_KEYS if include_file else SPEC_KEYS
        top = reader.keys(f, items, valid, "top-level key")
        if len(top) != len(items):
            self.fatal = True
        self.loaded.add(f.path)
        names: list[tuple[str, Node]] = []
        if "include" in top:
            names = (
                reader.name_list(f, top["include"][1], "file name", "a list of file names") or []
            )
        return _Frame(f, top, iter(names))

    def next_include(self, frame: _Frame, on_chain: list[Path]) -> SourceFile | None:
        """The next file ``frame`` includes that is still to be read, or None."""
        f = frame.file
        for name, node in frame.includes:
            assert isinstance(node, ScalarNode)
            target = join(f.path, name)
            if target.suffix not in SUFFIXES:
                self.reader.error(
                    f,
                    node,
                    f"cannot include {excerpt(name)}: an include file is a .yaml or .yml file of "
                    "definitions",
                )
                self.fatal = True
                continue
            if target in self.loaded and target in on_chain:
                cycle = [*on_chain[on_chain.index(target) :], target]
                self.reader.error(
                    f, node, "include cycle: " + " -> ".join(self.places.show(p) for p in cycle)
                )
                continue
            if target in self.loaded:
                continue  # a diamond: already read through another include
            if self.places.outside(target):
                self.reader.error(
                    f, node, f"cannot include {excerpt(name)}: {self.places.refusal()}"
                )
                self.fatal = True
                continue
            inc = open_file(self.reader, self.places, target, at=(f, node))
            if inc is None:
                self.fatal = True
                continue
            return inc
        return None

    def leave(self, frame: _Frame, *, include_file: bool) -> None:
        """Record the definitions of ``frame``'s file (its includes' are recorded already)."""
        reader, f, top = self.reader, frame.file, frame.top
        if "description" in top and not include_file:
            self.description = reader.text(f, top["description"][1], "a description (text)")
        for section, table, what in (
            ("policies", self.policies, "policy"),
            ("principals", self.principals, "principal"),
            ("resources", self.resources, "resource"),
        ):
            if section in top:
                self.section(f, top[section][1], table, what)
        if "import" in top:
            k, v = top["import"]
            self.imports.append(Definition("import", f, k, v))
        if "organization" in top:
            k, v = top["organization"]
            if self.organization is not None:
                reader.error(
                    f,
                    k,
                    f"'organization' is defined twice: here and at {self.organization.where}",
                )
            else:
                self.organization = Definition("organization", f, k, v)
        if "context" in top:
            k, v = top["context"]
            d = Definition("context", f, k, v)
            for entry in reader.context(f, v):
                prev = self.context.get(entry.key.lower())
                if prev is not None:
                    line, col = where(prev.definition.key)
                    reader.error(
                        f,
                        entry.node,
                        f"context key {excerpt(entry.key)} is defined twice: here and in the "
                        "'context' "
                        f"at {prev.definition.file.display}:{line}:{col}",
                    )
                    continue
                self.context[entry.key.lower()] = FileContextKey(
                    entry.key, entry.values, d, entry.node
                )

    def section(self, f: SourceFile, node: Node, table: dict[str, Definition], what: str) -> None:
        reader = self.reader
        entries = reader.mapping(f, node, f"a mapping of {what} names to {_PLURAL[what]}")
        if entries is None:
            self.fatal = True
        for k, v in entries or []:
            if not reader.check_name(f, k, what):
                self.broken.add(k.value)
                continue
            if k.value in table:
                reader.error(
                    f,
                    k,
                    f"{what} {excerpt(k.value)} is defined twice: here and at "
                    f"{table[k.value].where}",
                )
                continue
            if what == "policy" and k.value in (PREDEFINED_SCP, PREDEFINED_RCP):
                reader.error(
                    f, k, f"{excerpt(k.value)} is a predefined policy name; choose another name"
                )
                self.broken.add(k.value)
                continue
            if what == "policy" and k.value in managed.shipped():
                # a reference by name would mean this document here and AWS's elsewhere
                # (by ARN); an explanation would blame AWS's policy for what this one allows
                reader.error(
                    f,
                    k,
                    f"{excerpt(k.value)} is a predefined policy name (an AWS managed policy); "
                    "choose another name",
                )
                self.broken.add(k.value)
                continue
            table[k.value] = Definition(k.value, f, k, v)


def gather(reader: Reader, places: Places, spec: SourceFile) -> Definitions:
    """The definitions of ``spec`` and of every file it includes, problems reported."""
    return _Gathering(reader, places).run(spec)
