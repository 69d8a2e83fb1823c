"""Step bindings for features/payroll (HR's quarter close, in HR's words) over the service's use-case
functions: the same functions the HTTP routes call, on a real migrated database (SQLite, and
PostgreSQL with MERIT_TEST_POSTGRES_URL). The numbers are in the feature file, worked out by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenario, then, when
from service_testkit import REPO, Clock, policy_text
from sqlalchemy.orm import Session

from engine.periods import parse_period
from service.api.errors import ApiError
from service.auth import Principal
from service.db import make_engine, make_sessionmaker
from service.facts.service import store_import
from service.payroll.feed import FullPages
from service.payroll.service import lines as payroll_lines
from service.periods import service as periods
from service.periods.state import period_state
from service.policies.service import put_version
from service.publication.service import finalize, publish
from service.runs.service import create_run


@scenario("payroll/quarter_close.feature", "季度结算：三个月定稿后，季度前三名奖金进入工资单")
def test_quarter_close(database_url: str) -> None:
    """On SQLite and PostgreSQL: `database_url` is parametrized, so it is named here."""


HR = Principal(token_id=1, name="HR 小张", role="hr")
POLICY = "sales-incentive"


@dataclass
class Office:
    """The service's database, HR's clock and what the scenario did so far."""

    db: Session
    clock: Clock
    runs: dict[str, int] = field(default_factory=dict)
    refused: ApiError | None = None


@pytest.fixture
def office(database_url: str) -> Iterator[Office]:
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as db:
        yield Office(db, Clock())
    engine.dispose()


def _months(text: str) -> list[str]:
    return [m.strip() for m in text.replace("三个月", "").split("、") if m.strip()]


def _now(office: Office) -> datetime:
    return office.clock()


@given("服务里存有 2026-Q3 版激励方案和示例业绩文件")
def stored(office: Office) -> None:
    put_version(office.db, HR, _now(office), POLICY, "2026-Q3", policy_text().encode(), None, 1 << 20)
    data = (REPO / "examples" / "facts-2026-Q3.csv").read_bytes()
    office.runs["import"] = store_import(office.db, HR, _now(office), data, "facts-2026-Q3.csv", "text/csv", 50_000)[
        "id"
    ]


@when(parsers.re(r"HR 核算并公示 (?P<months>.+)"))
def evaluate_and_publish(office: Office, months: str) -> None:
    for month in _months(months):
        run, _ = create_run(office.db, HR, _now(office), POLICY, None, month, office.runs["import"])
        office.runs[month] = run.id
        publish(office.db, HR, _now(office), run.id)


def _finalize(office: Office, run_id: int) -> None:
    finalize(office.db, HR, office.clock, run_id)


@when(parsers.re(r"异议期过后 HR 将 (?P<month>\S+) 定稿"))
def after_window_finalize(office: Office, month: str) -> None:
    office.clock.advance(days=3)
    _finalize(office, office.runs[month])


@when(parsers.re(r"HR 将 (?P<months>\S+) 定稿"))
def finalize_months(office: Office, months: str) -> None:
    office.clock.advance(days=3)  # past every window opened so far (each is 3 days)
    for month in _months(months):
        _finalize(office, office.runs[month])


def _close(office: Office, period: str) -> None:
    office.refused = None
    try:
        office.runs[period] = periods.close(office.db, HR, _now(office), POLICY, None, period, None).id
    except ApiError as err:
        office.db.rollback()
        office.refused = err


@when(parsers.re(r"HR 结算 (?P<period>\S+)$"))
def close_period(office: Office, period: str) -> None:
    _close(office, period)
    assert office.refused is None, office.refused and office.refused.detail


@then(parsers.re(r"结算 (?P<period>\S+) 被拒绝，尚未定稿的月份是 (?P<months>\S+)"))
def close_refused(office: Office, period: str, months: str) -> None:
    _close(office, period)
    assert office.refused is not None and office.refused.status == 409
    assert office.refused.kind == "months-not-finalized"
    assert office.refused.extra["missing"] == _months(months)


@then(parsers.re(r"再次结算 (?P<period>\S+) 被拒绝"))
def closed_once(office: Office, period: str) -> None:
    _close(office, period)
    assert office.refused is not None and office.refused.kind == "period-already-closed"


@then(parsers.re(r'工资单看到 (?P<period>\S+) 的状态是 "(?P<expected>[^"]+)"'))
def state_is(office: Office, period: str, expected: str) -> None:
    assert period_state(office.db, parse_period(period))["state"] == expected
    office.db.rollback()


@then(parsers.re(r"季度结算只发季度自己的奖金 (?P<amount>[\d.]+) 元"))
def close_pays(office: Office, amount: str) -> None:
    from service.runs.service import get_run

    run = get_run(office.db, office.runs["2026-Q3"])
    assert run.total_payout == amount
    office.db.rollback()


@when("HR 公示季度结算，异议期过后定稿")
def publish_and_finalize_close(office: Office) -> None:
    publish(office.db, HR, _now(office), office.runs["2026-Q3"])
    office.clock.advance(days=3)
    _finalize(office, office.runs["2026-Q3"])


def _lines(office: Office, period: str) -> list[dict[str, Any]]:
    body, _ = payroll_lines(office.db, FullPages(), period, None, 5000, "json")
    office.db.rollback()
    found: list[dict[str, Any]] = json.loads(body)["lines"]
    return found


@then(parsers.re(r"工资单中 (?P<period>\S+) 共有 (?P<count>\d+) 行，合计 (?P<total>[\d.]+) 元"))
def payroll_has(office: Office, period: str, count: str, total: str) -> None:
    found = _lines(office, period)
    assert len(found) == int(count) and len({ln["line_id"] for ln in found}) == int(count)
    assert sum(Decimal(ln["amount"]) for ln in found) == Decimal(total)


@then(parsers.re(r"(?P<name>\S+) 获得 (?P<label>\S+) (?P<amount>[\d.]+) 元，只出现一次"))
def award_once(office: Office, name: str, label: str, amount: str) -> None:
    found = [ln for ln in _lines(office, "2026-Q3") if ln["name"] == name and ln["label"] == label]
    assert [(ln["amount"], ln["period"]) for ln in found] == [(amount, "2026-Q3")]


@then(parsers.re(r"(?P<name>\S+) 没有 (?P<label>\S+)$"))
def no_award(office: Office, name: str, label: str) -> None:
    assert not [ln for ln in _lines(office, "2026-Q3") if ln["name"] == name and ln["label"] == label]
