"""One spec file (and the files it includes and references) -> :class:`model.Spec`.

:func:`load_spec` collects every problem it can find in one pass and raises one
:class:`SpecError` with all of them, each at ``file:line:col``; it never raises anything
else. The steps, each in its own module: read and compose the files safely (``yamlfiles``,
``yamlsafe``, ``yamlcheck``), gather the definitions of the spec and its includes
(``includes``), read policy sources and compile them (``sources``, ``policies``), build
principals, resources and the organization (``entities``), and expand the cases into checks
(``cases``).

The format is described in ``docs/spec-reference.md`` and ``runner/data/spec.schema.json``.
"""

from __future__ import annotations

import errno
import functools
import os
from pathlib import Path

from runner import model
from runner.errors import Problem, SpecError
from runner.spec.cases import MAX_CHECKS, CaseReader
from runner.spec.classes import read_closed_accounts
from runner.spec.entities import Entities
from runner.spec.imports.wire import read_imports
from runner.spec.includes import Places, gather, open_file
from runner.spec.nodes import Reader
from runner.spec.policies import PolicyBook
from runner.spec.yamlsafe import SequenceNode, describe
from runner.speed import collector_paused

__all__ = ["load_spec"]


def load_spec(
    path: str | os.PathLike[str],
    *,
    display_root: Path | None = None,
    project_root: Path | None = None,
) -> model.Spec:
    """Load one spec file (and the files it includes and references) into a :class:`Spec`.

    Raises :class:`SpecError` carrying every problem found, each at ``file:line:col``; never
    any other exception. Paths are shown relative to ``display_root`` (default: the current
    directory) when inside it. Include and policy files that are not inside ``project_root``
    (default: ``display_root``), symbolic links followed, are refused without being read.
    """
    display = _resolved(str(display_root if display_root is not None else Path.cwd()))
    project = _resolved(str(project_root)) if project_root is not None else display
    places = Places(display, project)
    try:
        spec_path = Path(path).resolve()
    except (OSError, RuntimeError) as exc:  # a loop of symbolic links: RuntimeError up to 3.12
        shown = places.show(Path(os.path.abspath(path)))
        if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
            message = f"{shown}: a loop of symbolic links, no file at its end"
        else:
            message = f"{shown}: cannot read the file: {exc.strerror or exc}"
        raise SpecError([Problem(None, message)]) from None
    reader = Reader()
    # spec_path is resolved already: inside the project, symbolic links followed, is
    # places.outside(spec_path) without resolving it a second time (4 lstat calls per file);
    # the path as named is made only for a spec found outside (7 us a file otherwise)
    if not spec_path.is_relative_to(project):
        named = Path(os.path.abspath(path))
        if named.is_relative_to(project):
            # a spec in the project that is a symbolic link to a file elsewhere: refused
            # unread, as include and policy files are (a spec named outside the project is
            # the user's)
            raise SpecError([Problem(None, f"{places.show(named)}: {places.refusal()}")])
    # Loading allocates many small, acyclic objects (YAML nodes, checks): see runner.speed.
    with collector_paused():
        try:
            spec = _load(reader, places, spec_path)
        except RecursionError:  # every walk is iterative or bounded; this is a last guard
            reader.error(places.show(spec_path), None, "the spec is nested too deeply to be read")
            spec = None
    if reader.problems:
        raise SpecError(_unique(reader.problems))
    assert spec is not None
    return spec


@functools.lru_cache(maxsize=64)
def _resolved(root: str) -> Path:
    return Path(root).resolve()


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[object, str]] = set()
    out: list[Problem] = []
    for p in problems:
        key = (p.loc, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _load(reader: Reader, places: Places, spec_path: Path) -> model.Spec | None:
    f = open_file(reader, places, spec_path, at=None)
    if f is None:
        return None
    defs = gather(reader, places, f)
    if defs.fatal:
        # a misspelt section or an unreadable include: later messages would be nonsense
        return None
    book = PolicyBook(reader, places, defs)
    imports = read_imports(reader, places, defs.imports)
    for what, defined, imported in (
        ("principal", defs.principals, imports.principals),
        ("resource", defs.resources, imports.resources),
    ):
        for name in defined.keys() & imported.keys():
            d = defined[name]
            reader.error(
                d.file,
                d.key,
                f"{what} {name!r} is defined twice: here and by the import of "
                f"{imports.origin[(what, name)]}",
            )
    entities = Entities(reader, defs, book, imports)
    # every definition is checked, used or not
    for name in defs.policies:
        book.source(name)
    ok, organization = entities.organization()
    for name in defs.principals:
        entities.principal(name)
    for name in defs.resources:
        entities.resource(name)
    book.check_unattached()
    if "cases" not in defs.top:
        reader.error(
            f,
            f.root,
            "a spec needs 'cases' (a list of expectations); if this file only shares "
            "definitions, start its name with '_' and include it from a spec",
        )
        return None
    node = defs.top["cases"][1]
    if not isinstance(node, SequenceNode) or not node.value:
        reader.error(f, node, f"expected a list of cases, got {describe(node)}")
        return None
    closed = frozenset(imports.closed_accounts)
    if "closed-accounts" in defs.top:
        closed |= read_closed_accounts(reader, f, defs.top["closed-accounts"][1]) or frozenset()
    cases = CaseReader(reader, defs, entities, organization, closed)
    checks: list[model.Check] = []
    for index, case_node in enumerate(node.value):
        got = cases.case(f, index, case_node)
        if got is not None:
            checks.extend(got)
            if len(checks) > MAX_CHECKS:
                reader.error(f, case_node, f"this spec expands to more than {MAX_CHECKS} checks")
                return None
    if reader.problems or not ok:
        return None
    return model.Spec(
        path=f.display,
        description=defs.description,
        checks=tuple(checks),
        policies=(*book.infos, *imports.infos),
        warnings=(*book.warnings, *reader.warnings, *imports.warnings),
        closed_accounts=closed,
    )
