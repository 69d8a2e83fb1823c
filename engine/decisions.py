"""The evaluator's one door to the rule engine's decisions: key -> rule tables.

Every decision an evaluation takes is durable_rules' (`engine.rules`), asked once per distinct
comparison key: a one-slot question (light, tier, rating, group award reached, prize position)
as a whole table up front (`KeyTable`, indexed by the key a line computed), a several-slot
question (eligibility) per distinct combination of keys (`Decider`), and when a deal's crediting
condition first holds per distinct sequence of event keys (`first_holding`). The passes over lines then
only look decisions up, which is also how a columnar evaluator would join them (issue 14).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from engine.colnum import LIMIT
from engine.compiler import NONE, CompiledPolicy
from engine.lines import Fired, Render
from engine.metrics import Ratio
from engine.rules import Rule, Scale, correlation_book


class KeyTable(NamedTuple):
    """A one-slot question decided for every comparison key on its scale."""

    scale: Scale
    rules: tuple[Rule, ...]  # per key: the rule the rule engine fires for it

    def rule_for(self, value: Ratio) -> Rule:
        """The rule that fires for a value (its key computed exactly)."""
        return self.rules[self.scale.key(value)]

    def rule_at(self, position: int) -> Rule:
        """The rule that fires for a whole number (a rank)."""
        return self.rules[self.scale.key_of_int(position)]


def key_table(cp: CompiledPolicy, question: str) -> KeyTable:
    """The rule engine's decision for every key of a one-slot question (asked once, in one batch)."""
    return KeyTable(cp.scale(question), cp.table(question))


class Decided(NamedTuple):
    """A per-line question's `KeyTable` with, per key, the shared explanation record of its rule
    and its outcome (None for the question's "none")."""

    scale: Scale
    records: tuple[Fired, ...]
    outcomes: tuple[str | None, ...]


def decided(cp: CompiledPolicy, question: str, render: Render, arg: Callable[[Rule], Any]) -> Decided:
    """`key_table` of a per-line question, with one `Fired` record per rule (shared by its lines)."""
    table = key_table(cp, question)
    records: dict[str, Fired] = {}
    return Decided(
        table.scale,
        tuple(records.setdefault(r.id, Fired(r, render, arg(r))) for r in table.rules),
        tuple(None if r.outcome == NONE else str(r.outcome) for r in table.rules),
    )


class Decider:
    """A several-slot question (eligibility), decided once per distinct keys.

    `slot_keys` (one dict per slot: value -> comparison key) may be shared between evaluations
    of the same facts (`engine.factcache`): a rank's key on a scale does not depend on the policy.
    """

    def __init__(self, cp: CompiledPolicy, question: str, slot_keys: list[dict[Any, int]] | None = None) -> None:
        self.question = question
        self.book = cp.book
        self.scales = cp.questions[question].scales
        self.slot_keys = slot_keys if slot_keys is not None else [{} for _ in self.scales]
        self._seen: dict[tuple[int, ...], Rule] = {}

    def rule_for(self, values: tuple[Any, ...]) -> Rule:
        """The rule that fires for these values (whole numbers or Decimals, one per slot)."""
        keys = tuple(
            k if (k := memo.get(v)) is not None else memo.setdefault(v, _key(s, v))
            for s, memo, v in zip(self.scales, self.slot_keys, values, strict=True)
        )
        rule = self._seen.get(keys)
        if rule is None:
            rule = self._seen[keys] = self.book.decide(self.question, keys)
        return rule

    def rules_for(self, columns: Sequence[Sequence[Any]]) -> list[Rule | None]:
        """`rule_for` of every line at once, a column of values per slot (None where a line's value
        is None): the keys a slot at a time, the rule engine asked once per distinct keys."""
        slots = [self._keys_of(slot, values) for slot, values in enumerate(columns)]
        seen = self._seen
        out: list[Rule | None] = []
        for keys in zip(*slots, strict=True):
            if None in keys:
                out.append(None)
                continue
            rule = seen.get(keys)
            if rule is None:
                rule = seen[keys] = self.book.decide(self.question, keys)
            out.append(rule)
        return out

    def _keys_of(self, slot: int, values: Sequence[Any]) -> list[int | None]:
        """One slot's key per line: whole numbers against whole thresholds by one sorted search
        (`Scale.key_of_int`'s bisect, for the column); anything else value by value, remembered."""
        scale = self.scales[slot]
        whole = [int(t) for t in scale.thresholds if t == t.to_integral_value() and abs(t) < LIMIT]
        if len(whole) == len(scale.thresholds) and all(
            (type(v) is int and abs(v) < LIMIT) or v is None for v in values
        ):
            bounds = np.array(whole, dtype=np.int64)
            ints = np.array([0 if v is None else v for v in values], dtype=np.int64)
            at = np.searchsorted(bounds, ints, side="left")
            equal = (at < len(bounds)) & (bounds[np.minimum(at, len(bounds) - 1)] == ints) if len(bounds) else at < 0
            keys: list[int | None] = [*(2 * at + equal).tolist()]
            for i, v in enumerate(values):
                if v is None:
                    keys[i] = None
            return keys
        memo = self.slot_keys[slot]
        return [
            None if v is None else k if (k := memo.get(v)) is not None else memo.setdefault(v, _key(scale, v))
            for v in values
        ]


def _key(scale: Scale, value: Any) -> int:
    return scale.key_of_int(value) if type(value) is int else scale.key(Ratio(value))


def first_holding(sequences: Iterable[tuple[int, ...]]) -> dict[tuple[int, ...], int | None]:
    """For each deal's sequence of event keys (its signing, then each payment's running total,
    keyed against the crediting threshold), the event at which the condition first holds, or None:
    the rule engine's event correlation (`engine.rules.CorrelationBook`), once per distinct sequence."""
    book = correlation_book()
    return {keys: book.first_holding(keys) for keys in sorted(set(sequences))}
