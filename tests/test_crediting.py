"""Deals credit months (issue 12): the handbook's 成单 = contract signed AND 30% collected.

Every expectation is computed by hand in the comment beside it. The policy pays 1.5% of actual
from 80% achievement (no bonus), so a commission is easy to check: 1.5% x actual.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import openpyxl
import pytest

from engine.crediting import credit_deals, credited_facts, split_cents
from engine.deals import load_deal_book, load_targets, parse_shares
from engine.evaluation import evaluate
from engine.frontend import parse_policy
from engine.periods import Month
from engine.problems import MeritInputError
from engine.rules import correlation_book
from schemas import RESULTS, load_schema

POLICY = """
id: deals-test
version: "1"
title: 成单测试
effective_from: 2026-07
effective_to: 2026-12
currency: CNY
rounding: {{quantum: "0.01", mode: half-up}}
metrics:
  achievement: {{numerator: actual, denominator: target}}
commission:
  basis: achievement
  tiers:
    - {{id: basic, from: "0.80", rate: "0.015"}}
crediting:
  when: {{signed: true, collected_at_least: "{threshold}"}}
  credit: amount
  to: month_condition_first_holds
"""

TARGETS = """工号,姓名,区域,月份,目标
R001,张伟,East,2026-07,100000
R002,李娜,South,2026-07,100000
R001,张伟,East,2026-08,100000
R002,李娜,South,2026-08,100000
R001,张伟,East,2026-09,100000
R002,李娜,South,2026-09,100000
R001,张伟,East,2026-10,100000
R002,李娜,South,2026-10,100000
"""


def run(deals: str, payments: str, period: str, threshold: str = "30%", targets: str = TARGETS) -> dict[str, Any]:
    """Evaluate `period` on facts credited from the deals, as `merit evaluate --deals` does."""
    policy = parse_policy(POLICY.format(threshold=threshold), "deals-test.yaml")
    assert policy.crediting is not None
    book = load_deal_book(deals.encode(), "deals.csv", payments.encode(), "payments.csv")
    credited = credit_deals(policy.crediting, book)
    rows, sha, _ = load_targets(targets.encode(), "targets.csv")
    facts = credited_facts(credited, book, rows, ("targets.csv", sha))
    ev = evaluate(policy, facts, period).with_credits(credited.explain)
    doc: dict[str, Any] = json.loads(ev.to_json_bytes())
    jsonschema.validate(doc, load_schema(RESULTS))
    return doc


def line(doc: dict[str, Any], rep: str) -> dict[str, Any]:
    (found,) = [r for r in doc["results"] if r["rep_id"] == rep]
    return found


DEALS_HEADER = "合同编号,销售代表,签约日期,合同金额,分成\n"
PAYMENTS_HEADER = "合同编号,回款日期,回款金额\n"


def test_collected_2999_percent_credits_nothing_and_30_percent_credits_the_amount() -> None:
    deals = DEALS_HEADER + "D-1,R001,2026-08-03,100000.00,\nD-2,R002,2026-08-03,100000.00,\n"
    # D-1: 29990.00 / 100000.00 = 29.99% < 30%; D-2: 30000.00 / 100000.00 = exactly 30%
    payments = PAYMENTS_HEADER + "D-1,2026-08-10,29990.00\nD-2,2026-08-10,30000.00\n"
    doc = run(deals, payments, "2026-08")
    assert line(doc, "R001")["actual"] == "0.00"
    assert line(doc, "R001")["credited"] == []
    r002 = line(doc, "R002")
    assert r002["actual"] == "100000.00"
    assert r002["commission"] == "1500.00"  # 100000.00 / 100000 = 100% >= 80%: 1.5% x 100000.00
    assert r002["credited"] == [
        {
            "deal_id": "D-2",
            "signed_on": "2026-08-03",
            "credited_on": "2026-08-10",
            "deal_amount": "100000.00",
            "collected": "30000.00",
            "share": "100%",
            "credited": "100000.00",
            "product_line": None,
        }
    ]
    assert any(s.startswith("[credited.D-2] signed 2026-08-03") for s in r002["explanation"])


def test_a_split_with_an_odd_cent_gives_it_to_the_largest_remainder_then_to_the_first_listed() -> None:
    deals = (
        DEALS_HEADER
        + 'D-1,R001,2026-08-03,100.01,"R001:50%;R002:50%"\n'  # 5000.5 cents each: the tie goes to R001
        + 'D-2,R001,2026-08-03,100.01,"R002:0.6;R001:0.4"\n'  # R002 6000.6, R001 4000.4: R002 (.6) gets it
    )
    payments = PAYMENTS_HEADER + "D-1,2026-08-04,100.01\nD-2,2026-08-04,100.01\n"
    doc = run(deals, payments, "2026-08")
    assert line(doc, "R001")["actual"] == "90.01"  # 50.01 + 40.00
    assert line(doc, "R002")["actual"] == "110.01"  # 50.00 + 60.01; 90.01 + 110.01 = 200.02 = 2 x 100.01
    shares = {(c["deal_id"], c["share"], c["credited"]) for c in line(doc, "R002")["credited"]}
    assert shares == {("D-1", "50%", "50.00"), ("D-2", "60%", "60.01")}


def test_split_cents_by_hand() -> None:
    half = Decimal("0.5")
    assert split_cents(10001, [("a", half), ("b", half)]) == [5001, 5000]
    thirds = [("a", Decimal("0.3333")), ("b", Decimal("0.3333")), ("c", Decimal("0.3334"))]
    # 2 cents: 0.6666, 0.6666, 0.6668 -> floors 0, 0, 0; the 2 left go to c (.6668), then a (first of the ties)
    assert split_cents(2, thirds) == [1, 0, 1]
    # 10000 cents: 3333, 3333, 3334 exactly, nothing left over
    assert split_cents(10000, thirds) == [3333, 3333, 3334]


def test_a_deal_signed_in_july_reaching_30_percent_in_august_credits_august() -> None:
    deals = DEALS_HEADER + "D-1,R001,2026-07-20,100000.00,\n"
    # 20000.00 on 07-25 is 20%; 10000.00 on 08-05 brings it to 30000.00 = 30%: credited in August
    payments = PAYMENTS_HEADER + "D-1,2026-07-25,20000.00\nD-1,2026-08-05,10000.00\n"
    july, august = run(deals, payments, "2026-07"), run(deals, payments, "2026-08")
    assert line(july, "R001")["actual"] == "0.00"
    assert line(july, "R001")["commission"] == "0.00"
    assert line(august, "R001")["actual"] == "100000.00"
    assert line(august, "R001")["credited"][0]["credited_on"] == "2026-08-05"


def test_collected_is_the_months_payments_and_deals_the_credited_count() -> None:
    policy = parse_policy(POLICY.format(threshold="30%"), "deals-test.yaml")
    assert policy.crediting is not None
    deals = DEALS_HEADER + "D-1,R001,2026-07-20,100000.00,\n"
    payments = PAYMENTS_HEADER + "D-1,2026-07-25,20000.00\nD-1,2026-08-05,10000.00\n"
    book = load_deal_book(deals.encode(), "deals.csv", payments.encode(), "payments.csv")
    credited = credit_deals(policy.crediting, book)
    assert credited.collected[("R001", Month(2026, 7))] == Decimal("20000.00")
    assert credited.collected[("R001", Month(2026, 8))] == Decimal("10000.00")
    assert credited.deals == {("R001", Month(2026, 8)): 1}


def test_a_deal_never_reaching_30_percent_credits_nothing() -> None:
    deals = DEALS_HEADER + "D-1,R001,2026-07-20,100000.00,\n"
    payments = PAYMENTS_HEADER + "D-1,2026-07-25,20000.00\nD-1,2026-09-05,9999.99\n"  # 29999.99 = 29.99999%
    for period in ("2026-07", "2026-08", "2026-09", "2026-10", "2026-Q3"):
        doc = run(deals, payments, period)
        assert line(doc, "R001")["actual"] == "0.00", period
        assert line(doc, "R001")["credited"] == []


def test_a_payment_after_the_period_credits_the_later_month_and_never_rewrites_the_earlier() -> None:
    deals = DEALS_HEADER + "D-1,R001,2026-09-10,50000.00,\n"
    september = PAYMENTS_HEADER + "D-1,2026-09-20,5000.00\n"  # 10%
    october = september + "D-1,2026-10-08,10000.00\n"  # 15000.00 = 30% on 10-08: October
    before, after = run(deals, september, "2026-09"), run(deals, october, "2026-09")
    assert line(before, "R001")["actual"] == line(after, "R001")["actual"] == "0.00"
    assert before["results"] == after["results"]
    assert line(run(deals, october, "2026-10"), "R001")["actual"] == "50000.00"


def test_a_zero_threshold_credits_at_signing() -> None:
    deals = DEALS_HEADER + "D-1,R001,2026-08-31,1000.00,\n"
    doc = run(deals, PAYMENTS_HEADER, "2026-08", threshold="0%")
    assert line(doc, "R001")["actual"] == "1000.00"
    assert line(doc, "R001")["credited"][0]["credited_on"] == "2026-08-31"


def test_the_rule_engine_fires_once_at_the_first_event_that_reaches_the_threshold() -> None:
    book = correlation_book()
    # keys: 0 below, 1 equal, 2 above the threshold; the first is the signing, the rest payments
    assert book.first_holding((0, 0, 2, 2)) == 2
    assert book.first_holding((0, 1, 2)) == 1
    assert book.first_holding((0, 0)) is None
    assert book.first_holding((0,)) is None
    assert book.first_holding((1, 2)) == 0


def test_every_problem_of_both_files_is_located_and_reported_at_once() -> None:
    deals = (
        DEALS_HEADER
        + "D-1,R001,2026-07-20,100000.00,\n"  # row 2
        + "D-1,R002,2026-07-21,5000.00,\n"  # row 3: D-1 again
        + "D-3,R002,2026-02-30,5000.00,\n"  # row 4: no 30 February
        + 'D-4,R002,2026-07-01,5000.00,"R002:60%;R001:30%"\n'  # row 5: 90%
    )
    payments = (
        PAYMENTS_HEADER
        + "D-9,2026-08-01,10.00\n"  # row 2: no such deal
        + "D-1,2026-07-19,10.00\n"  # row 3: before the signing on 07-20
        + "D-1,2026-07-25,99990.00\n"  # row 4: 99990.00 so far
        + "D-1,2026-07-26,20.00\n"  # row 5: 100010.00 > 100000.00
        + "D-4,2026-07-26,20.00\n"  # row 6: D-4's own row is wrong: not said again
        + "D-1,26/7/2026,20.00\n"  # row 7: not a date
    )
    with pytest.raises(MeritInputError) as caught:
        load_deal_book(deals.encode(), "deals.csv", payments.encode(), "payments.csv")
    found = [(p.source, p.line, p.column, p.field) for p in caught.value.problems]
    assert found == [
        ("deals.csv", 3, 1, "deal_id"),
        ("deals.csv", 4, 3, "signed_on"),
        ("deals.csv", 5, 5, "shares"),
        ("payments.csv", 2, 1, "deal_id"),
        ("payments.csv", 3, 2, "paid_on"),
        ("payments.csv", 5, 3, "amount"),
        ("payments.csv", 7, 2, "paid_on"),
    ]
    messages = {p.line: p.message for p in caught.value.problems if p.source == "payments.csv"}
    assert "100,010.00" in messages[5] and "100,000.00" in messages[5]
    assert "90%" in next(p.message for p in caught.value.problems if p.field == "shares")


def test_shares_must_add_up_to_exactly_100_percent() -> None:
    assert parse_shares("R001:60%;R002:40%") == ((("R001", Decimal("0.6")), ("R002", Decimal("0.4"))), None)
    assert parse_shares("R001:0.6；R002:0.4")[1] is None
    assert "100.01%" in (parse_shares("R001:60.01%;R002:40%")[1] or "")
    assert "twice" in (parse_shares("R001:50%;R001:50%")[1] or "")
    assert "above zero" in (parse_shares("R001:100%;R002:0%")[1] or "")


def test_a_credited_rep_without_a_target_row_is_a_located_problem() -> None:
    deals = DEALS_HEADER + "D-1,R001,2026-08-01,100.00,\nD-2,R009,2026-08-02,100.00,\n"
    payments = PAYMENTS_HEADER + "D-1,2026-08-03,100.00\nD-2,2026-08-03,100.00\n"
    with pytest.raises(MeritInputError) as caught:
        run(deals, payments, "2026-08")
    (problem,) = caught.value.problems
    assert (problem.source, problem.line, problem.field) == ("deals.csv", 3, "rep_id")
    assert "R009" in problem.message and "2026-08" in problem.message


def test_targets_may_not_carry_actual() -> None:
    with pytest.raises(MeritInputError) as caught:
        load_targets("工号,月份,目标,销售额\nR001,2026-08,100,5\n".encode(), "targets.csv")
    assert [(p.line, p.column, p.field) for p in caught.value.problems] == [(1, 4, "actual")]


def test_deals_from_a_workbook_with_date_cells_and_payments_from_json(tmp_path: Path) -> None:
    import datetime

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["订单号", "工号", "签约日期", "合同金额（元）", "产品线", "客户名称"])
    ws.append(["D-1", "R001", datetime.date(2026, 8, 3), 100000, "A", "某公司"])
    wb.save(tmp_path / "deals.xlsx")
    payments = json.dumps([{"deal_id": "D-1", "paid_on": "2026-08-20", "amount": "30000.00"}]).encode()
    book = load_deal_book((tmp_path / "deals.xlsx").read_bytes(), "deals.xlsx", payments, "payments.json")
    (deal,) = book.deals
    assert (deal.deal_id, deal.signed_on, deal.amount, deal.product_line) == (
        "D-1", datetime.date(2026, 8, 3), Decimal("100000"), "A",
    )  # fmt: skip
    assert any("客户名称" in n for n in book.notes)  # a column not read is said, not silently dropped


def test_the_crediting_block_is_checked_by_the_schema() -> None:
    text = POLICY.format(threshold="130%")
    with pytest.raises(MeritInputError) as caught:
        parse_policy(text, "p.yaml")
    assert [p.field for p in caught.value.problems] == ["crediting.when.collected_at_least"]
    policy = parse_policy(POLICY.format(threshold="0.30"), "p.yaml")
    assert policy.crediting is not None and policy.crediting.fraction == (3, 10)


def test_same_inputs_give_the_same_bytes() -> None:
    deals = DEALS_HEADER + 'D-1,R001,2026-08-03,100.01,"R001:50%;R002:50%"\n'
    payments = PAYMENTS_HEADER + "D-1,2026-08-04,100.01\n"
    assert json.dumps(run(deals, payments, "2026-Q3")) == json.dumps(run(deals, payments, "2026-Q3"))


def test_the_diff_names_a_crediting_change() -> None:
    from engine.diff import diff_policies

    old, new = (parse_policy(POLICY.format(threshold=t), "p.yaml") for t in ("30%", "0.35"))
    assert diff_policies(old, new) == ["crediting signed and collected >= 30% -> signed and collected >= 35%"]


def test_a_deals_csv_saved_by_zh_cn_excel_in_gb18030_is_read_and_said() -> None:
    deals = (DEALS_HEADER + 'D-1,R001,2026年8月3日,"¥100,000.00",\n').encode("gb18030")
    payments = (PAYMENTS_HEADER + "D-1,2026/8/10,30000\n").encode("gb18030")
    book = load_deal_book(deals, "合同.csv", payments, "回款.csv")
    (deal,) = book.deals
    assert deal.amount == Decimal("100000.00") and str(deal.signed_on) == "2026-08-03"
    assert any("合同.csv" in n and "GB18030" in n.upper() for n in book.notes), book.notes


def test_a_whole_table_problem_of_the_targets_names_the_targets_files_row() -> None:
    # a merged region exported to CSV: rows 4 and 6 are blank below a region (row 2 is a blank line)
    targets = (
        "工号,区域,月份,目标\n\nR001,East,2026-08,100\nR002,,2026-08,100\nR003,South,2026-08,100\nR004,,2026-08,100\n"
    )
    with pytest.raises(MeritInputError) as caught:
        run(DEALS_HEADER + "D-1,R001,2026-08-01,10.00,\n", PAYMENTS_HEADER, "2026-08", targets=targets)
    found = [(p.source, p.line, p.field) for p in caught.value.problems]
    assert found == [("targets.csv", 4, "region"), ("targets.csv", 6, "region")]
