"""Speed mechanisms, in one place with the measurement behind each.

None of these changes a result; each removes a cost that profiling showed.

- :func:`collector_paused`: the cyclic garbage collector is paused while a burst of small
  containers is built and none is freed (composing a YAML file: about a third of loading 800
  spec files; encoding the report: it doubled rendering at 20,000 checks).
- :class:`IdentityMemo`: a bounded cache keyed by the *identity* of frozen model objects
  (principal, resource, organization). Their dataclasses hash by value, which walks policies
  and tags each time; identity is exact for the lifetime of the object, and the entry keeps
  the objects alive, so an id is never reused while its entry exists. Used by the engine for
  the request contexts it fills in (bench_engine.py: most of a decision's cost without it).
- GC freezing for long pytest runs lives with the plugin (runner/plugin), because it follows
  pytest's session; its reasons are written there.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

V = TypeVar("V")


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (reference counting still frees)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class IdentityMemo(Generic[V]):
    """Values computed from a few objects, found again by those objects' identity.

    ``get(objects, extra, make)`` returns the value remembered for the same objects (``is``)
    and the same hashable ``extra``, or ``make()``'s result, remembered. At ``limit`` entries
    the memo starts afresh.
    """

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: dict[tuple[object, ...], tuple[tuple[object, ...], V]] = {}

    def get(self, objects: tuple[object, ...], extra: object, make: Callable[[], V]) -> V:
        key = (*(id(o) for o in objects), extra)
        hit = self._entries.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], objects, strict=True)):
            return hit[1]
        value = make()
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[key] = (objects, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
