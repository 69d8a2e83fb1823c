"""`merit serve` cuts off clients whose request headers never end (issue 10: slowloris).

A real `merit serve` process on a loopback port, real sockets: 200 connections each send a request
line and then one header byte a second (and one sends nothing at all). With `--header-timeout 2`
each is answered 408 (the silent one: closed without a word) and closed 2 s after it was opened
(allowed: up to 2 + 4 s on this shared machine; uvicorn alone keeps them open for ever), while an
ordinary request sent meanwhile is answered at once. Run with one server process and with two
(the deadline reaches worker processes through the environment).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from service_testkit import make_tokens

TIMEOUT = 2.0
SLOW = 200
CLI = (
    "import argparse, sys\n"
    "from service.cli.server import add_commands\n"
    "p = argparse.ArgumentParser(prog='merit'); add_commands(p.add_subparsers(required=True))\n"
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(url: str, *options: str) -> Iterator[int]:
    port = free_port()
    command = [sys.executable, "-c", CLI, "serve", "--port", str(port), "--database-url", url, *options]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "merit serve did not come up"
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def trickle(port: int, count: int, give_up: float) -> tuple[dict[int, float], dict[int, bytes]]:
    """`count` connections sending a request line, then one header byte a second; connection
    `count` sends nothing. Seconds from its opening until the server closed each, and what it said."""
    selector = selectors.DefaultSelector()
    opened: dict[int, float] = {}
    socks = []
    for i in range(count + 1):
        s = socket.create_connection(("127.0.0.1", port))
        opened[i] = time.monotonic()
        if i < count:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ, i)
        socks.append(s)
    closed: dict[int, float] = {}
    said: dict[int, bytes] = dict.fromkeys(range(count + 1), b"")
    start = time.monotonic()
    while len(closed) <= count and time.monotonic() - start < give_up:
        for i, s in enumerate(socks[:count]):
            if i not in closed:
                with contextlib.suppress(OSError):  # closed by the server: the read below says when
                    s.send(b"a")
        tick = time.monotonic() + 1
        while (left := tick - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                i = key.data
                try:
                    data = key.fileobj.recv(4096)  # type: ignore[union-attr]
                except OSError:
                    data = b""
                said[i] += data
                if not data:
                    closed[i] = time.monotonic() - opened[i]
                    selector.unregister(key.fileobj)
    for s in socks:
        s.close()
    return closed, said


@pytest.mark.parametrize("workers", ["1", "2"])
def test_clients_sending_headers_a_byte_a_second_are_cut_off(database_url: str, workers: str) -> None:
    with serving(database_url, "--workers", workers, "--header-timeout", str(TIMEOUT)) as port:
        tokens = make_tokens(database_url)
        outcome: list[tuple[dict[int, float], dict[int, bytes]]] = []
        slow = threading.Thread(target=lambda: outcome.append(trickle(port, SLOW, give_up=12)))
        slow.start()
        time.sleep(1)  # the slow connections are all open and trickling
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            started = time.monotonic()
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/runs", headers=tokens["hr"]).json() == {"runs": []}
            assert time.monotonic() - started < 3  # answered at once (typically ~10 ms)
        slow.join()
    [(closed, said)] = outcome
    assert sorted(closed) == list(range(SLOW + 1)), f"{SLOW + 1 - len(closed)} connections still open after 12 s"
    assert all(TIMEOUT - 0.1 <= seconds <= TIMEOUT + 4 for seconds in closed.values()), sorted(closed.values())[-5:]
    assert all(said[i].startswith(b"HTTP/1.1 408 Request Timeout\r\n") for i in range(SLOW))
    assert said[SLOW] == b""  # the connection that sent nothing is closed without an answer


def test_the_next_request_on_a_kept_alive_connection_has_its_own_deadline(database_url: str) -> None:
    with (
        serving(database_url, "--header-timeout", str(TIMEOUT)) as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as s,
    ):
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while not first.endswith(b'{"status":"ok"}'):
            first += s.recv(4096)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n")
        started = time.monotonic()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the second request's headers never end
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert TIMEOUT - 0.1 <= time.monotonic() - started <= TIMEOUT + 4


def test_the_header_timeout_is_checked() -> None:
    command = [sys.executable, "-c", CLI, "serve", "--database-url", "sqlite:///unused.db", "--header-timeout", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "'0' is not a number of seconds (more than 0, at most 3600)" in done.stderr
