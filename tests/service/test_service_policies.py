"""Policy versions over HTTP: validation by the engine, ETag/If-Match, immutability, diff."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from service_testkit import Tokens, policy_text, published_run, put_policy

URL = "/policies/sales-incentive/versions/2026-Q3"


def test_put_then_read_back_the_exact_yaml_with_its_etag(app_client: TestClient, tokens: Tokens) -> None:
    put = put_policy(app_client, tokens)
    assert put.status_code == 201, put.text
    etag = put.headers["etag"]
    assert etag == f'"{hashlib.sha256(policy_text().encode()).hexdigest()}"'  # the bytes GET serves
    assert put.json()["objection_days"] == 3 and put.json()["effective_from"] == "2026-07"
    got = app_client.get(URL, headers=tokens["rep_r1"])
    assert got.status_code == 200 and got.headers["etag"] == etag
    assert got.text == policy_text()
    assert got.headers["content-type"].startswith("application/yaml")
    assert app_client.get(URL, headers={**tokens["rep_r1"], "If-None-Match": etag}).status_code == 304
    listed = app_client.get("/policies", headers=tokens["payroll"]).json()["policies"]
    assert [(p["policy_id"], [v["version"] for v in p["versions"]]) for p in listed] == [
        ("sales-incentive", ["2026-Q3"])
    ]


def test_head_answers_like_get_without_the_body(app_client: TestClient, tokens: Tokens) -> None:
    etag = put_policy(app_client, tokens).headers["etag"]
    head = app_client.head(URL, headers=tokens["payroll"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == etag
    assert int(head.headers["content-length"]) == len(policy_text().encode())
    assert app_client.head(URL).status_code == 401  # the same checks as GET, token first
    assert app_client.head(URL.replace("2026-Q3", "2026-Q5"), headers=tokens["hr"]).status_code == 404
    assert app_client.head(URL, headers={**tokens["hr"], "If-None-Match": etag}).status_code == 304


def test_editing_needs_the_current_etag(app_client: TestClient, tokens: Tokens) -> None:
    etag = put_policy(app_client, tokens).headers["etag"]
    edited = policy_text().replace("title: 销售激励方案 Sales incentive plan", "title: 销售激励方案 (rev)")
    body = edited.encode()
    hr = {**tokens["hr"], "Content-Type": "application/yaml"}
    missing = app_client.put(URL, content=body, headers=hr)
    assert missing.status_code == 428 and missing.json()["type"].endswith("/if-match-required")
    stale = app_client.put(URL, content=body, headers={**hr, "If-Match": '"' + "0" * 64 + '"'})
    assert stale.status_code == 412 and stale.json()["type"].endswith("/stale-etag")
    absent = app_client.put(URL.replace("2026-Q3", "2026-Q5"), content=body, headers={**hr, "If-Match": etag})
    assert absent.status_code == 412  # If-Match on a version that does not exist cannot match
    ok = app_client.put(URL, content=body, headers={**hr, "If-Match": etag})
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    # a second editor who read the old version loses instead of overwriting
    again = app_client.put(URL, content=policy_text().encode(), headers={**tokens["hr2"], "If-Match": etag})
    assert again.status_code == 412
    assert app_client.get(URL, headers=tokens["hr"]).text == edited
    audit = app_client.get("/audit", headers=tokens["hr"]).json()["entries"]
    update = [e for e in audit if e["action"] == "policy.update"]
    assert [(e["before_sha256"], e["after_sha256"]) for e in update] == [
        (etag.strip('"'), ok.headers["etag"].strip('"'))
    ]


def test_a_version_used_by_a_published_run_is_frozen(app_client: TestClient, tokens: Tokens) -> None:
    published_run(app_client, tokens)
    etag = app_client.get(URL, headers=tokens["hr"]).headers["etag"]
    r = put_policy(app_client, tokens, **{"If-Match": etag})
    assert r.status_code == 409 and r.json()["type"].endswith("/policy-version-immutable")
    versions = app_client.get("/policies/sales-incentive/versions", headers=tokens["hr"]).json()["versions"]
    assert versions[0]["locked"] is True


def test_publishing_a_run_of_an_edited_version_is_refused(app_client: TestClient, tokens: Tokens) -> None:
    from service_testkit import draft_run

    run = draft_run(app_client, tokens)
    etag = app_client.get(URL, headers=tokens["hr"]).headers["etag"]
    edited = policy_text().replace("title: 销售激励方案 Sales incentive plan", "title: 销售激励方案 (rev)")
    assert app_client.put(URL, content=edited.encode(), headers={**tokens["hr"], "If-Match": etag}).status_code == 200
    r = app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"])
    assert r.status_code == 409 and r.json()["type"].endswith("/policy-changed")


def _problems(r: object) -> list[dict[str, object]]:
    return r.json()["problems"]  # type: ignore[attr-defined, no-any-return]


def test_invalid_policy_gets_422_with_every_problem_located(app_client: TestClient, tokens: Tokens) -> None:
    # Two mistakes: the advanced tier pays 200% (a rate must lie in [0, 1]) and the follow-up KPI weighs
    # 0.30, so the weights add up to 0.50 + 0.20 + 0.20 + 0.30 = 1.20 instead of 1.
    bad = policy_text().replace('rate: "0.02"', 'rate: "2"').replace('weight: "0.10"', 'weight: "0.30"')
    lines = bad.splitlines()
    rate_line = next(i for i, ln in enumerate(lines, 1) if 'rate: "2"' in ln)
    kpis_line = next(i for i, ln in enumerate(lines, 1) if "metric: achievement" in ln and "weight" in ln)
    r = app_client.put(URL, content=bad.encode(), headers=tokens["hr"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/invalid-policy") and "Traceback" not in r.text
    assert [(p["line"], p["field"]) for p in body["problems"]] == [
        (rate_line, "commission.tiers[1].rate"),  # tiers[0] is the basic tier, [1] the advanced one
        (kpis_line, "scorecard.kpis"),
    ]
    assert body["problems"][0]["column"] == lines[rate_line - 1].index('"2"') + 1  # at the value
    assert "1.2" in body["problems"][1]["message"]
    assert app_client.get("/policies", headers=tokens["hr"]).json() == {"policies": []}


_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefghi", "bcdefghij", strict=True)
)  # j would expand to 10**10 scalars


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("id: !!python/object/apply:os.system ['echo pwned']\n", 1, "explicit tags"),
        ("id: sales-incentive\ntitle: !include /etc/passwd\n", 2, "explicit tags"),
        ("id: sales-incentive\nnote: !!binary aGVsbG8=\n", 2, "explicit tags"),
        (_BOMB, 2, "aliases"),
        ("id: [unclosed\n", None, ""),
    ],
    ids=["python-tag", "custom-tag", "binary-tag", "alias-bomb", "syntax"],
)
def test_unsafe_or_broken_yaml_is_refused(
    app_client: TestClient, tokens: Tokens, text: str, line: int | None, says: str
) -> None:
    r = app_client.put(URL, content=text.encode(), headers=tokens["hr"])
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-policy")
    problems = r.json()["problems"]
    assert problems and all(p["source"] == "sales-incentive/2026-Q3" for p in problems)
    if line is not None:
        first = next(p for p in problems if says in p["message"])
        assert first["line"] == line, problems
    assert app_client.get("/policies", headers=tokens["hr"]).json() == {"policies": []}


def test_url_must_match_the_yaml(app_client: TestClient, tokens: Tokens) -> None:
    r = app_client.put(
        "/policies/sales-incentive/versions/2026-Q9", content=policy_text().encode(), headers=tokens["hr"]
    )
    assert r.status_code == 422
    assert [p["field"] for p in _problems(r)] == ["version"]


def test_not_utf8_and_too_large(app_client: TestClient, tokens: Tokens) -> None:
    r = app_client.put(URL, content=b"id: \xff\xfe", headers=tokens["hr"])
    assert r.status_code == 422
    big = app_client.put(URL, content=b"#" * (300 * 1024), headers=tokens["hr"])
    assert big.status_code == 413


def test_semantic_diff_between_versions(app_client: TestClient, tokens: Tokens) -> None:
    put_policy(app_client, tokens)
    assert put_policy(app_client, tokens, "2026-Q4").status_code == 201
    r = app_client.get("/policies/sales-incentive/diff?from=2026-Q3&to=2026-Q4", headers=tokens["manager_east"])
    assert r.status_code == 200
    body = r.json()
    assert body["from"]["version"] == "2026-Q3" and body["to"]["version"] == "2026-Q4"
    assert any("conversion" in line for line in body["changes"]), body["changes"]
    missing = app_client.get("/policies/sales-incentive/diff?from=2026-Q3&to=2027-Q1", headers=tokens["hr"])
    assert missing.status_code == 404


def test_acceptance_scenarios_gate_new_versions(app_client: TestClient, tokens: Tokens, real_acceptance: None) -> None:
    # The shipped versions pass HR's scenarios...
    shipped = put_policy(app_client, tokens)
    assert shipped.status_code == 201, shipped.text
    # ...which pin the handbook: 2% at >= 100%. A version paying 2.5% must be refused.
    broken = policy_text("2026-Q4").replace('rate: "0.02"', 'rate: "0.025"')
    r = app_client.put("/policies/sales-incentive/versions/2026-Q4", content=broken.encode(), headers=tokens["hr"])
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/acceptance-failed") and r.json()["problems"]
    assert all(p["field"] == "acceptance" for p in r.json()["problems"])
    assert (
        app_client.get("/policies/sales-incentive/versions", headers=tokens["hr"]).json()["versions"][0]["version"]
        == "2026-Q3"
    )


def test_sha256_is_the_engines_content_hash(app_client: TestClient, tokens: Tokens) -> None:
    from engine.frontend import parse_policy

    put = put_policy(app_client, tokens)
    assert put.json()["sha256"] == parse_policy(policy_text(), "x").sha256
    got = app_client.get(URL, headers=tokens["hr"])
    assert got.headers["merit-policy-sha256"] == put.json()["sha256"]


def test_a_comment_only_edit_is_kept_and_does_not_invalidate_runs(app_client: TestClient, tokens: Tokens) -> None:
    from service_testkit import draft_run

    run = draft_run(app_client, tokens)
    got = app_client.get(URL, headers=tokens["hr"])
    commented = "# reviewed by HR 2026-09-01\n" + got.text
    r = app_client.put(URL, content=commented.encode(), headers={**tokens["hr"], "If-Match": got.headers["etag"]})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] != got.headers["etag"] and r.json()["sha256"] == run["policy"]["sha256"]
    assert app_client.get(URL, headers=tokens["hr"]).text == commented
    # same content hash: the draft evaluated before the comment can still be published
    assert app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"]).status_code == 200
