"""A per-process cache of encoded answers that can never change, bounded in bytes (oldest out).

Pages of the payroll feed and scoped views of a run's results are computed from rows that never
change once written; encoding them again for every request cost more than reading them. Each app
(each server process) has its own caches; what a cache holds is bounded by the bytes of its
bodies, whatever clients ask for, so memory stays flat under any mix of requests.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


ENTRY = 256
"""Bytes an entry is charged besides its body and key weight: its key, tuple and dict slot. Without
it, empty bodies (an empty feed page is ~90 bytes) under keys as large as a feed's list of runs
held far more than the budget."""


class BodyCache(Generic[T]):
    """Values with a body (bytes) first, by key, up to `budget` bytes of bodies, keys (`weight`) and
    `ENTRY` each; the least recently used go first. A body over an eighth of the budget is not
    kept. Safe from any thread."""

    def __init__(self, budget: int = 32 * 1024 * 1024) -> None:
        self.budget = budget
        self.used = 0
        self.pages: OrderedDict[Hashable, tuple[bytes, T]] = OrderedDict()
        self.charged: dict[Hashable, int] = {}
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[bytes, T] | None:
        with self.lock:
            found = self.pages.get(key)
            if found is not None:
                self.pages.move_to_end(key)
            return found

    def put(self, key: Hashable, body: bytes, extra: T, weight: int = 0) -> None:
        """Keep `body` under `key`; `weight`: the bytes the key holds beyond a few small values."""
        cost = len(body) + weight + ENTRY
        if cost > self.budget // 8:
            return
        with self.lock:
            if key in self.pages:
                return
            self.pages[key] = (body, extra)
            self.charged[key] = cost
            self.used += cost
            while self.used > self.budget:
                old, _ = self.pages.popitem(last=False)
                self.used -= self.charged.pop(old)

    def __len__(self) -> int:
        return len(self.pages)
