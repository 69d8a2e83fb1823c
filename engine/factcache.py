"""What an evaluation computes from facts and definitions alone, shared between evaluations.

A simulation evaluates the same facts under two policies, a sweep under twenty: numbers per
line, metric values, comparison keys on a threshold scale, scores, group sums and ranks do not
change between them unless the definitions they come from do. `evaluate(..., cache=FactsCache(facts))`
remembers each of those per period, keyed by the definitions (a metric's formula, a scale's
thresholds), so the next evaluation only looks them up. Without one, an evaluation gets a
private cache that keeps nothing (`keep=False`) and decides its lines a chunk at a time, so a
million-line run never holds every line's columns at once. The decisions themselves are never
cached here (the rule engine's tables are per compiled policy), only their inputs.

A scenario whose facts differ from the baseline's in a few rows (changed quotas) gets a cache
with `base=` the baseline's: a value computed from the very same row objects (or values) at the
same position is taken from there instead of being computed again.

Each remembered value is a per-line column (a list in line order), the shape a columnar
evaluator (issue 14) would compute in one pass.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from engine.facts import FactSet

T = TypeVar("T")
_MISSING: Any = object()


class FactsCache:
    """Per-line columns computed from one fact set, remembered by the definitions they depend on."""

    def __init__(self, facts: FactSet, base: FactsCache | None = None, *, keep: bool = True) -> None:
        """`keep=False`: remember nothing (one evaluation's private cache: each column is used in
        its own period only, and a million lines' columns kept to the end would cost gigabytes)."""
        self.facts = facts
        self.base = base
        self.keep = keep
        self._memo: dict[Hashable, Any] = {}

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """`make()` once per key (the key names everything the value depends on but the facts)."""
        hit = self._memo.get(key, _MISSING)
        if hit is _MISSING:
            hit = make()
            if self.keep:
                self._memo[key] = hit
        return hit

    def from_base(self, key: Hashable) -> Any:
        """What the base cache remembered under `key` (None without a base or such a value)."""
        return None if self.base is None else self.base._memo.get(key)

    def over(self, key: Hashable, items: Sequence[Any], make: Callable[[], T]) -> T:
        """`make()` once per key, from `items`; the base cache's value when it made the same key from
        the very same items (element by element), e.g. a ranking whose values a scenario left alone."""
        hit = self._memo.get(key, _MISSING)
        if hit is not _MISSING:
            return hit[1]
        done = self.base._memo.get(key) if self.base is not None else None
        if done is not None and len(done[0]) == len(items) and all(map(operator.is_, done[0], items)):
            value = done[1]
        else:
            value = make()
        if self.keep:
            self._memo[key] = (items, value)
        return value

    def column(self, key: Hashable, items: Sequence[Any], compute: Callable[[Any], T]) -> list[T]:
        """`[compute(item) for item in items]` once per key (see `columns`)."""
        return self.columns(key, items, lambda todo: [compute(item) for item in todo])

    def columns(self, key: Hashable, items: Sequence[Any], compute: Callable[[list[Any]], list[T]]) -> list[T]:
        """`compute(items)` (one value per item, a whole column at once) once per key.

        With a base cache that computed the same key, an item that is the base's item at the same
        position (the same object, or a tuple of the same objects) takes the base's value; only
        the others are computed.
        """
        hit = self._memo.get(key, _MISSING)
        if hit is not _MISSING:
            return hit[1]
        done = self.base._memo.get(key) if self.base is not None else None
        if done is not None and len(done[0]) == len(items):
            out = list(done[1])
            todo = [i for i, (b, item) in enumerate(zip(done[0], items, strict=True)) if not _same(b, item)]
            for i, v in zip(todo, compute([items[i] for i in todo]), strict=True):
                out[i] = v
        else:
            out = compute(list(items))
        if self.keep:
            self._memo[key] = (items, out)
        return out


def _same(a: object, b: object) -> bool:
    if a is b:
        return True
    if type(a) is tuple and type(b) is tuple and len(a) == len(b):
        return all(x is y for x, y in zip(a, b, strict=True))
    return False


def cache_for(facts: FactSet, cache: FactsCache | None) -> FactsCache:
    """The caller's cache when it is for these facts, else a private one that keeps nothing."""
    return cache if cache is not None and cache.facts is facts else FactsCache(facts, keep=False)
