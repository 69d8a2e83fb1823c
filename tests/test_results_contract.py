"""The JSON output contract: schema-valid, byte-stable, and the worked August example by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import jsonschema

from engine.evaluation import evaluate
from engine.facts import load_facts
from runtime.policies import load_library

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas/results.schema.json").read_text(encoding="utf-8"))
EXAMPLE = ROOT / "examples/facts-2026-Q3.csv"


def _evaluate(period: str) -> bytes:
    lib = load_library(ROOT / "policies/sales-incentive")
    policy = lib.for_period(period)
    facts = load_facts(EXAMPLE.read_bytes(), EXAMPLE.name, policy.numeric_columns)
    return evaluate(lib, facts, period).to_json_bytes()


def test_month_and_quarter_outputs_follow_the_schema() -> None:
    for period in ("2026-08", "2026-Q3"):
        jsonschema.validate(json.loads(_evaluate(period)), SCHEMA)


def _strict(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicated, f"duplicate keys {duplicated}: a reader keeping the first would see other data"
    return dict(pairs)


def test_every_key_appears_once_so_any_json_reader_agrees() -> None:
    for period in ("2026-08", "2026-Q3"):
        data = json.loads(_evaluate(period), object_pairs_hook=_strict)
        assert len(data["results"]) == 12  # the example's 12 reps, in the one "results" array


def test_same_inputs_give_byte_identical_json() -> None:
    assert _evaluate("2026-Q3") == _evaluate("2026-Q3")


def test_august_worked_example_by_hand() -> None:
    data = json.loads(_evaluate("2026-08"))
    by_rep = {r["rep_id"]: r for r in data["results"]}
    zhang = by_rep["R001"]  # 张伟 840000 / 800000 = 105%: green, 2% of 840000 = 16800 + 1000
    assert (zhang["light"], zhang["tier"], zhang["commission"], zhang["bonus"]) == (
        "green", "advanced", "16800.00", "1000.00")  # fmt: skip
    assert zhang["metrics"]["achievement"] == "1.05"
    assert any("achievement 1.05 >= 1.00" in e for e in zhang["explanation"])
    li = by_rep["R002"]  # 李娜 450000 / 600000 = 75%: red, nothing
    assert (li["light"], li["tier"], li["commission"], li["total"]) == ("red", None, "0.00", "0.00")
    liu = by_rep["R004"]  # 181071.36 / 226339.20 is exactly 80%: yellow, 1.5% = 2716.0704 -> 2716.07
    assert (liu["light"], liu["tier"], liu["commission"]) == ("yellow", "basic", "2716.07")
    assert data["policy"]["version"] == "2026-Q3"
    assert len(data["policy"]["sha256"]) == 64
    total = sum(Decimal(r["total"]) for r in data["results"])
    assert Decimal(data["totals"]["payout"]) == total
