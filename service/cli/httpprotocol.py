"""`merit serve`'s HTTP/1.1 protocol: uvicorn's h11 protocol with a deadline for request headers.

uvicorn times out an idle keep-alive connection, but not a request whose line and headers never
end: a client sending one header byte a second (slowloris), or opening a connection and sending
nothing, holds it forever, and a few thousand such clients use up the process's file descriptors.
Here every request must be complete up to the end of its headers within `header_timeout` seconds
of its first byte (for the first request: of the connection being opened); otherwise the server
answers 408 (if the client sent anything) and closes the connection. The body is the body gate's
business (`service.api.gate`). The deadline is one timer per connection on the event loop: no
thread or worker waits for a slow client.

uvicorn builds the protocol itself (`http=` names this class), in each worker process, so the
deadline comes from the environment: `MERIT_SERVE_HEADER_TIMEOUT` (seconds; `merit serve
--header-timeout` sets it), default 10.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from service import environment

_WHY = b"the request line and headers did not arrive in time\n"
#: What a client that sent part of a request is told before the connection closes.
TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_WHY), _WHY)
)


def header_timeout() -> float:
    """The deadline in seconds from `MERIT_SERVE_HEADER_TIMEOUT` (default 10; checked by the CLI)."""
    return environment.header_timeout()


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol; a request's line and headers must arrive within `header_timeout` s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout()
        self.header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def _watch_headers(self) -> None:
        """Arm the deadline while a request's headers are awaited; disarm it once they are in.

        h11 says the client is IDLE until a request's headers are complete. A keep-alive
        connection between requests is IDLE too, but then uvicorn's keep-alive timer runs and
        this one is armed only when the next request's first byte arrives.
        """
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if waiting and self.header_deadline is None and self.timeout_keep_alive_task is None:
            self.header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)
        elif not waiting:
            self._stop_watching()

    def _stop_watching(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.conn.trailing_data[0]:  # part of a request arrived: say why it ends
            self.transport.write(TIMED_OUT)
        self.logger.info("closed a connection whose request headers took over %ss", self.header_timeout)
        self.transport.close()
