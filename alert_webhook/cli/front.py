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
"""

from __future__ import annotations

import json
import threading
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, Task

from alert_webhook.web.security import HEADERS as SECURITY_HEADERS

# Open connections (slow or idle ones included) before new ones wait in the
# listen backlog; each costs a file descriptor and its buffers.
CONNECTION_LIMIT = 1000
# Alertmanager's requests carry a few hundred bytes of headers.
MAX_HEADER_BYTES = 64 * 1024
# A connection that sends nothing for this long is closed.
IDLE_TIMEOUT_SECONDS = 60
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
    requests: list[Any]  # waitress sets it; its code has no types

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

    def run(self) -> None:
        self._io_thread = threading.get_ident()
        super().run()

    def add_task(self, task: Any) -> None:
        # From a request thread (the next of pipelined requests) the channel
        # goes on as waitress would have it; only the I/O thread answers inline.
        on_io_thread = threading.get_ident() == self._io_thread
        if on_io_thread and isinstance(task, _Channel) and task.answer_liveness():
            return
        super().add_task(task)


def create_server(
    app: Any, host: str, port: int, *, threads: int, max_body_bytes: int
) -> TcpWSGIServer:
    """Bound and listening on return; `run()` serves until SIGINT or SystemExit."""
    adj = Adjustments(
        host=host,
        port=port,
        threads=threads,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_TIMEOUT_SECONDS,
        max_request_header_size=MAX_HEADER_BYTES,
        # waitress refuses a body of exactly its limit; the webhook accepts max_body_bytes.
        max_request_body_size=max_body_bytes + 1,
        # select() cannot watch descriptors past 1024; poll() can.
        asyncore_use_poll=True,
        # A 100-alert notification (~30 KB) in one read rather than four of 8 KiB.
        recv_bytes=65536,
        ident="alert_webhook",
    )
    return _Server(app, adj=adj)
