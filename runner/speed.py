"""Speed mechanisms, in one place with the measurement behind each.

None of these changes a result; each removes a cost that profiling showed.

- :func:`collector_paused`: the cyclic garbage collector is paused while a burst of small
  containers is built and none is freed (composing a YAML file: about a third of loading 800
  spec files; encoding the report: it doubled rendering at 20,000 checks), and while pytest
  evaluates a check, which leaves no garbage cycle (runner/plugin/gcfreeze.py).
- :class:`IdentityMemo`: a bounded cache keyed by the *identity* of frozen model objects
  (principal, resource, organization). Their dataclasses hash by value, which walks policies
  and tags each time; identity is exact for the lifetime of the object, and the entry keeps
  the objects alive, so an id is never reused while its entry exists. Used by the engine for
  the request contexts it fills in and shares (runner/engine/context.py; bench_engine.py: most
  of a decision's cost without it).
- :func:`interned`: one shared instance per distinct set of parts, for the frozen values the
  engine builds again and again from the same few parts (a policy's applicable statements,
  the six gate results). Creating a frozen slotted dataclass costs one ``object.__setattr__``
  per field, about twenty times a tuple; the C ``lru_cache`` lookup a tenth of that. The parts
  must hash by identity, as compiled policies and statements do.
- Enum members on the hot path: reading ``Kind.MEMBER`` through the class costs a descriptor
  call (about ten times a module global), and an ``Enum`` hashes through a Python-level
  ``__hash__``; the engine reads the members it compares on every decision from module-level
  names, and its own rule enum hashes by identity in C (members are singletons).
  Measured with callgrind over bench_engine.py's corpus: the engine's evidence built afresh
  and members read through their classes took 14% more instructions per decision than the
  single-module engine before it; with both measures, 2% fewer.
- :func:`slot_setters`: the model's most built records (``Request``, ``Check``) have their
  own ``__init__``, which sets each slot through its descriptor (see its docstring).
- GC freezing for pytest runs lives with the plugin (runner/plugin/gcfreeze.py), because it
  follows pytest's session; its measurements are written there.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, ParamSpec, TypeVar, cast

V = TypeVar("V")
P = ParamSpec("P")


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

    Equal ids mean the same objects: an entry holds its objects, so none of them can be freed
    and its id reused by another object while the entry exists. So a hit needs no ``is`` test
    (with that test and a key built by a generator, a lookup took twice as long).
    """

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: dict[tuple[object, ...], tuple[tuple[object, ...], V]] = {}

    def get(self, objects: tuple[object, ...], extra: object, make: Callable[[], V]) -> V:
        key = (*map(id, objects), extra)
        hit = self._entries.get(key)
        if hit is not None:
            return hit[1]
        value = make()
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[key] = (objects, value)
        return value

    def clear(self) -> None:
        self._entries.clear()


def interned(maxsize: int) -> Callable[[Callable[P, V]], Callable[P, V]]:
    """Wrap a constructor of immutable values so that equal arguments (hashable, compared as
    they hash) give the same instance; the ``maxsize`` most recent are kept."""

    def wrap(make: Callable[P, V]) -> Callable[P, V]:
        return cast("Callable[P, V]", functools.lru_cache(maxsize=maxsize)(make))

    return wrap


def slot_setters(cls: type) -> tuple[Callable[[object, object], None], ...]:
    """The setter of each slot of ``cls``, in the order of the parameters of its own
    ``__init__``, which sets them through these: the ``__init__`` a frozen dataclass would get
    calls ``object.__setattr__`` once per field, twice the time (timeit: 0.26 us against
    0.50 us for a Request; eval over 100 of bench_scale.py's files: 2% fewer instructions for
    Check). Assigning to an instance later still raises FrozenInstanceError."""
    code = cls.__init__.__code__  # type: ignore[misc]
    return tuple(getattr(cls, name).__set__ for name in code.co_varnames[1 : code.co_argcount])
