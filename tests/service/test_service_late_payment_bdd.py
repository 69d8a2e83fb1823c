"""Step bindings for features/payroll/late_payment.feature: HR's late payment becoming an
adjustment, through the real API on SQLite and PostgreSQL (the amounts are worked out by hand in
the feature). HR's tables become the CSV files HR would upload, with HR's own column names."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pytest_bdd import given, parsers, scenarios, then, when
from service_testkit import REPO, Clock, Tokens
from test_service_adjustments import feed, finalized, owed_by_period

pytestmark = pytest.mark.usefixtures("database_url")  # SQLite, and PostgreSQL when configured

scenarios(str(REPO / "features" / "payroll" / "late_payment.feature"))

NAMES = {"张伟": "R001", "李娜": "R002"}
POLICY_ID = "sales-incentive-deals"


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {}


def _csv(table: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[c.strip() for c in row] for row in table])
    return out.getvalue().encode("utf-8")


def _upload(client: TestClient, tokens: Tokens, kind: str, table: list[list[str]]) -> dict[str, Any]:
    res = client.post(
        "/fact-imports",
        files={"file": (f"{kind}.csv", _csv(table), "text/csv")},
        data={"kind": kind},
        headers=tokens["hr"],
    )
    assert res.status_code == 201, res.text
    body: dict[str, Any] = res.json()
    return body


@given(parsers.parse("HR 已上传成单方案 {policy_id} {version}"))
def policy(app_client: TestClient, tokens: Tokens, policy_id: str, version: str) -> None:
    text = (REPO / "examples" / f"{policy_id}-{version}.yaml").read_bytes()
    url = f"/policies/{policy_id}/versions/{version}"
    res = app_client.put(url, content=text, headers={**tokens["hr"], "Content-Type": "application/yaml"})
    assert res.status_code == 201, res.text


@given("以下销售目标：")
def targets(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], datatable: Any) -> None:
    ctx["target_import_id"] = _upload(app_client, tokens, "targets", datatable)["id"]


@given("以下合同：")
def deals(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], datatable: Any) -> None:
    ctx["deal_import_id"] = _upload(app_client, tokens, "deals", datatable)["id"]


@given("以下回款：")
def payments(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], datatable: Any) -> None:
    ctx["payment_import_id"] = _upload(app_client, tokens, "payments", datatable)["id"]


@given(parsers.parse("HR 按成单核算 {period}，公示、异议期满后定稿"))
def paid(app_client: TestClient, tokens: Tokens, clock: Clock, ctx: dict[str, Any], period: str) -> None:
    ids = {k: ctx[k] for k in ("deal_import_id", "payment_import_id", "target_import_id")}
    res = app_client.post("/runs", json={"policy_id": POLICY_ID, "period": period, **ids}, headers=tokens["hr"])
    assert res.status_code == 201, res.text
    ctx["run"] = res.json()
    finalized(app_client, tokens, clock, ctx["run"]["id"])
    ctx["paid"] = [x for x in feed(app_client, tokens, period) if x["kind"] == "payout"]


@then(parsers.parse("{period} 已发放合计 {total} 元"))
def paid_total(ctx: dict[str, Any], period: str, total: str) -> None:
    assert ctx["run"]["period"] == period and ctx["run"]["totals"]["payout"] == total


@when("财务在 7 月定稿后导入以下回款：")
def late_payments(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], datatable: Any) -> None:
    ctx["import"] = _upload(app_client, tokens, "payments", datatable)
    ctx.setdefault("late", []).extend(ctx["import"]["late_credits"])


@then(parsers.parse("导入结果说明已为 {period} 生成调整，理由写明 {deal}、原核算批次和前后两份业绩的哈希"))
def adjustment_made(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], period: str, deal: str) -> None:
    [late] = ctx["import"]["late_credits"]
    assert (late["period"], late["state"], late["deals"]) == (period, "adjusted", [deal])
    run = app_client.get(late["links"]["adjustment_run"], headers=tokens["hr"]).json()
    assert run["status"] == "draft"
    [adj] = app_client.get(f"/adjustments?period={period}", headers=tokens["hr"]).json()["adjustments"]
    original = ctx["run"]
    assert adj["run_id"] == run["id"] and adj["original_run_id"] == original["id"]
    for said in (deal, f"run {original['id']}", original["facts_sha256"], run["facts_sha256"]):
        assert said in adj["reason"], said
    ctx["adjustment_run_id"] = run["id"]


@then(parsers.parse("调整定稿前工资单里没有调整行，{period} 原工资行一行未改"))
def untouched(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], period: str) -> None:
    lines = feed(app_client, tokens, period)
    assert [x for x in lines if x["kind"] == "adjustment"] == []
    assert [x for x in lines if x["kind"] == "payout"] == ctx["paid"]


@when("调整经公示、异议期满后定稿")
def approve(app_client: TestClient, tokens: Tokens, clock: Clock, ctx: dict[str, Any]) -> None:
    run_id = ctx["late"][0]["adjustment_run_id"]
    finalized(app_client, tokens, clock, run_id)


def _lines(text: str) -> list[tuple[str, str, str]]:
    """'张伟 commission 7500.00 元，张伟 bonus 3000.00 元' -> [(R001, commission, 7500.00), ...]"""
    out = []
    for part in text.split("，"):
        name, component, amount, _ = part.split()
        out.append((NAMES[name], component, amount))
    return sorted(out)


@then(parsers.parse("工资单中 {period} 的调整行为：{lines}"))
def adjustment_lines(app_client: TestClient, tokens: Tokens, period: str, lines: str) -> None:
    got = [
        (x["rep_id"], x["component"], x["amount"])
        for x in feed(app_client, tokens, period)
        if x["kind"] == "adjustment"
    ]
    assert sorted(got) == _lines(lines)


@then(parsers.parse("{name} {period} 的各行合计为 {total} 元"))
def sums_to(app_client: TestClient, tokens: Tokens, name: str, period: str, total: str) -> None:
    assert owed_by_period(feed(app_client, tokens, period), NAMES[name], period) == Decimal(total)


@then(parsers.parse("导入结果说明 {period} 有迟到的成单 {deal} 待调整"))
def pending_in_import(ctx: dict[str, Any], period: str, deal: str) -> None:
    [late] = ctx["import"]["late_credits"]
    assert (late["period"], late["state"], late["deals"]) == (period, "pending", [deal])
    assert late["problem"].startswith("adjustment-open")


def _state(client: TestClient, tokens: Tokens, period: str) -> dict[str, Any]:
    res = client.get(f"/payroll/periods/{period}", headers=tokens["payroll"])
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


@then(parsers.parse("工资单看到 {period} 有待调整的迟到成单"))
def pending_in_state(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], period: str) -> None:
    state = _state(app_client, tokens, period)
    assert state["late_credit_pending"] is True
    [pending] = [x for x in state["late_credits"] if x["state"] == "pending"]
    ctx["hint"] = pending["make_adjustment"]


@when(parsers.parse("HR 按提示补做 {period} 的调整"))
def make_pending(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], period: str) -> None:
    assert ctx["hint"]["period"] == period
    res = app_client.post("/adjustments", json=ctx["hint"], headers=tokens["hr"])
    assert res.status_code == 201, res.text
    ctx["made"] = res.json()


@then(parsers.parse("补做的调整行为：{lines}"))
def made_lines(ctx: dict[str, Any], lines: str) -> None:
    got = [(x["rep_id"], x["component"], x["delta"]) for x in ctx["made"]["lines"]]
    assert sorted(got) == _lines(lines)


@then(parsers.parse("工资单看到 {period} 没有待调整的迟到成单"))
def none_pending(app_client: TestClient, tokens: Tokens, period: str) -> None:
    state = _state(app_client, tokens, period)
    assert state["late_credit_pending"] is False
    assert {x["state"] for x in state["late_credits"]} == {"adjusted"}
