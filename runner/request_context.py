"""The condition keys of a request and their values (:class:`RequestContext`), a value type of
the model (``runner.model`` re-exports it) that the policy language and the engine read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence

__all__ = ["RequestContext", "instant_text"]


def instant_text(when: dt.datetime) -> str:
    """``2027-01-01T00:00:00Z``: an instant as the value of ``aws:CurrentTime`` and as a
    results file writes it (``generated``, ``evaluated_at``): in UTC, whole seconds, the year
    in four digits (isoformat, not ``strftime("%Y")``, which leaves ``0001`` unpadded)."""
    utc = when.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{utc.isoformat(timespec='seconds')}Z"


class RequestContext(Mapping[str, tuple[str, ...]]):
    """Condition keys and their values. Key lookup ignores case, as IAM does; each value is a
    tuple of strings (a single-valued key has one element)."""

    __slots__ = ("_names", "_values")

    def __init__(self, values: Mapping[str, Sequence[str]] | None = None) -> None:
        self._values: dict[str, tuple[str, ...]] = {}
        self._names: dict[str, str] = {}
        for key, val in (values or {}).items():
            self._values[key.lower()] = tuple(val)
            self._names[key.lower()] = key

    @classmethod
    def from_lowered(
        cls, values: dict[str, tuple[str, ...]], names: dict[str, str]
    ) -> RequestContext:
        """A context from keys already lowercased: ``values`` maps each lowercased key to its
        values, ``names`` the same keys, in the same order, to the key as written. Both dicts
        are taken as they are (the caller gives them up). For the engine's filled-in keys:
        a sixth of the instructions of ``RequestContext(values)``."""
        out = cls()
        out._values = values
        out._names = names
        return out

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return self._values[key.lower()]

    def get_values(self, key: str) -> tuple[str, ...] | None:
        """The values of ``key`` (any case), or None when the request does not carry it."""
        return self._values.get(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)

    def merged(self, overrides: Mapping[str, Sequence[str]]) -> RequestContext:
        """A new context: this one with ``overrides`` winning key by key (any case)."""
        out = RequestContext()
        out._values = dict(self._values)
        out._names = dict(self._names)
        for key, val in overrides.items():
            out._values[key.lower()] = tuple(val)
            out._names[key.lower()] = key
        return out

    def to_dict(self) -> dict[str, list[str]]:
        return {self._names[k]: list(v) for k, v in self._values.items()}
