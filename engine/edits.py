"""Parameter edits on a policy, by path: the "what if tier 2 paid 1.8%" half of a simulation.

A path names one value of the policy document the way HR reads it:

    commission.tiers[advanced].rate      a list item by its id (or light, metric, rating, value)
    warning.bands[yellow].from
    awards[quarterly_top3].prizes[0]     ... or by 0-based index
    scorecard.kpis[conversion].weight
    commission.cap                       a missing key is added; the value `null` removes one

The edited document is written back to YAML text and goes through exactly the gates a policy file
does (`parse_policy`: schema, then linter), so an edit that would make the KPI weights add up to
110% or a tier unreachable is refused like a bad file would be. Problems are reported against the
edit that caused them (`--set scorecard.kpis[conversion].weight=0.2: ...`), not against lines of
the generated text, which nobody wrote.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from engine.frontend import parse_policy
from engine.numbers import bounded_decimal
from engine.policy import Policy
from engine.problems import MeritInputError, Problem

#: Keys that name a list item, tried in this order.
ITEM_KEYS = ("id", "light", "metric", "rating", "value")

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[[^\[\]]+\])*)$")
_SELECTOR = re.compile(r"\[([^\[\]]+)\]")
_INT = re.compile(r"^-?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")

Step = str | int


@dataclass(frozen=True)
class Edit:
    """`path = value` as the user wrote it."""

    path: str
    value: str

    def __str__(self) -> str:
        return f"{self.path}={self.value}"


def parse_edit(text: str, source: str = "--set") -> Edit:
    """'commission.tiers[advanced].rate=0.018' -> Edit; a located error when there is no '='."""
    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise MeritInputError.at(
            source, text, "write an edit as PATH=VALUE, e.g. commission.tiers[advanced].rate=0.018"
        )
    return Edit(path.strip(), value.strip())


def split_path(path: str) -> list[tuple[str, list[str]]]:
    """'awards[top3].prizes[0]' -> [('awards', ['top3']), ('prizes', ['0'])]; ValueError if malformed."""
    out = []
    for seg in path.split("."):
        m = _SEGMENT.match(seg.strip())
        if not m:
            raise ValueError(f"cannot read {seg!r} (write name, name[id] or name[0])")
        out.append((m.group(1), _SELECTOR.findall(m.group(2))))
    return out


def _item(items: list[Any], selector: str, where: str) -> int:
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and any(str(item.get(k)) == selector for k in ITEM_KEYS if k in item):
            return i
    if _INT.match(selector):
        i = int(selector)
        if -len(items) <= i < len(items):
            return i % len(items)
        raise ValueError(f"{where} has {len(items)} item{'s' if len(items) != 1 else ''}; there is no [{selector}]")
    names = [str(next((it[k] for k in ITEM_KEYS if k in it), "")) for it in items if isinstance(it, Mapping)]
    shown = ", ".join(n for n in names if n) or "none named"
    raise ValueError(f"no item {selector!r} in {where} (items: {shown})")


def resolve(data: Any, path: str) -> tuple[tuple[Step, ...], Any, Step]:
    """(steps from the root as indices and keys, parent container, last step); ValueError if absent.

    The last key of a mapping may be missing (it is then added); everything before it must exist.
    """
    parts = split_path(path)
    steps: list[Step] = []
    node = data
    parent: Any = None
    last: Step = ""
    where = ""
    for n, (name, selectors) in enumerate(parts):
        final_key = n == len(parts) - 1 and not selectors
        if not isinstance(node, Mapping):
            raise ValueError(f"{where or 'the policy'} is not a mapping; it has no field {name!r}")
        if name not in node and not final_key:
            known = ", ".join(sorted(str(k) for k in node)) or "none"
            raise ValueError(f"{where or 'the policy'} has no field {name!r} (fields: {known})")
        where = f"{where}.{name}" if where else name
        parent, last = node, name
        steps.append(name)
        if final_key:
            break
        node = node[name]
        for sel in selectors:
            if not isinstance(node, list):
                raise ValueError(f"{where} is not a list; [{sel}] does not apply")
            i = _item(node, sel, where)
            parent, last = node, i
            steps.append(i)
            where = f"{where}[{sel}]"
            node = node[i]
    return tuple(steps), parent, last


def _typed(text: str, old: Any) -> Any:
    """The new value, of the kind the old one was (text stays text so "0.015" stays exact)."""
    low = text.lower()
    if low in ("null", "~"):
        return None
    if isinstance(old, bool) or (old is None and low in ("true", "false")):
        if low not in ("true", "false"):
            raise ValueError(f"{text!r} is not true or false")
        return low == "true"
    if isinstance(old, int):
        if not _INT.match(text):
            raise ValueError(f"{text!r} is not a whole number")
        return int(text)
    if isinstance(old, Decimal) or old is None:
        if old is None and _INT.match(text):
            return int(text)
        if _DECIMAL.match(text):
            try:
                return bounded_decimal(text)  # refuses 40-digit and 100,000-digit values alike
            except InvalidOperation:
                pass
        if isinstance(old, Decimal):
            raise ValueError(f"{text!r} is not a decimal number (write it like 0.018)")
        return text
    if isinstance(old, list | Mapping):
        raise ValueError("names a list or mapping; give the path of one value inside it")
    return text


def _plain(value: Any) -> Any:
    """The document with every Decimal as its exact text, ready for yaml.safe_dump."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _field(steps: Sequence[Step]) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else (f".{s}" if out else s)
    return out


