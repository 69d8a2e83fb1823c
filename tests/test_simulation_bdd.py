"""Step bindings for features/simulation (manager-style what-if scenarios, numbers by hand)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from engine.facts import facts_from_records
from engine.problems import MeritInputError
from runtime.policies import load_policy_file
from service.simulations.service import simulate

ROOT = Path(__file__).resolve().parent.parent

scenarios("simulation")


@pytest.fixture
def ctx() -> dict:
    return {}


@given("the shipped sales-incentive policy")
def shipped_policy(ctx):
    ctx["policy"] = load_policy_file(ROOT / "policies" / "sales-incentive" / "2026-Q3.yaml")


@given(parsers.parse("these facts for {month}:"))
def these_facts(ctx, month, datatable):
    header, *rows = datatable
    ctx["facts"] = facts_from_records([{**dict(zip(header, r, strict=True)), "period": month} for r in rows], "table")


def _simulate(ctx, month, edits=(), quotas=()):
    """The same use case `merit simulate` and `POST /simulations` call."""
    try:
        whatif = simulate(ctx["policy"], ctx["facts"], month, sets=list(edits), quotas=list(quotas))
        ctx["result"] = whatif.result
        ctx["data"] = whatif.as_dict()
    except MeritInputError as exc:
        ctx["error"] = exc


@when(parsers.re(r'the manager simulates (?P<month>\S+) with "(?P<a>[^"]+)" and "(?P<b>[^"]+)"'))
def simulate_two(ctx, month, a, b):
    _simulate(ctx, month, edits=(a, b))


@when(parsers.re(r'the manager simulates (?P<month>\S+) with "(?P<edit>[^"]+)"$'))
def simulate_edit(ctx, month, edit):
    _simulate(ctx, month, edits=(edit,))


@when(parsers.parse('the manager simulates {month} with quota "{quota}"'))
def simulate_quota(ctx, month, quota):
    _simulate(ctx, month, quotas=(quota,))


@then(parsers.parse("August would cost {before} before and {after} after"))
def cost_before_after(ctx, before, after):
    assert ctx["data"]["totals"]["baseline"] == before
    assert ctx["data"]["totals"]["scenario"] == after


@then(parsers.parse("it would cost {amount} less"))
def cost_less(ctx, amount):
    assert Decimal(ctx["data"]["totals"]["delta"]) == -Decimal(amount)


@then(parsers.re(r"(?P<n>\d+) reps? would move from (?P<a>\w+) to (?P<b>\w+)"))
def moved(ctx, n, a, b):
    assert ctx["result"].moved(a, b) == int(n)


@then(parsers.re(r'(?P<rep>\w+) would get (?P<amount>[\d.]+) less because "(?P<why>[^"]+)"'))
def rep_less_because(ctx, rep, amount, why):
    (d,) = [d for d in ctx["data"]["differences"] if d["rep_id"] == rep]
    assert Decimal(d["delta"]) == -Decimal(amount)
    assert why in d["reasons"]


@then(parsers.re(r"(?P<rep>\w+) would get (?P<amount>[\d.]+) less$"))
def rep_less(ctx, rep, amount):
    (d,) = [d for d in ctx["data"]["differences"] if d["rep_id"] == rep]
    assert Decimal(d["delta"]) == -Decimal(amount)


@then(parsers.parse('the simulation is refused with "{message}"'))
def refused(ctx, message):
    assert "error" in ctx, "the simulation was not refused"
    assert any(message in p.message for p in ctx["error"].problems)
