"""The HTTP front: waitress in front of the WSGI app, made for slow clients.

waitress reads every request whole — headers and body, in memory or past
`inbuf_overflow` in a temporary file — on its one I/O thread, and only a
complete request reaches a request thread. A client that sends slowly, or never
finishes, costs a socket and a buffer, never a thread: `/healthz` and
`POST /alerts` keep their threads however many such connections are open. (A
threaded server that hands each connection to a thread which then blocks
reading it is out of threads after as many slow clients as it has threads.)

What waitress answers by itself — a malformed request (400), headers past
`MAX_HEADER_BYTES` (431), a body past the webhook's `max_body_bytes` (413,
whether sent with Content-Length or chunked), a transfer coding it does not
know (501) — is JSON like the app's own errors: `{"error": "..."}`.

`GET /healthz` is answered by the front itself, on the I/O thread, as soon as
the request is read — before a task is queued for a request thread. Liveness
then holds when every request thread waits on a hung store: the answer says the
process serves, which is all a load balancer or supervisor asks of it. It is
the app's answer (`alert_webhook.api.health`) byte for byte, with the same
security headers; it is not counted in the app's request metrics.

Slow and greedy clients meet two more limits, a deadline for receiving a whole
request and a cap on open connections per client address (front_limits.py, the
`front` settings), checked on the I/O thread: at each accept, and at least once
a second (`MAINTENANCE_SECONDS`) for the deadline.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, Task

from alert_webhook.cli.front_limits import client_key, overdue, to_make_room
from alert_webhook.config.settings import FrontSettings
from alert_webhook.web.security import HEADERS as SECURITY_HEADERS

log = logging.getLogger(__name__)

# Open connections (slow or idle ones included) before new ones wait in the
# listen backlog; each costs a file descriptor and its buffers.
CONNECTION_LIMIT = 1000
# Alertmanager's requests carry a few hundred bytes of headers.
MAX_HEADER_BYTES = 64 * 1024
# A connection that sends nothing for this long is closed.
IDLE_TIMEOUT_SECONDS = 60
# How often the deadline (and waitress's idle timeout) is checked; a pass looks
# at every open connection, about a millisecond for a thousand.
MAINTENANCE_SECONDS = 1.0
LIVENESS_PATH = "/healthz"
# What flask.jsonify({"status": "ok"}) gives, as api/health.py answers.
LIVENESS_BODY = b'{"status":"ok"}\n'


def _problem(code: int, reason: str, detail: str, adj: Adjustments) -> str:
    if code == 413:
        return f"request body larger than {adj.max_request_body_size - 1} bytes"
    if code == 431:
        return f"request headers larger than {adj.max_request_header_size} bytes"
    return f"{reason.lower()}: {detail}" if detail else reason.lower()


class JsonErrorTask(ErrorTask):
    """waitress's own error answers, as JSON naming the problem."""

    def execute(self) -> None:
        error = self.request.error
        message = _problem(error.code, error.reason, error.body, self.channel.server.adj)
        body = json.dumps({"error": message}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(
            [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")]
        )
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class LivenessTask(Task):
    """`GET /healthz`'s answer, written without the app."""

    complete = True

    def execute(self) -> None:
        self.response_headers.append(("Content-Type", "application/json"))
        self.response_headers.extend(SECURITY_HEADERS.items())
        self.content_length = len(LIVENESS_BODY)
        self.write(LIVENESS_BODY)


class _Channel(HTTPChannel):
    error_task_class = JsonErrorTask
    server: _Server
    requests: list[Any]  # waitress sets these; its code has no types
    request: Any
    addr: Any

    def __init__(self, server: _Server, sock: Any, addr: Any, adj: Adjustments, map: Any) -> None:
        # The first request is on the clock from the connection on: a client
        # that connects and says nothing holds a place too.
        self.receiving_since: float | None = server.clock()
        self.client = client_key(str(addr[0]))
        super().__init__(server, sock, addr, adj, map=map)
        server.admit(self)

    @property
    def answering(self) -> bool:
        return bool(self.requests)

    # Whole requests handed on (to a request thread or the liveness answer).
    handed_on = 0

    def received(self, data: bytes) -> bool:
        handed_on, queued = self.handed_on, len(self.requests)
        now = self.server.clock()
        done: bool = super().received(data)
        if self.handed_on != handed_on or len(self.requests) > queued:
            # A whole request arrived: the clock stops, or restarts for the
            # next one if its first bytes came in the same read.
            self.receiving_since = None if self.request is None else now
        elif self.receiving_since is None:
            # Bytes that finish no request, blank lines too (waitress takes a
            # lone CRLF CRLF as an empty request and drops it): on the clock.
            self.receiving_since = now
        return done

    def del_channel(self, map: Any = None) -> None:
        super().del_channel(map)
        self.server.forget(self)

    def answer_liveness(self) -> bool:
        """Answer a lone `GET /healthz` here and now; False for anything else.

        waitress calls `server.add_task` from `received` on the I/O thread
        holding `requests_lock`, with the request just read as the only one
        queued, so no request thread can touch this channel meanwhile. Nothing
        is waiting to be sent either (waitress reads no more while it is), so
        the answer goes out in order, on the loop's next turn.
        """
        if len(self.requests) != 1:
            return False
        request = self.requests[0]
        if request.error or request.command != "GET" or request.path != LIVENESS_PATH:
            return False
        task = LivenessTask(self, request)
        task.service()
        request.close()
        self.requests = []
        if task.close_on_finish:  # HTTP/1.0, or Connection: close
            self.close_when_flushed = True
        return True


class _Server(TcpWSGIServer):
    channel_class = _Channel
    _io_thread: int | None = None
    active_channels: dict[int, _Channel]

    def __init__(
        self,
        app: Any,
        *,
        adj: Adjustments,
        limits: FrontSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.by_client: dict[str, set[_Channel]] = {}
        self._full: set[str] = set()
        super().__init__(app, adj=adj)

    def admit(self, channel: _Channel) -> None:
        """Count a new connection in, making room at its address's cap."""
        peers = self.by_client.setdefault(channel.client, set())
        if len(peers) >= self.limits.connections_per_address:
            if channel.client not in self._full:
                self._full.add(channel.client)
                log.warning(
                    "client %s has %d connections open, its cap: each new one takes "
                    "the place of its oldest unfinished one, or is closed",
                    channel.client,
                    len(peers),
                )
            room = to_make_room(peers)
            if room is None:
                channel.handle_close()
                return
            room.handle_close()  # unfinished: no request thread holds it
        self.by_client.setdefault(channel.client, set()).add(channel)

    def forget(self, channel: _Channel) -> None:
        peers = self.by_client.get(channel.client)
        if peers is None:
            return
        peers.discard(channel)
        if len(peers) <= self.limits.connections_per_address // 2:
            self._full.discard(channel.client)
        if not peers:
            del self.by_client[channel.client]

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # the idle timeout
        late = overdue(
            self.active_channels.values(), self.clock(), self.limits.request_deadline_seconds
        )
        for channel in late:
            channel.will_close = True  # closed on the loop's next turn
        if late:
            log.debug("closed %d connections past the request deadline", len(late))

    def run(self) -> None:
        self._io_thread = threading.get_ident()
        super().run()

    def add_task(self, task: Any) -> None:
        # From a request thread (the next of pipelined requests) the channel
        # goes on as waitress would have it; only the I/O thread answers inline.
        on_io_thread = threading.get_ident() == self._io_thread
        if isinstance(task, _Channel):
            task.handed_on += 1
            if on_io_thread and task.answer_liveness():
                return
        super().add_task(task)


def create_server(
    app: Any,
    host: str,
    port: int,
    *,
    threads: int,
    max_body_bytes: int,
    limits: FrontSettings | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TcpWSGIServer:
    """Bound and listening on return; `run()` serves until SIGINT or SystemExit."""
    adj = Adjustments(
        host=host,
        port=port,
        threads=threads,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_TIMEOUT_SECONDS,
        cleanup_interval=MAINTENANCE_SECONDS,
        max_request_header_size=MAX_HEADER_BYTES,
        # waitress refuses a body of exactly its limit; the webhook accepts max_body_bytes.
        max_request_body_size=max_body_bytes + 1,
        # select() cannot watch descriptors past 1024; poll() can.
        asyncore_use_poll=True,
        # A 100-alert notification (~30 KB) in one read rather than four of 8 KiB.
        recv_bytes=65536,
        ident="alert_webhook",
    )
    return _Server(app, adj=adj, limits=limits or FrontSettings(), clock=clock)
