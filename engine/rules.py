"""The one module that talks to durable_rules: a policy's decisions compiled into a ruleset.

Why it looks the way it does (see docs/architecture.md for the longer story):

* durable_rules compares C doubles, so a ratio is never sent to it. Python turns each value into
  an integer *comparison key* on the scale of thresholds the question uses (below the first,
  equal to the first, between, equal to the second, ...). Integers are exact in doubles, so the
  rule `key >= 3` means exactly `value >= threshold[1]`.
* Every question (which light, which tier, group award reached, prize position, rating,
  eligibility) is compiled into rules that partition its whole key space, so every fact matches
  exactly one rule: no `MessageNotHandledException`, and every outcome names the rule that fired.
* Decisions depend only on (question, keys), so each distinct combination is asserted once per
  process and remembered. The rule engine still makes every decision; Python never re-derives it.
  A one-slot question has only `2n+1` keys, so `RuleBook.table` asks the engine about all of them
  in one batch up front and hands the evaluator a list indexed by key (the hot loop's lookup).
* The default `Host` runs timer threads that race with posts; `_QuietHost` turns them off. The C
  engine is not thread-safe: one host per process, every call under `_LOCK`. Rulesets cannot be
  redefined, so each is named by the policy's content hash and built at most once per process.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from durable import engine as _durable

from engine.errors import MeritError
from engine.metrics import EXACT, NEAR, Ratio

_LOCK = threading.RLock()
_BATCH = 200  # facts per assert_facts call; the C engine degrades on very large batches


class _QuietHost(_durable.Host):
    """A Host without the background dispatch timers (they race with synchronous posts)."""

    def _run(self) -> None:
        return None


_HOST: _QuietHost | None = None
_SEQ = itertools.count(1)


def _host() -> _QuietHost:
    global _HOST
    if _HOST is None:
        _HOST = _QuietHost()
    return _HOST


class RuleEngineError(MeritError, RuntimeError):
    """The rule engine misbehaved (an action failed, or a fact matched no or several rules)."""


@dataclass(frozen=True)
class Scale:
    """Sorted distinct thresholds one question compares a value against."""

    thresholds: tuple[Decimal, ...]
    # the near band around each threshold (see `key`), as sorted edges: lo0, hi0, lo1, hi1, ...
    _edges: tuple[Decimal, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        edges: list[Decimal] = []
        for t in self.thresholds:
            near = EXACT.multiply(NEAR, EXACT.add(t.copy_abs(), 1))  # as Ratio.compare's band
            edges += (EXACT.subtract(t, near), EXACT.add(t, near))
        if edges != sorted(edges) or len(set(edges)) != len(edges):
            edges = []  # bands touch (thresholds ~1e-18 apart): every value goes the exact way
        object.__setattr__(self, "_edges", tuple(edges))

    def key(self, value: Ratio) -> int:
        """2 * (thresholds strictly below value) + 1 if value equals one of them.

        Fast path: `Ratio.compare` trusts the 28-digit quotient unless it lies in the near band
        around a threshold, so one bisect of the quotient among the bands' edges decides: outside
        every band, between the bands of thresholds i-1 and i, the exact value lies between those
        thresholds as well and the key is 2 * i. In a band (or on its edge) every threshold is
        compared exactly, one by one.
        """
        edges = self._edges
        v = value.value
        j = bisect_left(edges, v)  # edges strictly below v
        if edges and not j & 1 and (j == len(edges) or edges[j] != v):
            return j
        k = 0
        for t in self.thresholds:
            c = value.compare(t)
            if c > 0:
                k += 2
            elif c == 0:
                return k + 1
            else:
                break
        return k

    def key_of_int(self, value: int) -> int:
        """The key of a whole number (a rank, a count): int and Decimal compare exactly."""
        th = self.thresholds
        i = bisect_left(th, value)
        return 2 * i + 1 if i < len(th) and th[i] == value else 2 * i

    @property
    def size(self) -> int:
        """How many distinct keys the scale has: 0 .. 2n."""
        return 2 * len(self.thresholds) + 1

    def position(self, threshold: Decimal) -> int:
        """Key of a value equal to `threshold`."""
        return 2 * self.thresholds.index(threshold) + 1


@dataclass(frozen=True)
class Clause:
    """`slot op key` on integer comparison keys: op is one of < <= == != >= >."""

    slot: int
    op: str
    key: int

    def holds(self, keys: Sequence[int]) -> bool:
        """Whether the clause holds for these keys (the cross-check of what the rule engine fired)."""
        v = keys[self.slot]
        return {
            "<": v < self.key,
            "<=": v <= self.key,
            "==": v == self.key,
            "!=": v != self.key,
            ">=": v >= self.key,
            ">": v > self.key,
        }[self.op]

    def negated(self) -> Clause:
        """The opposite clause (gaps between rules become explicit `none` rules)."""
        neg = {"<": ">=", "<=": ">", "==": "!=", "!=": "==", ">=": "<", ">": "<="}
        return Clause(self.slot, neg[self.op], self.key)

    def to_durable(self) -> dict[str, Any]:
        """The clause in durable_rules' JSON ruleset syntax."""
        name = f"k{self.slot}"
        if self.op == "==":
            return {name: self.key}
        ops = {"<": "$lt", "<=": "$lte", "!=": "$neq", ">=": "$gte", ">": "$gt"}
        return {ops[self.op]: {name: self.key}}


