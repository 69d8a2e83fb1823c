"""`GET /payroll/lines?pay_period=2026-09`: what a month's payroll pays (issue 12), SQLite and PostgreSQL.

A month's lines are paid in that month's payroll, a quarter's own lines in the payroll of its last
month, an adjustment's lines in the adjustment's `pay_period`. The filter keeps the feed's keyset
paging: pages never repeat a line, and the cursor after the last line (also of an empty page)
picks up exactly what is finalized later.

Policy sales-incentive 2026-Q3; every month has August's example figures (service_testkit.AUGUST):
  R1 East 105000/100000 = 105% -> 2% x 105000 = 2100 + 1000            = 3100.00
  R2 East  70000/100000 =  70% -> nothing                               =    0.00
  R3 South 125000/100000 = 125% -> 3% x 125000 = 3750 + 3000 + South 500 = 7250.00
  a month pays 3100 + 0 + 7250 = 10350.00.
Q3's close: quarter actuals R3 375000, R1 315000, R2 210000 -> TOP3 5000 + 3000 + 1000 = 9000.00.
Adjustments (R2's actual was 82000: 82% -> 1.5% x 82000 = 1230.00; East 187000/200000 = 93.5%, no
team award): August's paid in 2026-09, July's in 2026-10.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from service_testkit import AUGUST, AUGUST_CORRECTED, Clock, Tokens, import_facts, put_policy
from test_service_adjustments import adjust, finalized

MONTHS = ("2026-07", "2026-08", "2026-09")


def _dated(data: bytes, month: str) -> bytes:
    return data.replace(b"2026-08", month.encode())


def _page(client: TestClient, tokens: Tokens, **params: Any) -> dict[str, Any]:
    res = client.get("/payroll/lines", params=params, headers=tokens["payroll"])
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


def _total(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(x["amount"]) for x in lines), Decimal(0))


def _paid_quarter(client: TestClient, tokens: Tokens, clock: Clock) -> None:
    assert put_policy(client, tokens).status_code == 201
    hr = tokens["hr"]
    for month in MONTHS:
        imp = import_facts(client, tokens, _dated(AUGUST, month), f"{month}.csv").json()["id"]
        body = {"policy_id": "sales-incentive", "period": month, "fact_import_id": imp}
        run = client.post("/runs", json=body, headers=hr)
        assert run.status_code == 201, run.text
        finalized(client, tokens, clock, run.json()["id"])
    close = client.post("/runs", json={"policy_id": "sales-incentive", "period": "2026-Q3"}, headers=hr)
    assert close.status_code == 201, close.text
    finalized(client, tokens, clock, close.json()["id"])
    for month, pays in (("2026-08", "2026-09"), ("2026-07", "2026-10")):
        res = adjust(client, tokens, month, _dated(AUGUST_CORRECTED, month), "R2 actual 82000", pay_period=pays)
        assert res.status_code == 201, res.text
        finalized(client, tokens, clock, res.json()["run"]["id"])


def test_a_pay_period_is_its_months_lines_the_quarter_it_ends_and_its_adjustments(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    _paid_quarter(app_client, tokens, clock)
    september = _page(app_client, tokens, pay_period="2026-09")["lines"]
    got = {(x["period"], x["kind"]) for x in september}
    assert got == {("2026-09", "payout"), ("2026-Q3", "payout"), ("2026-08", "adjustment")}
    by_period = {p: _total([x for x in september if x["period"] == p]) for p in ("2026-09", "2026-Q3", "2026-08")}
    assert by_period == {"2026-09": Decimal("10350.00"), "2026-Q3": Decimal("9000.00"), "2026-08": Decimal("1230.00")}
    assert {x["pay_period"] for x in september} == {"2026-09"}

    assert {x["period"] for x in _page(app_client, tokens, pay_period="2026-07")["lines"]} == {"2026-07"}
    august = _page(app_client, tokens, pay_period="2026-08")["lines"]
    assert {(x["period"], x["kind"]) for x in august} == {("2026-08", "payout")}
    assert _total(august) == Decimal("10350.00")  # August's own lines; its correction is paid in September
    october = _page(app_client, tokens, pay_period="2026-10")["lines"]
    assert [(x["rep_id"], x["period"], x["kind"], x["amount"]) for x in october] == [
        ("R2", "2026-07", "adjustment", "1230.00")
    ]
    # with period: August's lines paid in September's payroll = the correction alone
    both = _page(app_client, tokens, period="2026-08", pay_period="2026-09")["lines"]
    assert [(x["kind"], x["amount"]) for x in both] == [("adjustment", "1230.00")]
    # every line of the whole feed says its pay period, and each is in exactly one pay period's answer
    everything = _page(app_client, tokens, limit=5000)["lines"]
    months = ("2026-07", "2026-08", "2026-09", "2026-10")
    per_pay = {m: [x["line_id"] for x in _page(app_client, tokens, pay_period=m, limit=5000)["lines"]] for m in months}
    assert sorted(i for ids in per_pay.values() for i in ids) == sorted(x["line_id"] for x in everything)
    assert all(x["line_id"] in per_pay[x["pay_period"]] for x in everything)


def test_pay_period_pages_never_repeat_and_the_last_cursor_picks_up_later_lines(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    _paid_quarter(app_client, tokens, clock)
    whole = _page(app_client, tokens, pay_period="2026-09", limit=5000)["lines"]
    seen: list[str] = []
    cursor = None
    while True:
        body = _page(app_client, tokens, pay_period="2026-09", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [x["line_id"] for x in body["lines"]]
        cursor = body["next_cursor"]
        if not body["more"]:
            break
    assert seen == [x["line_id"] for x in whole] and len(set(seen)) == len(seen)
    empty = _page(app_client, tokens, pay_period="2026-09", cursor=cursor)
    assert empty["lines"] == [] and empty["next_cursor"] == cursor and empty["more"] is False

    # a second correction of August, paid in September: R2 90000 -> 90% -> 1.5% x 90000 = 1350.00,
    # 120.00 more than the 1230.00 paid; East 195000/200000 = 97.5%, still no team award
    again = adjust(app_client, tokens, "2026-08", _dated(AUGUST, "2026-08").replace(b"70000", b"90000"), "R2 90000")
    assert again.status_code == 201, again.text
    body = {"policy_id": "sales-incentive", "period": "2026-08", "reason": "x", "pay_period": "2026-10"}
    assert app_client.post("/adjustments", json=body, headers=tokens["hr"]).status_code == 409  # one open at a time
    run_id = again.json()["run"]["id"]
    assert again.json()["adjustment"]["pay_period"] == "2026-09"  # default: the month it is made (clock)
    finalized(app_client, tokens, clock, run_id)
    later = _page(app_client, tokens, pay_period="2026-09", cursor=cursor)
    assert [(x["run_id"], x["rep_id"], x["amount"]) for x in later["lines"]] == [(run_id, "R2", "120.00")]


def test_a_pay_period_is_a_month(app_client: TestClient, tokens: Tokens) -> None:
    for bad in ("2026-13", "2026-Q3", "September"):
        res = app_client.get("/payroll/lines", params={"pay_period": bad}, headers=tokens["payroll"])
        assert res.status_code == 422, (bad, res.text)
        assert [p["field"] for p in res.json()["problems"]] == ["pay_period"]
