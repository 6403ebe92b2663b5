"""Errors for people: every problem in a spec or policy file names the file, line and column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner.model import SourceLoc


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake at one place. ``loc`` is None only when no place is known (e.g. a missing
    file named on the command line)."""

    loc: SourceLoc | None
    message: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.message}" if self.loc else self.message


class SpecError(Exception):
    """A spec file (or a file it includes or references) cannot be used. Carries every problem
    found; ``str()`` prints one ``file:line:col: message`` line per problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("SpecError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, loc: SourceLoc | None, message: str) -> SpecError:
        return cls([Problem(loc, message)])


class Undecided(Exception):
    """A request whose decision depends on what AWS does not document (a wildcard that comes
    from a policy variable's value, an IgnoreCase comparison that case-folding rules answer
    differently): the check that sent it is an error with this message, never a guess."""