@dataclass(frozen=True)
class Rule:
    """One compiled rule: all clauses (or, with `any_of`, at least one) -> outcome."""

    id: str
    question: str
    clauses: tuple[Clause, ...]
    outcome: Hashable
    text: str  # the condition as HR wrote it, e.g. "achievement >= 0.80 and < 1.00"
    any_of: bool = False

    def holds(self, keys: Sequence[int]) -> bool:
        """Whether the rule's condition holds for these keys (checked after the rule engine fired it)."""
        results = (c.holds(keys) for c in self.clauses)
        return any(results) if self.any_of else all(results)

    def to_durable(self) -> dict[str, Any]:
        """The rule in durable_rules' JSON ruleset syntax."""
        conds = [c.to_durable() for c in self.clauses]
        body: dict[str, Any]
        if self.any_of and len(conds) > 1:
            body = {"$and": [{"q": self.question}, {"$or": conds}]}
        else:
            body = {"$and": [{"q": self.question}, *conds]}
        return {"all": [{"m": body}]}


@dataclass
class RuleBook:
    """A policy's rules in one durable_rules ruleset, with its decisions remembered."""

    name: str
    rules: tuple[Rule, ...]
    _by_id: dict[str, Rule] = field(default_factory=dict)
    _decided: dict[tuple[str, tuple[int, ...]], Rule] = field(default_factory=dict)
    _registered: bool = False

    def __post_init__(self) -> None:
        self._by_id = {r.id: r for r in self.rules}
        if len(self._by_id) != len(self.rules):
            raise RuleEngineError(f"duplicate rule ids in {self.name}")

    def decide(self, question: str, keys: tuple[int, ...]) -> Rule:
        """The rule that fires for this question and these keys."""
        hit = self._decided.get((question, keys))
        if hit is None:
            self.decide_all([(question, keys)])
            hit = self._decided[(question, keys)]
        return hit

    def table(self, question: str, size: int) -> tuple[Rule, ...]:
        """The rule that fires for each key 0 .. size-1 of a one-slot question, indexed by key.

        Every key is asserted (once per process, in one batch) and decided by the rule engine; the
        evaluator then looks decisions up by key instead of building a (question, keys) tuple.
        """
        asked = [(question, (k,)) for k in range(size)]
        self.decide_all(asked)
        return tuple(self._decided[a] for a in asked)

    def decide_all(self, asked: Iterable[tuple[str, tuple[int, ...]]]) -> None:
        """Assert every not-yet-decided (question, keys) as a fact, in batches."""
        todo = sorted({a for a in asked if a not in self._decided})
        if not todo:
            return
        with _LOCK:
            self._register()
            for start in range(0, len(todo), _BATCH):
                self._assert_batch(todo[start : start + _BATCH])

    def _register(self) -> None:
        if self._registered:
            return
        host = _host()
        if self.name not in host._ruleset_directory:
            definition = {self.name: {r.id: {**r.to_durable(), "run": self._action(r.id)} for r in self.rules}}
            host.set_rulesets(definition)
        self._registered = True

    def _action(self, rule_id: str) -> Callable[[Any], None]:
        def fired(c: Any) -> None:
            _FIRED.append((int(c.m["n"]), rule_id))

        return fired

    def _assert_batch(self, batch: list[tuple[str, tuple[int, ...]]]) -> None:
        sid = f"s{next(_SEQ)}"
        facts = []
        for n, (question, keys) in enumerate(batch):
            fact: dict[str, Any] = {"sid": sid, "id": n, "n": n, "q": question}
            fact.update({f"k{i}": k for i, k in enumerate(keys)})
            facts.append(fact)
        host = _host()
        _FIRED.clear()
        try:
            host.assert_facts(self.name, facts)
            state = host.get_state(self.name, sid)
        except _durable.MessageNotHandledException as exc:
            raise RuleEngineError(f"{self.name}: a fact matched no rule: {exc}") from None
        finally:
            with contextlib.suppress(Exception):  # nothing to clean up if the session never started
                host.delete_state(self.name, sid)
        if state and state.get("exception"):
            raise RuleEngineError(f"{self.name}: rule action failed: {state['exception']}")
        fired: dict[int, list[str]] = {}
        for n, rule_id in _FIRED:
            ids = fired.setdefault(n, [])
            if rule_id not in ids:  # an `any_of` rule fires once per matching disjunct
                ids.append(rule_id)
        _FIRED.clear()
        for n, (question, keys) in enumerate(batch):
            ids = fired.get(n, [])
            if len(ids) != 1:
                raise RuleEngineError(f"{self.name}: {question} {keys} fired {ids or 'no rule'}; expected one")
            rule = self._by_id[ids[0]]
            if not rule.holds(keys):  # the C engine's answer, cross-checked on exact integers
                raise RuleEngineError(f"{self.name}: rule {rule.id} fired for {keys} but does not hold")
            self._decided[(question, keys)] = rule


