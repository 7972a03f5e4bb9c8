"""The HTTP front on a real server process: slow clients hold no request thread,
and what the front answers by itself is JSON like the rest of the API."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support.procs import free_port, python_module, running
from waitress import wasyncore
from webhook_support import make_alert, make_notification

from alert_webhook.cli.front import create_server

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
# Many times the 8 request threads, and below the front's cap of connections per
# address (100; test_slow_clients.py goes past it), so none is closed under them.
SLOW_CLIENTS = 50
ANSWER_TIMEOUT = 10.0  # generous: the point is answered at all, not how fast
MAX_BODY = 64 * 1024


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "webhook.yml"
    data = {"store": {"url": f"sqlite:///{tmp_path}/webhook.sqlite3"}, "max_body_bytes": MAX_BODY}
    config.write_text(yaml.safe_dump(data))
    port = free_port()
    argv = python_module("alert_webhook", "--config", str(config), "--bind", f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}"
    with running("webhook", argv, tmp_path, ready_url=f"{url}/healthz", cwd=ROOT):
        yield url


@contextlib.contextmanager
def slow_clients(url: str, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections that each sent half a request's headers and then stall."""
    host, port = url.removeprefix("http://").split(":")
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"POST /alerts HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def _raw(url: str, request: bytes, body_chunks: Sequence[bytes] = ()) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=ANSWER_TIMEOUT) as sock:
        # The server answers as soon as it has seen enough and closes with the
        # rest unread, so sending may fail and its reset may follow the answer.
        with contextlib.suppress(OSError):
            sock.sendall(request)
            for chunk in body_chunks:
                sock.sendall(chunk)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65536):
                answer += data
    return answer


def _status_and_json(answer: bytes) -> tuple[int, dict[str, object], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), head


def test_health_and_ingest_answer_while_many_clients_send_slowly(webhook: str) -> None:
    with slow_clients(webhook, SLOW_CLIENTS) as socks:
        for round_ in range(3):
            for sock in socks:  # each keeps trickling: never idle, never finished
                sock.sendall(b"a")
            assert requests.get(f"{webhook}/healthz", timeout=ANSWER_TIMEOUT).status_code == 200
            body = make_notification(make_alert(f"slow{round_}", severity="medium"))
            answer = requests.post(f"{webhook}/alerts", json=body, timeout=ANSWER_TIMEOUT)
            assert answer.status_code == 200, answer.text
            assert answer.json()["state_changes"] == 1
    stored = requests.get(f"{webhook}/api/alerts", timeout=ANSWER_TIMEOUT).json()["alerts"]
    assert {a["fingerprint"] for a in stored} == {"slow0", "slow1", "slow2"}


def test_an_over_size_chunked_body_gets_413_as_json(webhook: str) -> None:
    chunk = b"a" * 8192
    chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (2 * MAX_BODY // len(chunk))
    head = (
        b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    status, body, headers = _status_and_json(_raw(webhook, head, chunks))
    assert status == 413
    assert body == {"error": f"request body larger than {MAX_BODY} bytes"}
    assert b"application/json" in headers
    assert requests.get(f"{webhook}/api/alerts", timeout=5).json()["alerts"] == []


def test_a_chunked_body_within_the_limit_is_stored(webhook: str) -> None:
    data = json.dumps(make_notification(make_alert("chunked", severity="medium"))).encode()
    pieces = [data[i : i + 100] for i in range(0, len(data), 100)]
    answer = requests.post(
        f"{webhook}/alerts",
        data=iter(pieces),  # a generator body goes out chunked
        headers={"Content-Type": "application/json"},
        timeout=ANSWER_TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["state_changes"] == 1


def test_headers_too_large_get_431_as_json(webhook: str) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    status, body, headers = _status_and_json(_raw(webhook, request))
    assert status == 431
    assert "headers" in str(body["error"])
    assert b"application/json" in headers


def test_a_malformed_request_gets_400_as_json(webhook: str) -> None:
    answer = _raw(webhook, b"GET /healthz HTTP/1.1\r\nHost\r\n\r\n")  # a header without a colon
    status, body, _headers = _status_and_json(answer)
    assert status == 400
    assert body["error"].startswith("bad request")


@contextlib.contextmanager
def serving(app: Any, threads: int) -> Iterator[str]:
    """`create_server` on a free port in this process, run on a thread and stopped
    (its socket map closed from inside its own loop) however the test ends."""
    server = create_server(app, "127.0.0.1", 0, threads=threads, max_body_bytes=MAX_BODY)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        loop.join(timeout=10)
        server.task_dispatcher.shutdown()


def test_healthz_answers_while_every_request_thread_is_held() -> None:
    """A hung store may hold every request thread: liveness must not need one."""
    threads = 2
    release = threading.Event()
    entered = threading.Semaphore(0)

    def hung(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        entered.release()
        release.wait(ANSWER_TIMEOUT)
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"late"]

    with serving(hung, threads) as url, ThreadPoolExecutor(threads) as pool:
        try:
            get = f"{url}/api/alerts"
            held = [pool.submit(requests.get, get, timeout=30) for _ in range(threads)]
            for _ in range(threads):
                assert entered.acquire(timeout=ANSWER_TIMEOUT)
            answer = requests.get(f"{url}/healthz", timeout=2)
            assert answer.status_code == 200
            assert answer.content == b'{"status":"ok"}\n'
            assert answer.headers["Content-Type"] == "application/json"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
            again = requests.get(f"{url}/healthz", timeout=2)  # a second one, kept alive
            assert again.json() == {"status": "ok"}
        finally:
            release.set()
        assert [h.result().status_code for h in held] == [503, 503]
