"""Exact number columns: a chunk of lines' facts as scaled integers, and metric keys over them.

The per-line passes of `engine.evaluation` read facts a column at a time. A `Column` holds one
fact column of a chunk of lines as integers scaled by a power of ten (`ints[i] / 10**scale` is
exactly the line's value): numpy `int64` when every product the evaluator forms with it stays
below 2**62, else numpy `object` arrays of Python integers (exact at any size, slower). Nothing
here is ever a float.

A `Frame` is the columns of one chunk: a month line's row, or a quarter line's months summed
(`engine.lines.sum_rows`, exactly). `metric_keys` is `Scale.key(metric value)` for every line
at once by integer cross-multiplication against each threshold. A line the columns cannot
speak for exactly as the per-line code would (a denominator that is not a column of its row, a
negative denominator) is marked `odd`, and its caller decides that line the per-line way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from engine.factrow import FactRow
from engine.lines import sum_rows
from engine.metrics import Ratio
from engine.policy import Metric
from engine.rules import Scale

MISSING: Any = object()  # a row without the column (not even blank)
LIMIT = 2**62  # an int64 product bounded by this cannot overflow
_ZERO_PAIR = (0, 1)
Array = Any  # numpy arrays: int64 or object (Python ints); bool for masks
Made = Callable[[], tuple[Array, int, int]]  # a column's ints, scale and bound, made when first asked


def _power_of_ten(d: int) -> int:
    """The least k with d dividing 10**k (d is a decimal's reduced denominator: 2**a * 5**b)."""
    k, p = 0, 1
    while p % d:
        k, p = k + 1, p * 10
    return k


def scaled(ints: list[int], bound: int) -> Array:
    """`ints` as an int64 array when `bound` (a bound on |value| of what will be formed from them)
    allows, else as exact Python integers."""
    return np.array(ints, dtype=np.int64) if bound < LIMIT else np.array(ints, dtype=object)


def widen(a: Array, bound: int) -> Array:
    """`a` in a dtype where values up to `bound` are exact."""
    return a if bound < LIMIT or a.dtype == object else a.astype(object)


class Column:
    """One fact column of a chunk: `ints / 10**scale` exactly (converted on first use by `make`);
    `present` false where blank (or absent); `odd` true where the line must be decided the
    per-line way; `bound` >= max |ints|; `values` the Decimals, when the column has them."""

    def __init__(self, present: Array, odd: Array, make: Made, values: Sequence[Any] | None = None) -> None:
        self.present = present
        self.odd = odd
        self.values = values
        self._make = make
        self._ints: Array | None = None
        self.scale = 0
        self.bound = 0

    @property
    def ints(self) -> Array:
        """The values as integers scaled by 10**scale (blank and absent: 0)."""
        if self._ints is None:
            self._ints, self.scale, self.bound = self._make()
        return self._ints

    def zero(self) -> Array:
        """Where the value is 0 (not blank), without converting the column when it has the values."""
        if self._ints is not None or self.values is None:
            return self.present & (self.ints == 0)
        return np.array([v is not None and v is not MISSING and not v for v in self.values], dtype=bool)

    def negative(self) -> Array:
        """Where the value is below 0."""
        return self.ints < 0

    def slice(self, start: int, end: int) -> Column:
        """Lines start..end of this column (converted, when it is, once for the whole column)."""
        values = None if self.values is None else self.values[start:end]
        return Column(
            self.present[start:end], self.odd[start:end], lambda: (self.ints[start:end], self.scale, self.bound), values
        )


def _scaled(values: Sequence[Any]) -> tuple[Array, int, int]:
    """The values as integers at the least scale that holds each exactly (blank and absent: 0)."""
    pairs = [_ZERO_PAIR if v is None or v is MISSING else v.as_integer_ratio() for v in values]
    dens = {d for _, d in pairs}
    scale = max((_power_of_ten(d) for d in dens), default=0)
    if dens == {1}:
        ints = [n for n, _ in pairs]
    else:
        mult = {d: 10**scale // d for d in dens}
        ints = [n * mult[d] for n, d in pairs]
    bound = max(max(ints, default=0), -min(ints, default=0))
    return scaled(ints, bound), scale, bound


def column_of(values: Sequence[Any]) -> Column:
    """A `Column` of Decimals (None: blank; MISSING: the row has no such column, which is `odd`)."""
    present = np.array([v is not None and v is not MISSING for v in values], dtype=bool)
    odd = np.array([v is MISSING for v in values], dtype=bool)
    return Column(present, odd, lambda: _scaled(values), values)


def _sum_of(parts: Sequence[Column]) -> tuple[Array, int, int]:
    """Columns of equal length added line by line, exactly (brought to the finest scale first)."""
    for p in parts:
        p.ints  # noqa: B018 - converts, so that scale and bound are known
    scale = max(p.scale for p in parts)
    bound = sum(p.bound * 10 ** (scale - p.scale) for p in parts)
    total: Array = widen(np.zeros(len(parts[0].present), dtype=np.int64), bound)
    for p in parts:
        total = total + widen(p.ints, bound) * 10 ** (scale - p.scale)
    return total, scale, bound


class Columns:
    """A month's fact columns, each converted once for all of the month's rows (a chunk of the
    month and the quarter's sums take slices of them)."""

    def __init__(self, rows: Sequence[FactRow]) -> None:
        self.rows = rows
        self._columns: dict[str, Column] = {}

    def column(self, name: str) -> Column:
        """The named column of every row of the month."""
        hit = self._columns.get(name)
        if hit is None:
            hit = self._columns[name] = column_of(_values(self.rows, name))
        return hit


class Frame:
    """The fact columns of a chunk of lines, each converted once, on first use.

    `items`: FactRows (month lines) or tuples of FactRows (quarter lines: each column summed over
    the tuple as `engine.lines.sum_rows` sums it; `columns` are the names such a line's numbers
    have, the evaluator's `number_columns`). `sources`: where the items start in whole months'
    `Columns` (one for a month chunk; a quarter whose every month has the same reps in the same
    order: one per month), so that their columns are slices of those."""

    def __init__(
        self, items: Sequence[Any], columns: Sequence[str], sources: Sequence[tuple[Columns, int]] = ()
    ) -> None:
        self.items = items
        self.grouped = bool(items) and type(items[0]) is tuple
        self.names = frozenset(columns)
        self.size = len(items)
        self.sources = sources
        self._columns: dict[str, Column] = {}

    def column(self, name: str) -> Column:
        """The named column (for a quarter line, its months summed)."""
        hit = self._columns.get(name)
        if hit is None:
            if self.sources and not self.grouped:
                ((source, start),) = self.sources
                hit = source.column(name).slice(start, start + self.size)
            else:
                hit = self._sum(name) if self.grouped else column_of(_values(self.items, name))
            self._columns[name] = hit
        return hit

    def has(self, name: str) -> bool:
        """Whether a line's numbers have `name` as a key (else a metric reads it as a constant)."""
        return name in self.names if self.grouped else True

    def _sum(self, name: str) -> Column:
        n = self.size
        if name not in self.names or not n:  # a quarter line's numbers do not have it at all
            return Column(np.zeros(n, bool), np.ones(n, bool), lambda: (np.zeros(n, dtype=np.int64), 0, 0))
        if self.sources:  # month k's rows, side by side
            parts = [source.column(name).slice(start, start + n) for source, start in self.sources]
            present = parts[0].present
            for p in parts[1:]:
                present = present | p.present
            make: Made = lambda: _sum_of(parts)  # noqa: E731
        else:
            lengths = [len(g) for g in self.items]
            rows = [r for g in self.items for r in g]
            flat = column_of([None if v is MISSING else v for v in _values(rows, name)])
            starts = np.zeros(len(lengths), dtype=np.int64)
            np.cumsum(lengths[:-1], out=starts[1:])
            present = np.logical_or.reduceat(flat.present, starts)

            def make() -> tuple[Array, int, int]:
                ints = flat.ints
                bound = flat.bound * max(lengths, default=1)
                return np.add.reduceat(widen(ints, bound), starts), flat.scale, bound

        if name in ("target", "actual"):
            present = np.ones(n, bool)
        return Column(present, np.zeros(n, bool), make)


def _values(rows: Sequence[FactRow], name: str) -> list[Any]:
    if name == "target":
        return [r.target for r in rows]
    if name == "actual":
        return [r.actual for r in rows]
    return [r.numbers.get(name, MISSING) for r in rows]


class Parts:
    """A metric over a frame as an exact fraction per line: value = num / den (both integer
    arrays, den > 0 where `valid`); `none` where the metric is not available; `zero` where the
    denominator is 0 (the metric's `on_zero`, if any, applies); `odd`: decide per line."""

    __slots__ = ("den", "den_bound", "none", "num", "num_bound", "odd", "valid", "zero")

    def __init__(self, frame: Frame, metric: Metric) -> None:
        if metric.column is not None:
            col = frame.column(metric.column)
            self.num = col.ints
            self.num_bound = col.bound
            self.den, self.den_bound = np.full(frame.size, 10**col.scale, dtype=np.int64), 10**col.scale
            self.none, self.odd = ~col.present, col.odd
            self.zero = np.zeros(frame.size, bool)
        else:
            assert metric.numerator is not None and metric.denominator is not None
            num = frame.column(metric.numerator)
            if not frame.has(metric.denominator) or not frame.has(metric.numerator):
                self._all_odd(frame.size)
                return
            den = frame.column(metric.denominator)
            num_ints, den_ints = num.ints, den.ints  # converted: scale and bound known from here
            # num / 10**sn  /  (den / 10**sd)  =  num * 10**sd  /  (den * 10**sn)
            up_n, up_d = 10**den.scale, 10**num.scale
            self.num_bound, self.den_bound = num.bound * up_n, den.bound * up_d
            self.num = widen(num_ints, self.num_bound) * up_n
            self.den = widen(den_ints, self.den_bound) * up_d
            self.none = ~(num.present & den.present)
            self.zero = ~self.none & den.zero()
            if metric.on_zero is None:
                self.none = self.none | self.zero
            self.odd = num.odd | den.odd | den.negative()
        self.valid = ~(self.none | self.zero | self.odd)

    def _all_odd(self, n: int) -> None:
        self.num = self.den = np.zeros(n, dtype=np.int64)
        self.num_bound = self.den_bound = 0
        self.none = self.zero = self.valid = np.zeros(n, bool)
        self.odd = np.ones(n, bool)


def compare(parts: Parts, threshold: Decimal) -> tuple[Array, Array]:
    """(above, equal) masks of value vs `threshold`, exact, on the `valid` lines."""
    a, b = threshold.as_integer_ratio()
    left_bound, right_bound = parts.num_bound * b, parts.den_bound * abs(a)
    left = widen(parts.num, left_bound) * b
    right = widen(parts.den, right_bound) * a
    return (left > right), (left == right)


def metric_keys(frame: Frame, metric: Metric, scale: Scale, per_line: Callable[[int], int | None]) -> list[int | None]:
    """Each line's comparison key of the metric's value on `scale` (None: not available):
    `2 * (thresholds strictly below) + 1 if equal to one`, by exact cross-multiplication.
    `per_line(i)` decides a line the columns cannot (see the module docstring)."""
    parts = Parts(frame, metric)
    return keys_of(parts, scale, per_line, metric.on_zero)


def keys_of(
    parts: Parts, scale: Scale, per_line: Callable[[int], int | None], on_zero: Decimal | None
) -> list[int | None]:
    """`metric_keys` on a metric already split into `Parts`."""
    keys = np.zeros(len(parts.valid), dtype=np.int64)
    for t in scale.thresholds:
        above, equal = compare(parts, t)
        keys += 2 * above + equal
    out: list[int | None] = [*keys.tolist()]
    for i in np.flatnonzero(parts.none).tolist():
        out[i] = None
    if on_zero is not None:
        zero_key = scale.key(Ratio(on_zero))
        for i in np.flatnonzero(parts.zero & ~parts.none).tolist():
            out[i] = zero_key
    for i in np.flatnonzero(parts.odd).tolist():
        out[i] = per_line(i)
    return out


def unavailable(frame: Frame, metric: Metric, per_line: Callable[[int], bool]) -> list[int]:
    """The lines (by index) on which the metric is not available (`engine.metrics.metric_available`
    is false), from blanks and zeros alone; `per_line(i)` says for odd lines."""
    if metric.column is not None:
        col = frame.column(metric.column)
        none, odd = ~col.present, col.odd
    else:
        assert metric.numerator is not None and metric.denominator is not None
        if not frame.has(metric.denominator) or not frame.has(metric.numerator):
            return [i for i in range(frame.size) if per_line(i)]
        num, den = frame.column(metric.numerator), frame.column(metric.denominator)
        none = ~(num.present & den.present)
        if metric.on_zero is None:
            none = none | den.zero()
        odd = num.odd | den.odd
    out = set(np.flatnonzero(none & ~odd).tolist())
    out.update(i for i in np.flatnonzero(odd).tolist() if per_line(i))
    return sorted(out)


def decimals(frame: Frame, name: str) -> list[Decimal | None]:
    """A column's values as the per-line numbers have them (a quarter line: its months' sum, as
    `engine.lines.sum_rows` adds them; None: blank, or not a column of the line's numbers)."""
    items = frame.items
    if not frame.grouped:
        return [None if v is MISSING else v for v in _values(items, name)]
    if name not in frame.names:
        return [None] * len(items)
    return [sum_rows(rows, (name,))[name] for rows in items]


def ratios(frame: Frame, metric: Metric, per_line: Callable[[int], Ratio | None]) -> list[Ratio | None]:
    """Each month line's metric value as `engine.metrics.metric_value` makes it, without building
    its numbers; a quarter frame's lines go through `per_line(i)` (their numbers are sums)."""
    if frame.grouped:
        return [per_line(i) for i in range(frame.size)]
    rows = frame.items
    if metric.column is not None:
        return [None if v is None or v is MISSING else Ratio(v) for v in _values(rows, metric.column)]
    assert metric.numerator is not None and metric.denominator is not None
    constant = _constant(metric.denominator)
    on_zero = None if metric.on_zero is None else Ratio(metric.on_zero)
    out: list[Ratio | None] = []
    for n, d in zip(_values(rows, metric.numerator), _values(rows, metric.denominator), strict=True):
        if d is MISSING:
            d = constant
        if n is None or n is MISSING or d is None:
            out.append(None)
        elif d == 0:
            out.append(on_zero)
        else:
            out.append(Ratio(n, d))
    return out


def _constant(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:
        return None