_FIRED: list[tuple[int, str]] = []


def new_ruleset_name(content_hash: str) -> str:
    """Rulesets cannot be redefined: one name per policy content (and compile format)."""
    return f"merit_{content_hash[:24]}_v1"


# --- event correlation: when a deal's crediting condition first holds ------------------------------

#: The correlation ruleset. The crediting threshold is not in it: each event carries `k`, the
#: comparison key of what was collected so far against the policy's threshold (0 below, 1 equal,
#: 2 above), so `k >= 1` means exactly "collected >= threshold" whatever the threshold is.
_CREDITING = "merit_crediting_v1"
CREDIT_AT_SIGNING, CREDIT_ON_PAYMENT, NOT_YET = "credit_at_signing", "credit_on_payment", "not_yet"
NEVER_CREDITED, CLOSED = "never_credited", "closed"


@dataclass
class CorrelationBook:
    """A deal's events correlated by durable_rules: which event first makes the condition hold.

    A deal's events are posted one at a time in date order into a session of their own: first
    the signing (`t: signed`, with the key of what was collected by then), then each payment
    (`t: paid`, with the key of the running total). `credit_on_payment` joins the waiting signing
    event with the first payment whose key reaches the threshold and consumes both, so it fires at
    most once, at the moment the condition first holds; `credit_at_signing` fires when the
    signing itself satisfies it (a threshold of 0%); `not_yet` takes every payment below it. Once
    a credit fired, no more payments are posted; an `end` event (the last key) closes the deal:
    `never_credited` joins it with a signing still waiting, `closed` takes it otherwise (a session
    in which no rule fired segfaults the C engine when deleted). The answer depends only on the
    key sequence: each distinct one is posted once per process (keys never decrease: few exist).
    """

    _decided: dict[tuple[int, ...], int | None] = field(default_factory=dict)
    _registered: bool = False

    def first_holding(self, keys: tuple[int, ...]) -> int | None:
        """The index of the event (0: the signing, i: the i-th payment) at which the condition first
        holds, or None when it never does. The rule engine decides; Python cross-checks."""
        if keys in self._decided:
            return self._decided[keys]
        with _LOCK:
            self._register()
            fired = self._post(keys)
        credits = [(rule, n) for rule, n in fired if rule in (CREDIT_AT_SIGNING, CREDIT_ON_PAYMENT)]
        below = sorted(n for rule, n in fired if rule == NOT_YET)
        ends = [rule for rule, n in fired if rule in (NEVER_CREDITED, CLOSED)]
        expected = next((i for i, k in enumerate(keys) if k >= 1), None)
        found = credits[0][1] if len(credits) == 1 else None
        wrong = len(credits) > 1 or found != expected or ends != [NEVER_CREDITED if found is None else CLOSED]
        if wrong or below != [i for i in range(1, len(keys)) if keys[i] < 1]:
            raise RuleEngineError(f"{_CREDITING}: events {keys} fired {fired}; the condition first holds at {expected}")
        self._decided[keys] = found
        return found

    def _register(self) -> None:
        if self._registered:
            return
        host = _host()
        if _CREDITING not in host._ruleset_directory:
            reached, below = {"$gte": {"k": 1}}, {"$lt": {"k": 1}}
            signing, payment, end = {"t": "signed"}, {"t": "paid"}, {"t": "end"}
            rules = {
                CREDIT_AT_SIGNING: {
                    "all": [{"signing": {"$and": [signing, reached]}}],
                    "run": _fired(CREDIT_AT_SIGNING, "signing"),
                },
                CREDIT_ON_PAYMENT: {
                    "all": [{"signing": signing}, {"payment": {"$and": [payment, reached]}}],
                    "run": _fired(CREDIT_ON_PAYMENT, "payment"),
                },
                NOT_YET: {"all": [{"payment": {"$and": [payment, below]}}], "run": _fired(NOT_YET, "payment")},
                NEVER_CREDITED: {
                    "all": [{"signing": signing}, {"end": {"$and": [end, below]}}],
                    "run": _fired(NEVER_CREDITED, "end"),
                },
                CLOSED: {"all": [{"end": {"$and": [end, reached]}}], "run": _fired(CLOSED, "end")},
            }
            host.set_rulesets({_CREDITING: rules})
        self._registered = True

    def _post(self, keys: tuple[int, ...]) -> list[tuple[str, int]]:
        sid = f"c{next(_SEQ)}"
        host = _host()
        _CORRELATED.clear()
        try:
            for n, k in enumerate(keys):  # one post per event, in order: a batch may match out of order
                host.post(_CREDITING, {"sid": sid, "id": n + 1, "n": n + 1, "t": "paid" if n else "signed", "k": k})
                if any(rule in (CREDIT_AT_SIGNING, CREDIT_ON_PAYMENT) for rule, _ in _CORRELATED):
                    break  # credited: later payments cannot change it (the session would only hold them)
            end = len(keys) + 1
            host.post(_CREDITING, {"sid": sid, "id": end, "n": end, "t": "end", "k": keys[-1]})
            state = host.get_state(_CREDITING, sid)
        except _durable.MessageNotHandledException as exc:
            raise RuleEngineError(f"{_CREDITING}: an event matched no rule: {exc}") from None
        finally:
            with contextlib.suppress(Exception):
                host.delete_state(_CREDITING, sid)
        if state and state.get("exception"):
            raise RuleEngineError(f"{_CREDITING}: rule action failed: {state['exception']}")
        fired = [(rule_id, n - 1) for rule_id, n in _CORRELATED]  # events are numbered from 1 (0 reads as None)
        _CORRELATED.clear()
        return fired


_CORRELATED: list[tuple[str, int]] = []
_CORRELATION: CorrelationBook | None = None


def _fired(rule_id: str, event: str) -> Callable[[Any], None]:
    """The action of a correlation rule: it records which event (by its alias in the rule) fired it."""

    def fired(c: Any) -> None:
        _CORRELATED.append((rule_id, int(getattr(c, event)["n"])))

    return fired


def correlation_book() -> CorrelationBook:
    """The process's one correlation book (its ruleset is defined once per process, like the host)."""
    global _CORRELATION
    if _CORRELATION is None:
        _CORRELATION = CorrelationBook()
    return _CORRELATION