def edit_data(
    data: Mapping[str, Any], edits: Iterable[Edit], source: str = "--set"
) -> tuple[dict[str, Any], dict[str, Edit]]:
    """A deep copy of `data` with the edits applied, and which field path each edit changed."""
    doc: dict[str, Any] = copy.deepcopy(dict(data))
    changed: dict[str, Edit] = {}
    problems = []
    for e in edits:
        try:
            steps, parent, last = resolve(doc, e.path)
            old = parent[last] if (isinstance(parent, list) or last in parent) else None  # type: ignore[index]
            new = _typed(e.value, old)
            if new is None:
                if isinstance(parent, list):
                    raise ValueError("a list item cannot be removed with null")
                parent.pop(last, None)
            else:
                parent[last] = new
            changed[_field(steps)] = e
        except ValueError as exc:
            problems.append(Problem(source, None, None, e.path, str(exc)))
    if problems:
        raise MeritInputError(problems, kind="invalid-edit")
    return doc, changed


def policy_text(data: Mapping[str, Any]) -> str:
    """A policy document as YAML text, so an edited version hashes and reads like a file."""
    return yaml.safe_dump(_plain(data), allow_unicode=True, sort_keys=False, width=1000)


def apply_edits(policy: Policy, edits: Iterable[Edit | str], source: str = "--set") -> Policy:
    """A new Policy: `policy` with the edits applied, checked by the schema and the linter."""
    parsed = [e if isinstance(e, Edit) else parse_edit(e, source) for e in edits]
    if not parsed:
        return policy
    doc, changed = edit_data(policy.data, parsed, source)
    try:
        return parse_policy(policy_text(doc), f"{policy.source} (what-if)")
    except MeritInputError as exc:
        raise MeritInputError([_attribute(p, changed, parsed, source) for p in exc.problems], kind=exc.kind) from None


def _attribute(p: Problem, changed: Mapping[str, Edit], edits: Sequence[Edit], source: str) -> Problem:
    """Say which edit a problem of the edited document comes from (all of them when unclear)."""
    for fld, e in changed.items():
        if p.field == fld or p.field.startswith(fld + ".") or p.field.startswith(fld + "["):
            return Problem(f"{source} {e}", None, None, p.field, p.message)
    shown = ", ".join(str(e) for e in edits)
    return Problem(f"{source} {shown}", None, None, p.field, p.message)
