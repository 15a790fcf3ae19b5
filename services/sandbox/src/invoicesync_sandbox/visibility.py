"""Writes that become visible late: the ``drop_response_visible_late`` fault.

Real accounting systems can commit a write and still not show it to reads for a while
(replicas, search indexes, list endpoints that lag). A request under that fault runs
inside ``hidden_until(moment)``; every entity it creates takes ``visible_from`` from
here, and each emulator's vendor API reads only what ``is_visible`` at its sandbox time.
The control plane (``/_sandbox``) always sees everything: it shows what is booked.
Moments are sandbox time, so ``POST /_sandbox/clock/advance`` makes such writes visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TypeVar

_HIDDEN_UNTIL: ContextVar[float] = ContextVar("sandbox_hidden_until", default=0.0)
_UNINDEXED_UNTIL: ContextVar[float] = ContextVar("sandbox_unindexed_until", default=0.0)


class LateVisible(Protocol):
    """An entity a late-visible write may create (an Exact entry, a voucher, …)."""

    visible_from: float  # sandbox epoch seconds; 0: visible at once


Entity = TypeVar("Entity", bound=LateVisible)


@contextmanager
def hidden_until(moment: float) -> Iterator[None]:
    """Entities created inside the block stay invisible to reads until ``moment``."""
    token = _HIDDEN_UNTIL.set(moment)
    try:
        yield
    finally:
        _HIDDEN_UNTIL.reset(token)


def visible_from() -> float:
    """When an entity created now may be read: at once, unless under the fault."""
    return _HIDDEN_UNTIL.get()


def is_visible(entity: LateVisible, now: float) -> bool:
    """Visible at ``now`` — and always to the request that wrote it (its own answer
    renders it; the fault decides whether the caller hears that answer)."""
    own = _HIDDEN_UNTIL.get()
    return entity.visible_from <= now or (own > 0.0 and entity.visible_from == own)


def visible(entities: Iterable[Entity], now: float) -> list[Entity]:
    """The entities a read at sandbox time ``now`` may see."""
    return [entity for entity in entities if is_visible(entity, now)]


@contextmanager
def unindexed_until(moment: float) -> Iterator[None]:
    """Entities created inside the block are read at once, but a text search (a search
    index that lags: ``drop_response_search_late``) misses them until ``moment``."""
    token = _UNINDEXED_UNTIL.set(moment)
    try:
        yield
    finally:
        _UNINDEXED_UNTIL.reset(token)


def indexed_from() -> float:
    """When a text search may find an entity created now: at once, unless under the fault."""
    return _UNINDEXED_UNTIL.get()
