"""`merit evaluate --deals D --payments P --targets T` as a user runs it (a real child process)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from schemas import RESULTS, load_schema
from tests.test_cli import REPO, merit, no_traceback

EXAMPLES = REPO / "examples"
POLICY = EXAMPLES / "sales-incentive-deals-2026-Q3.yaml"
DEALS = ("--deals", "examples/deals-2026-Q3.csv", "--payments", "examples/payments-2026-Q3.csv")
TARGETS = ("--targets", "examples/targets-2026-Q3.csv")


def test_the_shipped_example_evaluates_with_credits_explained_and_byte_stable() -> None:
    args = ("evaluate", "--policy", str(POLICY), *DEALS, *TARGETS, "--period", "2026-Q3", "--format", "json")
    first, second = merit(*args), merit(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    jsonschema.validate(doc, load_schema(RESULTS))
    for result in doc["results"]:
        for month in result["months"]:
            credited = sum(int(c["credited"].replace(".", "")) for c in month["credited"])
            assert f"{credited // 100}.{credited % 100:02d}" == month["actual"], (result["rep_id"], month["period"])
            assert all(c["credited_on"][:7] == month["period"] for c in month["credited"])


def test_a_hand_made_deal_book(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_text(
        "订单号,工号,签约日期,合同金额,分成\n"
        "D-1,R001,2026-07-20,100000.00,\n"  # 30000.00 by 08-05: credited in August
        'D-2,R001,2026-08-01,100.01,"R001:50%;R002:50%"\n',  # 30.01 on 08-02: 30.007% >= 30%; 50.01 / 50.00
        encoding="utf-8",
    )
    (tmp_path / "payments.csv").write_text(
        "订单号,回款日期,回款金额\nD-1,2026-07-25,20000.00\nD-1,2026-08-05,10000.00\nD-2,2026-08-02,30.01\n",
        encoding="utf-8",
    )
    (tmp_path / "targets.csv").write_text(
        "工号,姓名,区域,月份,目标\nR001,张伟,East,2026-08,100000\nR002,李娜,South,2026-08,100000\n", encoding="utf-8"
    )
    files = ("--deals", "deals.csv", "--payments", "payments.csv", "--targets", "targets.csv")
    proc = merit(
        "evaluate", "--policy", str(POLICY), *(str(tmp_path / f) if f.endswith(".csv") else f for f in files),
        "--period", "2026-08", "--format", "csv",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {r.split(",")[1]: r.split(",") for r in proc.stdout.splitlines()[1:]}
    assert rows["R001"][6] == "100050.01"  # 100000.00 + 50.01
    assert rows["R002"][6] == "50.00"


def test_facts_and_deals_are_exclusive_and_deals_need_payments_and_targets() -> None:
    both = merit(
        "evaluate", "--policy", str(POLICY), "--facts", "examples/facts-2026-Q3.csv", *DEALS, "--period", "2026-08"
    )
    assert both.returncode == 1 and "--facts: cannot be given with --deals, --payments" in both.stderr
    alone = merit("evaluate", "--policy", str(POLICY), "--deals", "examples/deals-2026-Q3.csv", "--period", "2026-08")
    assert alone.returncode == 1
    assert "--payments: is missing" in alone.stderr and "--targets: is missing" in alone.stderr
    sheet = merit("evaluate", "--policy", str(POLICY), *DEALS, *TARGETS, "--sheet", "8月", "--period", "2026-08")
    assert sheet.returncode == 1 and "--sheet: reads a --facts file" in sheet.stderr
    neither = merit("evaluate", "--policy", str(POLICY), "--period", "2026-08")
    assert neither.returncode == 1 and "--facts: is missing" in neither.stderr
    for proc in (both, alone, neither):
        no_traceback(proc)


def test_a_policy_without_a_crediting_block_is_refused_clearly() -> None:
    proc = merit("evaluate", "--policy", "policies/sales-incentive", *DEALS, *TARGETS, "--period", "2026-08")
    assert proc.returncode == 1
    assert "has no crediting block" in proc.stderr and "2026-Q3.yaml: crediting:" in proc.stderr
    no_traceback(proc)


def test_bad_deal_files_are_reported_located_with_no_output(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_text(
        "合同编号,销售代表,签约日期,合同金额\nD-1,R001,2026-08-40,10\n", encoding="utf-8"
    )
    (tmp_path / "payments.csv").write_text("合同编号,回款日期,回款金额\nD-7,2026-08-02,5\n", encoding="utf-8")
    out = tmp_path / "out.json"
    proc = merit(
        "evaluate", "--policy", str(POLICY), "--deals", str(tmp_path / "deals.csv"), "--payments",
        str(tmp_path / "payments.csv"), *TARGETS, "--period", "2026-08", "--output", str(out),
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"{tmp_path / 'deals.csv'}:2:3: signed_on:" in proc.stderr
    # D-1's own row is wrong, so its payments are not checked; D-7 is in no row at all
    assert f"{tmp_path / 'payments.csv'}:2:1: deal_id: deal 'D-7' is not in the deals file" in proc.stderr
    assert not out.exists()
    no_traceback(proc)


def test_merit_test_checks_the_deals_example_against_its_own_scenarios() -> None:
    # the 成单 feature is tagged @sales-incentive and @sales-incentive-deals: the example's crediting
    # block is the rule its scenarios state (signed and 30% collected, split shares, never reaching 30%)
    proc = merit("test", "--policy", str(POLICY))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "against the scenarios tagged @sales-incentive-deals" in proc.stdout
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert passed and int(passed.group(1)) >= 7, proc.stdout[-2000:]  # the feature's 7 scenarios at least
    assert "failed" not in proc.stdout
