"""The fast writers write what the contract's definitions say, byte for byte.

`--format json` writes each line with `engine.resultjson.json_line` and never builds the dict
`engine.results.line_dict` describes; `csv_chunks` writes a few thousand rows per call. Here both
are held to the plain definitions on real evaluations (the handbook's quarter and months, facts
credited from deals) and on texts a JSON writer must escape.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from engine.crediting import credit_deals, credited_facts
from engine.deals import load_deal_book, load_targets
from engine.evaluation import evaluate
from engine.facts import facts_from_records, load_facts
from engine.frontend import parse_policy
from engine.lines import Derived
from engine.resultjson import json_line
from engine.results import Evaluation, line_dict
from runtime.policies import load_library

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _handbook(period: str) -> Evaluation:
    lib = load_library(ROOT / "policies/sales-incentive")
    policy = lib.for_period(period)
    facts = load_facts((EXAMPLES / "facts-2026-Q3.csv").read_bytes(), "facts-2026-Q3.csv", policy.numeric_columns)
    return evaluate(lib, facts, period)


def _credited() -> Evaluation:
    policy = parse_policy((EXAMPLES / "sales-incentive-deals-2026-Q3.yaml").read_text(encoding="utf-8"), "deals.yaml")
    assert policy.crediting is not None
    book = load_deal_book(
        (EXAMPLES / "deals-2026-Q3.csv").read_bytes(),
        "deals.csv",
        (EXAMPLES / "payments-2026-Q3.csv").read_bytes(),
        "payments.csv",
    )
    credited = credit_deals(policy.crediting, book)
    rows, sha, _ = load_targets((EXAMPLES / "targets-2026-Q3.csv").read_bytes(), "targets.csv")
    facts = credited_facts(credited, book, rows, ("targets.csv", sha))
    return evaluate(policy, facts, "2026-Q3").with_credits(credited.explain)


def _plain_dict(ln: object) -> dict[str, object]:
    """`line_dict` as it was defined on `Derived` (no shared metric texts), explanation included."""
    d = line_dict(ln)  # type: ignore[arg-type]
    d["explanation"] = Derived(ln).explanation()  # type: ignore[arg-type]
    for month, m in zip(d.get("months", []), ln.months, strict=True):  # type: ignore[attr-defined]
        month["explanation"] = Derived(m).explanation()
    return d


@pytest.mark.parametrize("which", ["2026-07", "2026-08", "2026-Q3", "credited"])
def test_json_lines_are_the_dumped_line_dicts(which: str) -> None:
    ev = _credited() if which == "credited" else _handbook(which)
    assert ev.results
    for ln in ev.results:
        assert json_line(ln, ev.credited) == _dumps(line_dict(ln, ev.credited))
        if ev.credited is None:
            assert json_line(ln) == _dumps(_plain_dict(ln))  # the sentences as plain Derived writes them
    whole = ev.to_json_bytes().decode()
    assert json.loads(whole) == json.loads(_dumps(ev.as_dict()))


def test_csv_chunks_are_the_rows_one_by_one() -> None:
    ev = _handbook("2026-Q3")
    by_line = Evaluation.csv_header() + "".join(ev.csv_lines())
    assert "".join(ev.csv_chunks(lines_per_chunk=5)) == by_line == ev.to_csv_text()
    assert len(list(csv.reader(io.StringIO(by_line)))) == 13  # header + the example's 12 reps


def test_texts_are_escaped_as_json_dumps_escapes_them() -> None:
    policy = load_library(ROOT / "policies/sales-incentive").for_period("2026-08")
    names = ['say "hi"', "back\\slash", "张伟 🙂", "tab\tin", "=SUM(A1)", "\u2028line"]
    rows = [
        {"rep_id": f"R{i}", "name": name, "region": "East", "period": "2026-08", "target": "100", "actual": "90"}
        for i, name in enumerate(names)
    ]
    numeric = sorted(policy.numeric_columns)
    for row in rows:
        row.update(dict.fromkeys(numeric, "1"))
    facts = facts_from_records(rows, "t", policy.numeric_columns)
    ev = evaluate(policy, facts, "2026-08")
    for ln in ev.results:
        assert json_line(ln) == _dumps(line_dict(ln))
    assert {json.loads(json_line(ln))["name"] for ln in ev.results} == {ln.name for ln in ev.results}
