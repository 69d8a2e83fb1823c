"""The gate and the database under hostile timing, over real HTTP (uvicorn on a loopback port).

- A body is never read before its sender is authenticated: a 400 MiB chunked body without a token
  gets 401 whatever its Content-Type and the server's memory does not grow; with a token the body
  is cut off at the limit (413).
- On SQLite nothing holds the write lock while a body trickles in, reads never wait for writers,
  and a writer that cannot get the lock answers 503 with Retry-After, never 500.
"""

from __future__ import annotations

import select
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from service_testkit import Clock, Tokens, make_tokens, policy_text, serve_in_thread

from service.api import create_app

MIB = 1024 * 1024


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@contextmanager
def _peak_rss() -> Iterator[list[int]]:
    """The largest resident size of this process (which runs the server) while the block runs."""
    peak = [_rss()]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def _send_chunked(base: str, path: str, headers: dict[str, str], total: int) -> int | None:
    """POST `total` bytes chunked (1 MiB chunks) and return the status, read as soon as it comes."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    chunk = b"%x\r\n" % MIB + b"x" * MIB + b"\r\n"
    try:
        sock.sendall(head.encode())
        for _ in range(total // MIB):
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is there: the server stopped reading
            sock.sendall(chunk)
        answer = sock.recv(4096)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        try:
            answer = sock.recv(4096)
        except OSError:
            return None
    finally:
        sock.close()
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer.split()[1])


@pytest.fixture
def live(database_url: str, clock: Clock) -> Iterator[str]:
    app = create_app(database_url, clock=clock)
    with serve_in_thread(app) as base:
        yield base
    app.state.db_engine.dispose()


def test_no_body_is_read_before_the_token(live: str, tokens: Tokens) -> None:
    with _peak_rss() as peak:
        before = _rss()
        for content_type in ("text/plain", "application/x+json", "application/json", "multipart/form-data; boundary=b"):
            status = _send_chunked(live, "/runs", {"Content-Type": content_type}, 400 * MIB)
            assert status == 401, content_type
        status = _send_chunked(live, "/fact-imports", {"Content-Type": "text/plain"}, 400 * MIB)
        assert status == 401
        # with a token: cut off at the limit (1 MiB for JSON routes), whatever the Content-Type
        hr = {"Authorization": tokens["hr"]["Authorization"], "Content-Type": "text/plain"}
        assert _send_chunked(live, "/runs", hr, 400 * MIB) == 413
    assert peak[0] - before < 64 * MIB, f"RSS grew by {(peak[0] - before) // MIB} MiB"
    assert httpx.get(f"{live}/healthz", timeout=10).json() == {"status": "ok"}


def test_a_slow_upload_blocks_nobody(live: str, tokens: Tokens) -> None:
    url = urlsplit(live)
    upload = socket.create_connection((url.hostname, url.port), timeout=10)
    try:
        upload.sendall(
            b"POST /fact-imports HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
            + f"Authorization: {tokens['hr']['Authorization']}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=BOUNDARY\r\n\r\n"
            + b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nrep_id,'
        )
        time.sleep(0.5)  # the upload's token check has run; its body is still coming
        with httpx.Client(base_url=live, timeout=5) as c:
            started = time.monotonic()
            assert c.get("/healthz").status_code == 200
            assert c.get("/payroll/lines", headers=tokens["payroll"]).status_code == 200
            put = c.put(
                "/policies/sales-incentive/versions/2026-Q3",
                content=policy_text().encode(),
                headers={**tokens["hr"], "Content-Type": "application/yaml"},
            )
            assert put.status_code == 201, put.text
            assert time.monotonic() - started < 4
    finally:
        upload.close()


def test_a_busy_sqlite_database_is_503_not_500(
    tmp_path: object, sqlite_template: object, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from pathlib import Path

    path = Path(str(tmp_path)) / "busy.db"
    shutil.copy(str(sqlite_template), path)
    url = f"sqlite:///{path}"
    tokens = make_tokens(url)
    monkeypatch.setattr("service.db.SQLITE_BUSY_TIMEOUT", 0.2)
    app = create_app(url, clock=clock)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=10) as c:
            holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            r = c.post(
                "/runs",
                json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": 1},
                headers=tokens["hr"],
            )
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "1"
            assert r.json()["type"].endswith("/database-busy")
            # reads do not wait for the writer
            assert c.get("/runs", headers=tokens["hr"]).status_code == 200
            assert c.get("/healthz").status_code == 200
            holder.execute("ROLLBACK")
            r = c.post(
                "/runs",
                json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": 1},
                headers=tokens["hr"],
            )
            assert r.status_code == 422, r.text  # no such import: the database answers again
    finally:
        holder.close()
        app.state.db_engine.dispose()
