"""GET /runs/{id}/statements/{rep_id} and GET /runs/{id}/notice: who may read which, on SQLite and
PostgreSQL, and what they say (figures by hand from service_testkit.AUGUST)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_testkit import REPO, Clock, Tokens, draft_run, facts_csv, published_run, serve_in_thread

# AUGUST (service_testkit): R1 张三 East 105000/100000 = 105% -> 2% x 105000 = 2100 + bonus 1000;
# next tier sprint (120%): 120000 - 105000 = 15000. R2 李四 East 70% -> red, no tier; basic (80%):
# 80000 - 70000 = 10000. R3 王五 South 125% -> 3% x 125000 = 3750 + 3000 + South's 500 (125% >= 110%).


def text_of(page: str) -> str:
    return re.sub(r"<[^>]+>", "", page)


def test_statement_scope(app_client: TestClient, tokens: Tokens) -> None:
    run = published_run(app_client, tokens)["id"]

    def get(who: str, rep: str, **params: str) -> int:
        return app_client.get(f"/runs/{run}/statements/{rep}", headers=tokens[who], params=params).status_code

    # HR: everyone; a rep: their own; a manager: their region's; payroll: nobody
    assert [get("hr", r) for r in ("R1", "R2", "R3")] == [200, 200, 200]
    assert [get("rep_r1", r) for r in ("R1", "R2", "R3")] == [200, 403, 403]
    assert [get("manager_east", r) for r in ("R1", "R2", "R3")] == [200, 200, 403]
    assert [get("manager_south", r) for r in ("R1", "R2", "R3")] == [403, 403, 200]
    assert [get("payroll", r) for r in ("R1", "R3")] == [403, 403]
    assert get("hr", "R9") == 404
    assert get("rep_r1", "R9") == 403  # a rep learns nothing of other ids
    assert get("hr", "R1", format="docx") == 422
    assert get("hr", "R1", lang="fr") == 422
    assert app_client.get(f"/runs/{run}/statements/R1").status_code == 401


def test_statement_content_html_and_pdf(app_client: TestClient, tokens: Tokens) -> None:
    run = published_run(app_client, tokens)["id"]
    res = app_client.get(f"/runs/{run}/statements/R1", headers=tokens["rep_r1"])
    assert res.headers["content-type"].startswith("text/html")
    page = text_of(res.text)
    for expected in (
        "张三",
        "目标 ¥100,000.00，实际完成 ¥105,000.00。",
        "提成：¥105,000.00 × 2% = ¥2,100.00。",
        "奖金：¥1,000.00。",
        "再完成 ¥15,000.00 即达冲刺卓越奖（3% + ¥3,000）。",
        "提成 ¥2,100.00 + 奖金 ¥1,000.00 + 奖励 ¥0.00 = ¥3,100.00。",
    ):
        assert expected in page, expected
    en = text_of(app_client.get(f"/runs/{run}/statements/R2", headers=tokens["hr"], params={"lang": "en"}).text)
    assert "CN¥10,000.00 more reaches 基础达标奖 (1.5%)." in en
    pdf = app_client.get(f"/runs/{run}/statements/R3", headers=tokens["manager_south"], params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader

    extracted = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages))
    assert "王五" in extracted
    assert "提成：¥125,000.00×3%=¥3,750.00。" in extracted  # 3% x 125000
    assert "团队协作奖（2026-08）：¥500.00。" in extracted


def test_draft_statements_are_hr_only_and_a_draft_has_no_notice(app_client: TestClient, tokens: Tokens) -> None:
    run = draft_run(app_client, tokens)["id"]
    assert app_client.get(f"/runs/{run}/statements/R1", headers=tokens["hr"]).status_code == 200
    assert app_client.get(f"/runs/{run}/statements/R1", headers=tokens["rep_r1"]).status_code == 403
    assert app_client.get(f"/runs/{run}/statements/R1", headers=tokens["manager_east"]).status_code == 403
    res = app_client.get(f"/runs/{run}/notice", headers=tokens["hr"])
    assert res.status_code == 409 and res.json()["type"].endswith("run-not-published")


def test_notice_scope_and_deadlines(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    # The fact import and the publication happen at the clock's 2026-09-05 09:00 UTC = 17:00 in
    # Shanghai (a Saturday): objections until 09-08 17:00; three working days after Sat 09-05 are
    # Mon 09-07, Tue 09-08, Wed 09-09 -> publish by 2026-09-09, published 09-05: in time.
    run = published_run(app_client, tokens)["id"]
    hr = text_of(app_client.get(f"/runs/{run}/notice", headers=tokens["hr"]).text)
    for expected in ("张三", "李四", "王五", "2026-09-08 17:00 (Asia/Shanghai)", "最迟 2026-09-09", "按时"):
        assert expected in hr, expected
    east = text_of(app_client.get(f"/runs/{run}/notice", headers=tokens["manager_east"]).text)
    assert "张三" in east and "李四" in east and "王五" not in east and "公示时限" not in east
    assert app_client.get(f"/runs/{run}/notice", headers=tokens["rep_r1"]).status_code == 403
    assert app_client.get(f"/runs/{run}/notice", headers=tokens["payroll"]).status_code == 403
    pdf = app_client.get(f"/runs/{run}/notice", headers=tokens["hr"], params={"format": "pdf", "lang": "en"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_notice_in_another_time_zone(app_client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> None:
    run = published_run(app_client, tokens)["id"]
    monkeypatch.setenv("MERIT_TIMEZONE", "UTC")  # the objection deadline 2026-09-08 09:00 UTC as it is
    page = text_of(app_client.get(f"/runs/{run}/notice", headers=tokens["hr"], params={"lang": "en"}).text)
    assert "2026-09-08 09:00 (UTC)" in page


def test_notice_deadline_across_national_day(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    # Figures imported 2026-09-30 10:00 in Shanghai; published 2026-10-10 (an adjusted working
    # Saturday, the third working day after 09-30: 10-08, 10-09, 10-10): still in time.
    clock.now = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    run = draft_run(app_client, tokens)["id"]
    clock.now = datetime(2026, 10, 10, 1, 0, tzinfo=UTC)
    assert app_client.post(f"/runs/{run}/publish", headers=tokens["hr"]).status_code == 200
    page = text_of(app_client.get(f"/runs/{run}/notice", headers=tokens["hr"]).text)
    assert "数据于 2026-09-30 截止" in page and "最迟 2026-10-10" in page
    assert "计入（周末调休上班日）：2026-10-10。" in page and "实际公示日 2026-10-10：按时。" in page


def test_cli_notice_reads_the_run_from_the_database(
    app_client: TestClient, tokens: Tokens, database_url: str, tmp_path: Path
) -> None:
    published = published_run(app_client, tokens)["id"]
    env = {k: v for k, v in os.environ.items() if k != "MERIT_TIMEZONE"}

    def merit(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "service.cli", "notice", "--database-url", database_url, *args]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)

    done = merit("--run", str(published), "--format", "text")
    assert done.returncode == 0, done.stderr
    for expected in ("销售激励结果公示", "张三", "王五", "2026-09-08 17:00 (Asia/Shanghai)", "最迟 2026-09-09"):
        assert expected in done.stdout, expected
    out = tmp_path / "notice.pdf"
    assert merit("--run", str(published), "--output", str(out), "--lang", "en").returncode == 0
    assert out.read_bytes().startswith(b"%PDF")
    missing = merit("--run", "999")
    assert missing.returncode == 1 and "--run: 999: there is no such run" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_zone = merit("--run", str(published), "--timezone", "Mars/Olympus")
    assert bad_zone.returncode == 1 and "IANA" in bad_zone.stderr


def test_statement_pdf_over_a_real_http_server(app_client: TestClient, tokens: Tokens) -> None:
    import httpx
    from pypdf import PdfReader

    run = published_run(app_client, tokens)["id"]
    with serve_in_thread(app_client.app) as base:
        res = httpx.get(
            f"{base}/runs/{run}/statements/R2", headers=tokens["rep_r2"], params={"format": "pdf"}, timeout=60
        )
    assert res.status_code == 200 and res.headers["content-type"] == "application/pdf"
    assert 'filename="statement-' in res.headers["content-disposition"]
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(res.content)).pages))
    # 李四 70000 / 100000 = 70%: red, no tier; basic at 80%: 80000 - 70000 = 10000 more
    assert "李四" in text and "红灯" in text and "再完成¥10,000.00即达基础达标奖（1.5%）。" in text


def test_figures_that_differ_from_the_stored_results_are_refused(
    app_client: TestClient, tokens: Tokens, database_url: str
) -> None:
    """Should evaluating a run's inputs again ever give other figures than it published (an engine
    changed since), no statement or notice shows them: here the stored results are altered instead."""
    import hashlib
    import json

    from sqlalchemy import update

    from service.db import make_engine, make_sessionmaker
    from service.db.models import Run

    run = published_run(app_client, tokens)["id"]
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as db:
            stored = db.get(Run, run)
            assert stored is not None
            doc = json.loads(stored.results_json)
            r1 = next(line for line in doc["results"] if line["rep_id"] == "R1")
            r1["total"] = "3100.01"  # was 3100.00
            raw = json.dumps(doc, ensure_ascii=False).encode()
            db.execute(
                update(Run)
                .where(Run.id == run)
                .values(results_json=raw, results_sha256=hashlib.sha256(raw).hexdigest())
            )
            db.commit()
    finally:
        engine.dispose()
    res = app_client.get(f"/runs/{run}/statements/R1", headers=tokens["hr"])
    assert res.status_code == 500 and "other figures for R1" in res.json()["detail"]
    assert app_client.get(f"/runs/{run}/statements/R2", headers=tokens["hr"]).status_code == 200  # R2 unchanged
    assert app_client.get(f"/runs/{run}/notice", headers=tokens["hr"]).status_code == 500
    assert app_client.get(f"/runs/{run}/notice", headers=tokens["manager_south"]).status_code == 200  # R3 only


def test_notice_of_a_superseded_run_says_so(app_client: TestClient, tokens: Tokens) -> None:
    # R2 objects; HR accepts with corrected facts: run 2 supersedes run 1, whose notice says so
    from service_testkit import AUGUST_CORRECTED, import_facts

    run = published_run(app_client, tokens)["id"]
    obj = app_client.post(f"/runs/{run}/objections", json={"rep_id": "R2", "reason": "82000"}, headers=tokens["rep_r2"])
    assert obj.status_code == 201, obj.text
    corrected = import_facts(app_client, tokens, AUGUST_CORRECTED, "corrected.csv").json()["id"]
    body = {"decision": "accepted", "note": "ok", "fact_import_id": corrected}
    resolved = app_client.post(f"/objections/{obj.json()['id']}/resolve", json=body, headers=tokens["hr"])
    assert resolved.status_code == 200, resolved.text
    new_run = app_client.get(f"/runs/{run}", headers=tokens["hr"]).json()["superseded_by"]
    old = text_of(app_client.get(f"/runs/{run}/notice", headers=tokens["hr"]).text)
    assert f"已更正：以核算 {new_run} 为准" in old
    new = text_of(app_client.get(f"/runs/{new_run}/notice", headers=tokens["hr"]).text)
    assert "已公示" in new
    # R2 at 82%: basic, 1.5% x 82000 = 1230.00; advanced at 100%: 100000 - 82000 = 18000 more
    statement = text_of(app_client.get(f"/runs/{new_run}/statements/R2", headers=tokens["rep_r2"]).text)
    assert "提成：¥82,000.00 × 1.5% = ¥1,230.00。" in statement
    assert "再完成 ¥18,000.00 即达进阶激励奖（2% + ¥1,000）。" in statement


def test_a_reps_statement_shows_no_team_wide_figures(app_client: TestClient, tokens: Tokens) -> None:
    """As in their results (hostile review): R1's own statement keeps the team award's rule and outcome
    but not East's sums (R1 105000 + R2 70000 = 175000 of 200000); HR's copy shows them."""
    run = published_run(app_client, tokens)["id"]
    own = text_of(app_client.get(f"/runs/{run}/statements/R1", headers=tokens["rep_r1"]).text)
    hrs = text_of(app_client.get(f"/runs/{run}/statements/R1", headers=tokens["hr"]).text)
    assert "175000.00" in hrs and "175000.00" not in own
    assert "decided on team-wide figures" in own


def test_a_rep_id_in_any_script_names_the_file_safely(app_client: TestClient, tokens: Tokens) -> None:
    """A rep id is text from a fact file: the download's name is ASCII plus its UTF-8 form, never a
    header to break (hostile review: 销售12 gave a 500, a quote in an id injected a parameter)."""
    data = facts_csv(
        [("销售12", "张三", "East", "2026-08", 100000, 105000), ('R0"10;x=1', "李四", "East", "2026-08", 1, 1)]
    )
    run = draft_run(app_client, tokens, data)["id"]
    for rep, encoded in (("销售12", "%E9%94%80%E5%94%AE12"), ('R0"10;x=1', "R0%2210%3Bx%3D1")):
        res = app_client.get(f"/runs/{run}/statements/{encoded}", headers=tokens["hr"])
        assert res.status_code == 200, res.text
        disposition = res.headers["content-disposition"]
        assert disposition.count('"') == 2 and ";x=1" not in disposition
        assert f"filename*=UTF-8''statement-{run}-{encoded}-2026-08.html" in disposition
        assert "张三" in res.text if rep == "销售12" else "李四" in res.text
