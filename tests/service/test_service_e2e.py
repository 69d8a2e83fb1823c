"""End to end over real HTTP: uvicorn on a free loopback port, driven with httpx.

upload policy -> import facts -> run -> publish -> objection -> accept with corrected facts ->
finalize (clock past the deadline) -> payroll lines equal the engine's totals to the cent.
The expected totals are computed by hand in service_testkit (10350.00, corrected 11580.00).
"""

from __future__ import annotations

import csv
import io
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from service_testkit import (
    AUGUST,
    AUGUST_CORRECTED,
    AUGUST_CORRECTED_TOTAL,
    AUGUST_TOTAL,
    Clock,
    make_tokens,
    policy_text,
    serve_in_thread,
)

from service.api import create_app


def test_end_to_end_over_http(database_url: str, clock: Clock) -> None:
    tokens = make_tokens(database_url)
    app = create_app(database_url, clock=clock)
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60) as c:
        hr, rep, payroll = tokens["hr"], tokens["rep_r2"], tokens["payroll"]
        assert c.get("/healthz").json() == {"status": "ok"}

        r = c.put(
            "/policies/sales-incentive/versions/2026-Q3",
            content=policy_text().encode("utf-8"),
            headers={**hr, "Content-Type": "application/yaml"},
        )
        assert r.status_code == 201, r.text

        imp = c.post("/fact-imports", files={"file": ("august.csv", AUGUST, "text/csv")}, headers=hr)
        assert imp.status_code == 201, imp.text

        run = c.post(
            "/runs",
            json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp.json()["id"]},
            headers=hr,
        )
        assert run.status_code == 201, run.text
        run_id = run.json()["id"]
        assert run.json()["totals"]["payout"] == AUGUST_TOTAL

        pub = c.post(f"/runs/{run_id}/publish", headers=hr)
        assert pub.json()["status"] == "published"
        empty = c.get("/payroll/lines", headers=payroll).json()
        assert empty["lines"] == [] and empty["more"] is False and empty["next_cursor"]

        view = c.get(f"/runs/{run_id}/results", headers=rep).json()
        assert [(x["rep_id"], x["total"]) for x in view["results"]] == [("R2", "0.00")]
        # the contract's document, cut to the rep's line: same keys in the same order, no team totals
        assert list(view) == ["contract", "policy", "period", "facts_sha256", "currency", "results", "scope"]
        assert view["scope"] == {"role": "rep", "regions": [], "rep_id": "R2"}
        obj = c.post(f"/runs/{run_id}/objections", json={"rep_id": "R2", "reason": "实际销售额应为 82000"}, headers=rep)
        assert obj.status_code == 201, obj.text

        fixed = c.post("/fact-imports", files={"file": ("august-v2.csv", AUGUST_CORRECTED, "text/csv")}, headers=hr)
        res = c.post(
            f"/objections/{obj.json()['id']}/resolve",
            json={"decision": "accepted", "note": "finance confirmed", "fact_import_id": fixed.json()["id"]},
            headers=hr,
        )
        assert res.status_code == 200, res.text
        new_id = res.json()["new_run"]["id"]

        clock.advance(days=3, seconds=1)
        fin = c.post(f"/runs/{new_id}/finalize", headers=hr)
        assert fin.status_code == 200, fin.text

        lines, cursor, pages = [], None, 0
        while True:
            page = c.get(
                "/payroll/lines",
                params={"period": "2026-08", "limit": 2, **({"cursor": cursor} if cursor else {})},
                headers=payroll,
            )
            assert page.status_code == 200, page.text
            lines += page.json()["lines"]
            pages += 1
            cursor = page.json()["next_cursor"]
            if not page.json()["more"]:
                break
        assert pages == 3  # 6 lines: R1 commission+bonus, R2 commission, R3 commission+bonus+team award
        assert len({ln["line_id"] for ln in lines}) == len(lines) == 6
        assert {ln["run_id"] for ln in lines} == {new_id}
        assert {ln["policy_version"] for ln in lines} == {"2026-Q3"}
        total = sum(Decimal(ln["amount"]) for ln in lines)
        assert total == Decimal(AUGUST_CORRECTED_TOTAL)
        results = c.get(f"/runs/{new_id}/results", headers=hr).json()
        assert results["totals"]["payout"] == AUGUST_CORRECTED_TOTAL
        # per rep, to the cent: R1 2100 + 1000, R2 1.5% x 82000 = 1230, R3 3750 + 3000 + 500 (South >= 110%)
        per_rep: dict[str, Decimal] = {}
        for ln in lines:
            per_rep[ln["rep_id"]] = per_rep.get(ln["rep_id"], Decimal(0)) + Decimal(ln["amount"])
        hand = {"R1": Decimal("3100.00"), "R2": Decimal("1230.00"), "R3": Decimal("7250.00")}
        assert per_rep == hand
        assert {x["rep_id"]: Decimal(x["total"]) for x in results["results"]} == hand  # the engine's own lines
        as_csv = c.get("/payroll/lines", params={"period": "2026-08", "format": "csv"}, headers=payroll)
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.content.startswith(b"\xef\xbb\xbf")  # the BOM zh-CN Excel needs
        rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        assert [(r["line_id"], r["amount"]) for r in rows] == [(ln["line_id"], ln["amount"]) for ln in lines]
        assert all(
            isinstance(ln["amount"], str) and ln["amount"].count(".") == 1 and len(ln["amount"].split(".")[1]) == 2
            for ln in lines
        )
        # fetching again gives the same lines
        again = c.get("/payroll/lines", params={"period": "2026-08", "limit": 100}, headers=payroll).json()
        assert again["lines"] == lines and again["more"] is False
        # a superseded run never reaches payroll
        assert c.get(f"/runs/{run_id}", headers=hr).json()["status"] == "superseded"
    app.state.db_engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_command_upgrades_and_serves(tmp_path: Path, workers: str) -> None:
    """`merit serve` (and `--workers 2`: two processes on one SQLite file in WAL mode)."""
    port = _free_port()
    url = f"sqlite:///{tmp_path}/served.db"
    code = (
        "import argparse, sys\n"
        "from service.cli.server import add_commands\n"
        "p = argparse.ArgumentParser(prog='merit'); add_commands(p.add_subparsers(required=True))\n"
        "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--workers", workers, "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "merit serve did not come up"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
        unauth = httpx.get(f"http://127.0.0.1:{port}/runs", timeout=5)
        assert unauth.status_code == 401 and unauth.headers["content-type"] == "application/problem+json"
        tokens = make_tokens(url)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:  # new connections: any worker
            for _ in range(10):
                assert c.get("/runs", headers=tokens["hr"]).json() == {"runs": []}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
