"""Step bindings for tests/service/features/corrections.feature: HR's late correction and clawback,
through the real API on SQLite and PostgreSQL (the amounts are worked out by hand in the feature)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pytest_bdd import given, parsers, scenarios, then, when
from service_testkit import Clock, Tokens, facts_csv
from test_service_adjustments import CLAWBACK_BLOCK, evaluated, feed, finalized, owed_by_period, store_policy

pytestmark = pytest.mark.usefixtures("database_url")  # SQLite, and PostgreSQL when configured

scenarios(str(Path(__file__).resolve().parent / "features" / "corrections.feature"))

NAMES = {"张三": "R1", "李四": "R2", "王五": "R3", "赵九": "R9"}


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {}


def _facts(period: str, datatable: list[list[str]]) -> bytes:
    header, *rows = datatable
    records = [dict(zip(header, r, strict=True)) for r in rows]
    return facts_csv(
        [(r["rep_id"], r["name"], r["region"], period, int(r["target"]), int(r["actual"])) for r in records]
    )


@given("HR 已上传 2026-Q3 激励方案")
def policy(app_client: TestClient, tokens: Tokens) -> None:
    store_policy(app_client, tokens)


@given("HR 已上传 2026-Q3 激励方案，并规定多发部分每次最多扣回当期应发的 50%")
def policy_with_clawback(app_client: TestClient, tokens: Tokens) -> None:
    store_policy(app_client, tokens, CLAWBACK_BLOCK)


@given(parsers.parse("{period} 已按以下业绩发放："))
@when(parsers.parse("{period} 按以下业绩发放："))
def paid(
    app_client: TestClient, tokens: Tokens, clock: Clock, ctx: dict[str, Any], period: str, datatable: Any
) -> None:
    run = evaluated(app_client, tokens, period, _facts(period, datatable), f"{period}.csv")
    finalized(app_client, tokens, clock, run["id"])
    ctx.setdefault("runs", {})[period] = run


@when(parsers.parse('HR 以"{reason}"为由，用以下更正后的业绩重新核算 {period}，计入 {pay} 工资：'))
def correct(
    app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], reason: str, period: str, pay: str, datatable: Any
) -> None:
    imp = app_client.post(
        "/fact-imports", files={"file": ("corrected.csv", _facts(period, datatable), "text/csv")}, headers=tokens["hr"]
    )
    body = {
        "policy_id": "sales-incentive",
        "period": period,
        "fact_import_id": imp.json()["id"],
        "reason": reason,
        "pay_period": pay,
    }
    res = app_client.post("/adjustments", json=body, headers=tokens["hr2"])  # 小李 asks, 小张 approves
    assert res.status_code == 201, res.text
    ctx["adjustment"] = res.json()
    ctx["reason"], ctx["period"] = reason, period


@when("调整经公示、异议期满后定稿")
def approve(app_client: TestClient, tokens: Tokens, clock: Clock, ctx: dict[str, Any]) -> None:
    finalized(app_client, tokens, clock, ctx["adjustment"]["run"]["id"])


@then(
    parsers.parse(
        "工资接口中只有 1 条调整行：{name} {component} {amount} 元，计入 {pay}，"
        "注明原核算批次、两份业绩和方案的哈希、理由和审批人"
    )
)
def one_adjustment_line(
    app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], name: str, component: str, amount: str, pay: str
) -> None:
    (line,) = [x for x in feed(app_client, tokens) if x["kind"] == "adjustment"]
    original = ctx["runs"][ctx["period"]]
    assert (line["rep_id"], line["component"], line["amount"], line["pay_period"]) == (
        NAMES[name],
        component,
        amount,
        pay,
    )
    assert line["original_run_id"] == original["id"]
    assert (
        line["original_facts_sha256"] == original["facts_sha256"] and line["facts_sha256"] != original["facts_sha256"]
    )
    assert line["original_policy_sha256"] == line["policy_sha256"] == original["policy"]["sha256"]
    assert (line["reason"], line["requested_by"], line["approved_by"]) == (ctx["reason"], "HR 小李", "HR 小张")


@then(parsers.parse("原 {period} 的工资行一行未改，合计仍为 {total} 元"))
def untouched(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], period: str, total: str) -> None:
    original = ctx["runs"][period]
    paid = [x for x in feed(app_client, tokens, period) if x["run_id"] == original["id"]]
    assert all(x["kind"] == "payout" for x in paid)
    assert sum(Decimal(x["amount"]) for x in paid) == Decimal(total) == Decimal(original["totals"]["payout"])


@then(parsers.parse("{name} {period} 的各行合计为 {total} 元"))
def sums_to(app_client: TestClient, tokens: Tokens, name: str, period: str, total: str) -> None:
    assert owed_by_period(feed(app_client, tokens, period), NAMES[name], period) == Decimal(total)


@then(parsers.parse("{name} 尚欠 {owed} 元，这笔钱不在本期一次扣完"))
def owes(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], name: str, owed: str) -> None:
    rep = NAMES[name]
    assert app_client.get(f"/reps/{rep}/balance", headers=tokens["hr"]).json()["balance"] == owed
    clawed = [x for x in feed(app_client, tokens, ctx["period"]) if x["kind"] == "adjustment" and x["rep_id"] == rep]
    assert clawed and {x["settled"] for x in clawed} == {"balance"}


@then(parsers.parse("{name} {period} 被扣回 {taken} 元，尚欠 {owed} 元"))
def recovered(app_client: TestClient, tokens: Tokens, name: str, period: str, taken: str, owed: str) -> None:
    rep = NAMES[name]
    lines = [x for x in feed(app_client, tokens, period) if x["kind"] == "recovery" and x["rep_id"] == rep]
    assert [x["amount"] for x in lines] == [f"-{taken}"]
    assert app_client.get(f"/reps/{rep}/balance", headers=tokens["payroll"]).json()["balance"] == owed


@then(parsers.parse("{name} 7 月到 9 月实际到手 {cash} 元"))
def received(app_client: TestClient, tokens: Tokens, name: str, cash: str) -> None:
    lines = [x for x in feed(app_client, tokens) if x["rep_id"] == NAMES[name] and x["settled"] == "paid"]
    assert sum(Decimal(x["amount"]) for x in lines) == Decimal(cash)
