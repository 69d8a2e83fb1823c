"""One result line of the JSON contract written straight to text: the same bytes as
`json.dumps(line_dict(line), ensure_ascii=False, separators=(",", ":"))`, without building the dict.

`engine.results.line_dict` stays the contract's readable definition (and what `as_dict` returns);
this writer follows it key for key, for the million lines of `--format json`, and
tests/test_results_contract.py holds the two to the same bytes. Each metric's value is formatted
once (`engine.explain.Shown`) and shared by `metrics` and the explanation sentences.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from engine.explain import Shown
from engine.lines import Line
from engine.tiers import money_text

#: json.dumps's own string encoder (ensure_ascii=False): quotes and escapes exactly as it does
_string: Callable[[str], str] = json.encoder.encode_basestring

CreditNotes = Callable[[str, str], tuple[list[dict[str, str | None]], list[str]]]


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _text(value: str | None) -> str:
    if value is None:
        return "null"
    return _string(value) if type(value) is str else _dumps(value)


def _money(value: Decimal | None) -> str:
    return "null" if value is None else '"' + money_text(value) + '"'  # digits, a point, a sign: nothing to escape


def _texts(values: list[str] | tuple[str, ...]) -> str:
    if not values:
        return "[]"
    try:
        return '["' + '","'.join(map(_string_body, values)) + '"]'
    except TypeError:  # not every value a text
        return "[" + ",".join(map(_text, values)) + "]"


def _string_body(value: str) -> str:
    """A text's JSON string without its quotes."""
    return _string(value)[1:-1]


def _flags(flags: Mapping[str, bool]) -> str:
    if not flags:
        return "{}"
    if any(type(v) is not bool for v in flags.values()):
        return _dumps(dict(sorted(flags.items())))
    return "{" + ",".join(f"{_string(k)}:{'true' if v else 'false'}" for k, v in sorted(flags.items())) + "}"


def _awards(line: Line) -> str:
    if not line.awards:
        return "[]"
    return (
        "["
        + ",".join(
            f'{{"id":{_text(a.id)},"label":{_text(a.label)},"amount":"{money_text(a.amount)}","period":{_text(a.period)}}}'
            for a in line.awards
        )
        + "]"
    )


def json_line(ln: Line, credited: CreditNotes | None = None) -> str:
    """`line_dict(ln, credited)` as compact JSON text (no trailing newline)."""
    shown = Shown(ln)
    numbers = shown.numbers
    texts = shown.metric_texts()
    score = shown.score
    metrics = ",".join([f"{_string(k)}:{'null' if v is None else _string(v)}" for k, v in texts.items()])
    explanation = shown.explanation()
    credits = ""
    if credited is not None:
        notes, sentences = credited(ln.rep_id, ln.period)
        explanation += sentences
        credits = ',"credited":' + _dumps(notes)
    s = _string  # the identity and decided fields are texts or None (`Line`)
    name, region, product_line, light, tier, rating = ln.name, ln.region, ln.product_line, ln.light, ln.tier, ln.rating
    out = [
        f'{{"rep_id":{s(ln.rep_id)},"name":{"null" if name is None else s(name)}',
        f',"region":{"null" if region is None else s(region)}',
        f',"product_line":{"null" if product_line is None else s(product_line)},"period":{s(ln.period)}',
        f',"target":{_money(numbers.get("target"))},"actual":{_money(numbers.get("actual"))}',
        f',"metrics":{{{metrics}}},"light":{"null" if light is None else s(light)}',
        f',"tier":{"null" if tier is None else s(tier)}',
        f',"commission":"{money_text(ln.commission)}","bonus":"{money_text(ln.bonus)}","awards":{_awards(ln)}',
        f',"total":"{money_text(ln.total)}","score":{"null" if score is None else s(str(score.display))}',
        f',"rating":{"null" if rating is None else s(rating)},"flags":{_flags(ln.flags)}',
        f',"warnings":{_texts(ln.warnings)},"rules_fired":{_texts(ln.rules)},"explanation":{_texts(explanation)}',
        credits,
    ]
    mom = ln.mom
    if mom is not None:
        out.append(',"mom":' + _object(mom))
    if ln.months:
        out.append(',"months":[' + ",".join(json_line(m, credited) for m in ln.months) + "]")
    out.append("}")
    return "".join(out)


def _object(d: Mapping[str, Any]) -> str:
    """A flat object of texts (`mom`); anything else as json.dumps writes it."""
    if all(type(v) is str for v in d.values()):
        return "{" + ",".join(f"{_string(k)}:{_string(v)}" for k, v in d.items()) + "}"
    return _dumps(dict(d))
