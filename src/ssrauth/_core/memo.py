"""A bounded memo table shared by the pure core's caches (token verifications, cookie names,
decisions). Eviction is first-in-first-out: every entry is cheap to recompute, so the simplest
bound that caps memory is enough. An ``OrderedDict`` evicts in O(1); a plain dict's
``next(iter(d))`` walks the deleted slots a FIFO leaves at its front, which grew to a visible
share of a request under constant misses. Safe under threads: a race costs a recomputation,
never a wrong answer, because values are immutable and computed from the key alone.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Memo"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    __slots__ = ("_entries", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> V:
        entries = self._entries
        if len(entries) >= self._size:
            with contextlib.suppress(KeyError):  # another thread emptied it first
                entries.popitem(last=False)
        entries[key] = value
        return value

    def get_or_compute(self, key: K, compute: Callable[[K], V]) -> V:
        value = self._entries.get(key)
        if value is None:
            value = self.put(key, compute(key))
        return value

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
