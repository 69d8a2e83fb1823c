"""The audit log: every write, with who, role, what, when and before/after hashes, in order.

The hashes are recomputed here from what the API returned (docs/service.md: a policy's YAML bytes,
a fact file's bytes, and for runs and objections the sha256 of their JSON document with sorted keys,
no spaces, UTF-8), so an entry's `after` is checkable by anyone holding the document, and its
`before` is the previous entry's `after` for the same target.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi.testclient import TestClient
from service_testkit import AUGUST, AUGUST_CORRECTED, Clock, Tokens, import_facts, policy_text, put_policy


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def doc_hash(document: dict[str, Any]) -> str:
    return sha(json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def test_every_write_is_audited_with_checkable_hashes(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    hr, t0 = tokens["hr"], clock.now
    assert put_policy(app_client, tokens).status_code == 201
    imp = import_facts(app_client, tokens).json()
    run = app_client.post(
        "/runs", json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp["id"]}, headers=hr
    ).json()
    clock.advance(hours=1)
    published = app_client.post(f"/runs/{run['id']}/publish", headers=hr).json()
    o1 = app_client.post(
        f"/runs/{run['id']}/objections", json={"rep_id": "R2", "reason": "82000"}, headers=tokens["rep_r2"]
    ).json()
    o2 = app_client.post(
        f"/runs/{run['id']}/objections", json={"rep_id": "R1", "reason": "region"}, headers=tokens["manager_east"]
    ).json()
    fixed = import_facts(app_client, tokens, AUGUST_CORRECTED, "fixed.csv").json()
    clock.advance(hours=1)
    accepted = app_client.post(
        f"/objections/{o1['id']}/resolve",
        json={"decision": "accepted", "note": "ok", "fact_import_id": fixed["id"]},
        headers=hr,
    ).json()
    new = accepted["new_run"]
    superseded = app_client.get(f"/runs/{run['id']}", headers=hr).json()
    moved = app_client.get(f"/objections/{o2['id']}", headers=hr).json()
    rejected = app_client.post(
        f"/objections/{o2['id']}/resolve", json={"decision": "rejected", "note": "no"}, headers=tokens["hr2"]
    ).json()["objection"]
    clock.advance(days=4)
    finalized = app_client.post(f"/runs/{new['id']}/finalize", headers=hr).json()

    entries = app_client.get("/audit", headers=hr).json()["entries"]
    got = [
        (e["action"], e["target"], e["actor"], e["role"], e["at"], e["before_sha256"], e["after_sha256"])
        for e in entries
    ]
    # the corrected run is created a draft and published by accepting the objection, in one request
    unpublished = {"status": "draft", "published_at": None, "published_by": None, "objection_deadline": None}
    new_draft = {**new, **unpublished}
    at0, at1, at2, at3 = (t.isoformat() for t in (t0, t0.replace(hour=10), t0.replace(hour=11), clock.now))
    r, n, p1, p2 = f"run:{run['id']}", f"run:{new['id']}", f"objection:{o1['id']}", f"objection:{o2['id']}"
    assert got == [
        ("policy.create", "policy:sales-incentive/2026-Q3", "HR 小张", "hr", at0, None, sha(policy_text().encode())),
        ("facts.import", f"fact-import:{imp['id']}", "HR 小张", "hr", at0, None, sha(AUGUST)),
        ("run.create", r, "HR 小张", "hr", at0, None, doc_hash(run)),
        ("run.publish", r, "HR 小张", "hr", at1, doc_hash(run), doc_hash(published)),
        ("objection.create", p1, "李四", "rep", at1, None, doc_hash(o1)),
        ("objection.create", p2, "王经理", "manager", at1, None, doc_hash(o2)),
        ("facts.import", f"fact-import:{fixed['id']}", "HR 小张", "hr", at1, None, sha(AUGUST_CORRECTED)),
        ("run.create", n, "HR 小张", "hr", at2, None, doc_hash(new_draft)),
        ("run.publish", n, "HR 小张", "hr", at2, doc_hash(new_draft), doc_hash(new)),
        ("run.supersede", r, "HR 小张", "hr", at2, doc_hash(published), doc_hash(superseded)),
        ("objection.move", p2, "HR 小张", "hr", at2, doc_hash(o2), doc_hash(moved)),
        ("objection.accepted", p1, "HR 小张", "hr", at2, doc_hash(o1), doc_hash(accepted["objection"])),
        ("objection.rejected", p2, "HR 小李", "hr", at2, doc_hash(moved), doc_hash(rejected)),
        ("run.finalize", n, "HR 小张", "hr", at3, doc_hash(new), doc_hash(finalized)),
    ]
    # every entry names the token used (not the token itself)
    assert all(isinstance(e["token_id"], int) for e in entries)
    assert not any(v in json.dumps(entries, ensure_ascii=False) for v in tokens.values.values())
    # the details say what changed in words a reviewer can follow
    by_action = {e["action"]: e["detail"] for e in entries}
    assert by_action["run.supersede"]["new_run_id"] == new["id"]
    publishes = [e for e in entries if e["action"] == "run.publish"]
    assert [e["detail"]["results_sha256"] for e in publishes] == [run["results_sha256"], new["results_sha256"]]
    # the publish an accepted objection makes says which run it supersedes
    assert [e["detail"].get("supersedes") for e in publishes] == [None, run["id"]]


def test_reads_are_not_audited_and_the_log_pages(app_client: TestClient, tokens: Tokens) -> None:
    hr = tokens["hr"]
    put_policy(app_client, tokens)
    for i in range(4):
        import_facts(app_client, tokens, AUGUST.replace(b"70000", str(70000 + i).encode()), f"f{i}.csv")
    for path in ("/policies", "/fact-imports", "/runs", "/audit"):
        app_client.get(path, headers=hr)
    everything = app_client.get("/audit", headers=hr).json()
    assert [e["action"] for e in everything["entries"]] == ["policy.create"] + ["facts.import"] * 4
    assert everything["next_cursor"] is None
    pages, cursor = [], None
    while True:
        page = app_client.get("/audit", params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=hr)
        pages.append([e["id"] for e in page.json()["entries"]])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    ids = [e["id"] for e in everything["entries"]]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]
    only = app_client.get("/audit?action=policy.create", headers=hr).json()["entries"]
    assert [e["id"] for e in only] == ids[:1]
