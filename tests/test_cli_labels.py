"""What `merit simulate`, `merit plan` and `merit sweep` print names tiers, lights and eligibility
rules by the policy's labels (engine/labels.py), and a sweep made with `--quota` says so.

The facts are the 3-rep August table of tests/test_simulation.py under the shipped 2026-Q3 policy
(basic 基础达标奖 >= 80% 1.5%; advanced 进阶激励奖 >= 100% 2% + 1,000; sprint 冲刺卓越奖 >= 120%;
lights 红灯 < 80%, 黄灯 80-100%, 绿灯 > 100%):
  R1 East  100000 / 104000 = 104% advanced 绿灯; R2 East 200000 / 210000 = 105% advanced 绿灯;
  R3 South 100000 /  90000 =  90% basic    黄灯.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.policies import load_policy_file
from service.cli import main
from service.cli.simulate import sweep_title

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "sales-incentive" / "2026-Q3.yaml"
ADV_RATE = "commission.tiers[advanced].rate"


@pytest.fixture
def facts(tmp_path: Path) -> Path:
    path = tmp_path / "aug.csv"
    path.write_text(
        "rep_id,region,period,target,actual\nR1,East,2026-08,100000.00,104000.00\n"
        "R2,East,2026-08,200000.00,210000.00\nR3,South,2026-08,100000.00,90000.00\n",
        encoding="utf-8",
    )
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    rc = main(list(argv))
    out = capsys.readouterr()
    assert rc == 0, out.err
    return out.out


def test_the_simulate_table_says_why_in_the_policys_words(capsys, facts) -> None:
    # East targets x 1.05: R1 104000 / 105000 = 99.05% -> basic and 黄灯; R2 210000 / 210000 = 100%:
    # still advanced (from 1.00 inclusive) but 黄灯 (to 1.00).
    out = _run(capsys, "simulate", "--policy", str(POLICY), "--facts", str(facts), "--period", "2026-08",
               "--quota", "region=East:+5%")  # fmt: skip
    assert "tier moved 进阶激励奖 -> 基础达标奖" in out
    assert "light changed 绿灯 -> 黄灯" in out
    assert "light 绿灯" in out and "light 黄灯" in out  # the cost table's light rows
    migration = out[out.index("tier migration") :]
    assert "基础达标奖" in migration and "冲刺卓越奖" in migration
    for tier_id in ("advanced", "basic", "sprint", "green", "yellow"):
        assert tier_id not in out, tier_id


def test_the_plan_table_names_tiers_by_label(capsys, facts) -> None:
    out = _run(capsys, "plan", str(POLICY), str(ROOT / "policies/sales-incentive/2026-Q4.yaml"),
               "--facts", str(facts), "--period", "2026-08")  # fmt: skip
    assert "进阶激励奖" in out[out.index("tier migration") :]
    assert "│ advanced" not in out


def test_the_sweep_table_names_its_tiers_and_its_parameter_by_label(capsys, facts) -> None:
    out = _run(capsys, "sweep", "--policy", str(POLICY), "--facts", str(facts), "--period", "2026-08",
               "--param", ADV_RATE, "--values", "0.018,0.02")  # fmt: skip
    header = next(line for line in out.splitlines() if "value" in line and "payout" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")][4:] == ["基础达标奖", "进阶激励奖", "冲刺卓越奖", "none"]
    assert "sprint" not in out and "basic" not in out


def test_a_sweep_with_quota_changes_says_so(capsys, facts) -> None:
    # R3's target -10%: 90000 / 90000 = 100% -> advanced; at 2%: 3080 + 5200 + 2% x 90000 + 1000 = 11080.00
    argv = ["--policy", str(POLICY), "--facts", str(facts), "--period", "2026-08", "--param", ADV_RATE,
            "--values", "0.02"]  # fmt: skip
    with_quota = json.loads(_run(capsys, "sweep", *argv, "--quota", "rep=R3:-10%", "--format", "json"))
    assert with_quota["quotas"] == ["rep=R3:-10%"]
    assert with_quota["points"][0]["payout"] == "11080.00"
    assert json.loads(_run(capsys, "sweep", *argv, "--format", "json"))["quotas"] == []
    policy = load_policy_file(POLICY)
    assert sweep_title(with_quota, policy) == (
        "sweep 进阶激励奖 rate 提成比例 (commission.tiers[advanced].rate) — 2026-08 with quota rep=R3:-10% at every"
        " point (baseline payout on the imported targets 9630.00)"
    )  # baseline 9630.00: 3080 + 5200 + R3 1.5% x 90000 = 1350
    table = " ".join(_run(capsys, "sweep", *argv, "--quota", "rep=R3:-10%").split())
    assert "with quota rep=R3:-10% at every point" in table
