"""Step bindings for tests/service/features/versions-and-tokens.feature (issue 12: an overlapping
version refused, a revoked token refused), through the real API on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pytest_bdd import given, parsers, scenarios, then, when
from service_testkit import AUGUST, Clock, Tokens, import_facts, policy_text

pytestmark = pytest.mark.usefixtures("database_url")  # SQLite, and PostgreSQL when configured

scenarios(str(Path(__file__).resolve().parent / "features" / "versions-and-tokens.feature"))

POLICY = "sales-incentive"


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {}


def _version(version: str, first: str, last: str) -> bytes:
    text = policy_text()
    text = re.sub(r"(?m)^version: .*$", f"version: {version}", text)
    text = re.sub(r"(?m)^effective_from: .*$", f"effective_from: {first}", text)
    text = re.sub(r"(?m)^effective_to: .*$", f"effective_to: {last}", text)
    return text.encode("utf-8")


def _put(client: TestClient, tokens: Tokens, version: str, first: str, last: str) -> Any:
    return client.put(
        f"/policies/{POLICY}/versions/{version}",
        content=_version(version, first, last),
        headers={**tokens["hr"], "Content-Type": "application/yaml"},
    )


# ------------------------------------------------------------------ versions
@given(parsers.parse("HR 已上传 {version} 版激励方案，生效月份为 {first} 至 {last}"))
def stored(app_client: TestClient, tokens: Tokens, version: str, first: str, last: str) -> None:
    res = _put(app_client, tokens, version, first, last)
    assert res.status_code == 201, res.text


@when(parsers.parse("HR 上传 {version} 版激励方案，生效月份为 {first} 至 {last}"))
def upload(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], version: str, first: str, last: str) -> None:
    ctx["answer"] = _put(app_client, tokens, version, first, last)


@then(parsers.parse("上传被拒绝，说明 {new}（{new_span}）与 {old}（{old_span}）重叠"))
def refused_overlap(ctx: dict[str, Any], new: str, new_span: str, old: str, old_span: str) -> None:
    res = ctx["answer"]
    assert res.status_code == 409, res.text
    problem = res.json()
    assert problem["type"].endswith("/policy-versions-overlap")
    assert f"{POLICY} {new} ({new_span}) overlaps {old} ({old_span})" in problem["detail"], problem["detail"]
    assert problem["versions"] == [new, old]


@then(parsers.parse("服务里 {policy} 仍只有 {version} 一个版本"))
def only_version(app_client: TestClient, tokens: Tokens, policy: str, version: str) -> None:
    listed = app_client.get(f"/policies/{policy}/versions", headers=tokens["hr"]).json()["versions"]
    assert [v["version"] for v in listed] == [version]


@then(parsers.parse("{period} 仍按 {version} 版方案核算"))
def evaluated_with(app_client: TestClient, tokens: Tokens, period: str, version: str) -> None:
    imp = import_facts(app_client, tokens, AUGUST.replace(b"2026-08", period.encode()), f"{period}.csv").json()
    body = {"policy_id": POLICY, "period": period, "fact_import_id": imp["id"]}
    run = app_client.post("/runs", json=body, headers=tokens["hr"])
    assert run.status_code == 201, run.text
    assert run.json()["policy"]["version"] == version


# ------------------------------------------------------------------ tokens
@given(parsers.parse("HR 小张 为销售 {name}（{rep_id}）发了令牌"))
def rep_token(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], name: str, rep_id: str) -> None:
    assert import_facts(app_client, tokens).status_code == 201  # AUGUST names R1, R2, R3
    made = app_client.post("/tokens", json={"role": "rep", "name": name, "rep_id": rep_id}, headers=tokens["hr"])
    assert made.status_code == 201, made.text
    ctx["token"] = made.json()


@given(parsers.parse("{name} 用这个令牌能看到核算批次"))
def token_works(app_client: TestClient, ctx: dict[str, Any], name: str) -> None:
    assert ctx["token"]["name"] == name
    assert app_client.get("/runs", headers={"Authorization": f"Bearer {ctx['token']['token']}"}).status_code == 200


@when(parsers.parse("一小时后 HR 小张 吊销了 {name} 的令牌"))
def revoke(app_client: TestClient, tokens: Tokens, clock: Clock, ctx: dict[str, Any], name: str) -> None:
    assert ctx["token"]["name"] == name
    clock.advance(hours=1)
    gone = app_client.delete(f"/tokens/{ctx['token']['id']}", headers=tokens["hr"])
    assert gone.status_code == 200 and gone.json()["status"] == "revoked", gone.text


@then(parsers.parse("{name} 再用这个令牌被拒绝，说明令牌已于 {when} 吊销"))
def refused_token(app_client: TestClient, ctx: dict[str, Any], name: str, when: str) -> None:
    res = app_client.get("/runs", headers={"Authorization": f"Bearer {ctx['token']['token']}"})
    assert res.status_code == 401, res.text
    assert res.json()["detail"] == f"token revoked at {when}"


@then(parsers.parse("审计日志记下 {actor} 吊销了 {name} 的令牌"))
def audited(app_client: TestClient, tokens: Tokens, ctx: dict[str, Any], actor: str, name: str) -> None:
    entries = app_client.get("/audit?action=token.revoke", headers=tokens["hr"]).json()["entries"]
    assert [(e["actor"], e["target"], e["detail"]["name"]) for e in entries] == [
        (actor, f"token:{ctx['token']['id']}", name)
    ]
