"""The terminal table fits 80 and 120 columns and never cuts a money value.

Rendered to a rich Console of that width, as a terminal shows it. Hand-worked August figures
(examples/facts-2026-Q3.csv, policy 2026-Q3):
  R001 张伟 840000/800000 = 105%  -> 绿灯 (> 100%), 进阶激励奖 (>= 100%): 2% x 840000 = 16800.00 + 1000.00 = 17800.00,
       and the month's highest actual: 月度销售之星 (an honour, ★)
  R002 李娜 450000/600000 = 75%   -> 红灯, no tier: 0.00
  R006 杨磊 480000/400000 = 120%  -> 冲刺卓越奖: 3% x 480000 = 14400.00 + 3000.00 = 17400.00
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from engine.evaluation import evaluate
from engine.facts import load_facts
from engine.results import Evaluation
from runtime.policies import load_library
from service.render import print_evaluation

REPO = Path(__file__).resolve().parent.parent
MONEY_KEYS = {"target": "target", "actual": "actual", "commission": "commission", "bonus": "bonus", "total": "total"}


def _evaluation(period: str) -> Evaluation:
    policy = load_library(str(REPO / "policies" / "sales-incentive")).for_period(period)
    path = REPO / "examples" / "facts-2026-Q3.csv"
    facts = load_facts(path.read_bytes(), str(path), policy.numeric_columns)
    return evaluate(policy, facts, period)


def _render(ev: Evaluation, width: int) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    print_evaluation(ev, console)
    return console.export_text()


def _header(text: str) -> list[str]:
    return next(line for line in text.splitlines() if line.startswith("rep ")).split()


def _whole(value: str, text: str) -> bool:
    """`value` appears with no digit, point or ellipsis glued to either side."""
    return re.search(rf"(?<![\d.…]){re.escape(value)}(?![\d.…])", text) is not None


@pytest.mark.parametrize("period", ["2026-08", "2026-Q3"])
@pytest.mark.parametrize("width", [80, 120])
def test_table_fits_and_shows_every_money_value_whole(period: str, width: int) -> None:
    ev = _evaluation(period)
    text = _render(ev, width)
    assert max(cell_len(line) for line in text.splitlines()) <= width
    assert "…" not in text.replace("sha256", "").split("policy")[0]  # nothing in the table was cut
    header = _header(text)
    assert {"rep", "name", "total"} <= set(header)  # who and what they are paid, always
    shown_money = [k for k in MONEY_KEYS if k in header]
    assert "total" in shown_money
    for ln in ev.results:
        for key in shown_money:
            amount = getattr(ln, key, None)
            value = ln.numbers_of((key,)).get(key) if amount is None else amount
            assert value is not None and _whole(f"{value:.2f}", text), (ln.rep_id, key, value)
    left_out = [c for c in ("region", "line", "target", "actual", "score", "rating", "flags") if c not in header]
    if left_out:
        assert "not shown at this width: " in text and all(c in text.split("not shown")[1] for c in left_out)


def test_august_at_80_columns_by_hand() -> None:
    text = _render(_evaluation("2026-08"), 80)
    rows = {line.split()[0]: line for line in text.splitlines() if re.match(r"R0\d\d ", line)}
    assert rows["R001"].split() == ["R001", "张伟", "105.00%", "绿灯", "进阶激励奖", "16800.00", "1000.00", "17800.00"]
    assert rows["R002"].split() == ["R002", "李娜", "75.00%", "红灯", "-", "0.00", "0.00", "0.00"]
    assert rows["R006"].split() == ["R006", "杨磊", "120.00%", "绿灯", "冲刺卓越奖", "14400.00", "3000.00", "17400.00"]
    assert "Emily" in rows["R011"] and re.search(r"^\s+Chen\s*$", text, re.M)  # a long name wraps
    assert "lights: 绿灯 8  红灯 1  黄灯 3" in text  # 8 above 100%, R002 below 80%, 3 in 80%..100%
    assert "green" not in text and "advanced" not in text


def test_the_star_is_explained_where_the_awards_column_shows() -> None:
    text = _render(_evaluation("2026-08"), 120)
    assert re.search(r"R001 .* 0\.00 ★ +17800\.00", text)  # the honour pays nothing
    assert "★ an honour (月度销售之星): a title, no money" in text
    narrow = _render(_evaluation("2026-08"), 80)
    assert "awards" not in _header(narrow) and "★" not in narrow  # no column, no star, no legend
