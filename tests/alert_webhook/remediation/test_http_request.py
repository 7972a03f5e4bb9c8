"""actions/http_request.py against a real HTTP server on loopback."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from pydantic import ValidationError
from support.procs import free_port

from alert_webhook.remediation.actions.base import OUTPUT_TAIL_BYTES, ActionOutcome, Boundaries
from alert_webhook.remediation.actions.http_request import HttpRequestParams, run


@dataclass
class Hook:
    """A token-refresh / drain endpoint: records requests, answers as told."""

    port: int = 0
    status: int = 200
    body: bytes = b'{"refreshed": true}'
    # Cleared: the hook holds its answer until the test lets it go (a slow peer).
    answer: threading.Event = field(default_factory=threading.Event)
    received: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()
    state.answer.set()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length) if length else b""
            state.received.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            state.answer.wait(10)
            with contextlib.suppress(OSError):  # the client may have given up
                self.send_response(state.status)
                if state.status in (301, 302):
                    self.send_header("Location", state.url("/elsewhere"))
                self.send_header("Content-Length", str(len(state.body)))
                self.end_headers()
                self.wfile.write(state.body)

        do_GET = do_POST = do_PUT = _handle  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.answer.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def params(**kw: Any) -> HttpRequestParams:
    return HttpRequestParams.model_validate(kw)


def test_a_2xx_succeeds_with_status_and_body_tail(hook: Hook, session: requests.Session) -> None:
    result = run(params(url=hook.url(), json_body={"service": "demo"}), 5, Boundaries(http=session))
    assert (result.outcome, result.status, result.detail) == (ActionOutcome.SUCCEEDED, 200, "")
    assert result.output == '{"refreshed": true}'
    [request] = hook.received
    assert (request["method"], request["path"]) == ("POST", "/hook")
    assert json.loads(request["body"]) == {"service": "demo"}
    assert request["headers"]["User-Agent"] == "recovery-stack-remediation"


def test_an_unexpected_status_fails_naming_it(hook: Hook, session: requests.Session) -> None:
    hook.status, hook.body = 503, b"busy"
    result = run(params(url=hook.url()), 5, Boundaries(http=session))
    assert (result.outcome, result.status, result.output) == (ActionOutcome.FAILED, 503, "busy")
    assert result.detail == "HTTP status 503"


def test_expect_status_decides_what_counts(hook: Hook, session: requests.Session) -> None:
    hook.status = 409  # e.g. "already refreshed"
    result = run(params(url=hook.url(), expect_status=[200, 409]), 5, Boundaries(http=session))
    assert (result.outcome, result.status) == (ActionOutcome.SUCCEEDED, 409)
    hook.status = 200
    result = run(params(url=hook.url(), expect_status=[204]), 5, Boundaries(http=session))
    assert result.outcome is ActionOutcome.FAILED


def test_redirects_are_not_followed(hook: Hook, session: requests.Session) -> None:
    hook.status = 302
    result = run(params(method="GET", url=hook.url()), 5, Boundaries(http=session))
    assert (result.outcome, result.status) == (ActionOutcome.FAILED, 302)
    assert [r["path"] for r in hook.received] == ["/hook"]


def test_secret_headers_come_from_the_environment_by_name(
    hook: Hook, session: requests.Session
) -> None:
    p = params(
        url=hook.url(),
        headers={"X-Reason": "remediation"},
        headers_from_env={"Authorization": "REFRESH_TOKEN"},
    )
    assert p.env_names() == ["REFRESH_TOKEN"]
    env = {"REFRESH_TOKEN": "Bearer s3cret"}
    result = run(p, 5, Boundaries(env=env, http=session))
    assert result.outcome is ActionOutcome.SUCCEEDED
    headers = hook.received[0]["headers"]
    assert (headers["Authorization"], headers["X-Reason"]) == ("Bearer s3cret", "remediation")


def test_a_missing_secret_fails_before_any_request(hook: Hook, session: requests.Session) -> None:
    p = params(url=hook.url(), headers_from_env={"Authorization": "REFRESH_TOKEN"})
    result = run(p, 5, Boundaries(env={}, http=session))
    assert (result.outcome, result.status) == (ActionOutcome.FAILED, None)
    assert result.detail == "environment variable REFRESH_TOKEN is not set"
    assert hook.received == []


def test_a_slow_peer_times_out(hook: Hook, session: requests.Session) -> None:
    hook.answer.clear()
    result = run(params(url=hook.url()), 0.3, Boundaries(http=session))
    hook.answer.set()
    assert (result.outcome, result.status) == (ActionOutcome.TIMED_OUT, None)
    assert result.detail == f"no answer from 127.0.0.1:{hook.port} within 0.3s"


def test_nobody_listening_fails(session: requests.Session) -> None:
    result = run(params(url=f"http://127.0.0.1:{free_port()}/"), 5, Boundaries(http=session))
    assert (result.outcome, result.status) == (ActionOutcome.FAILED, None)
    assert result.detail.startswith("ConnectionError: ")


def test_the_body_kept_is_the_bounded_end(hook: Hook, session: requests.Session) -> None:
    hook.body = b"x" * 100_000 + b"END"
    result = run(params(url=hook.url()), 5, Boundaries(http=session))
    assert len(result.output) == OUTPUT_TAIL_BYTES
    assert result.output.endswith("xEND")


def test_the_duration_comes_from_the_clock_given(hook: Hook, session: requests.Session) -> None:
    ticks = iter([10.0, 10.5, 12.5])
    result = run(params(url=hook.url()), 5, Boundaries(http=session, monotonic=lambda: next(ticks)))
    assert result.duration == 2.5


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"url": "ftp://host/x"}, "must be an http:// or https:// URL with a host"),
        ({"url": "http:///x"}, "must be an http:// or https:// URL with a host"),
        ({"url": "http://user:pw@host/"}, "must not hold credentials; use headers_from_env"),
        (
            {"url": "http://h/", "headers": {"authorization": "Bearer x"}},
            "authorization: secrets are not read from files",
        ),
        ({"url": "http://h/", "headers_from_env": {"Authorization": "not a name"}}, "pattern"),
        ({"url": "http://h/", "method": "TRACE"}, "Input should be"),
    ],
)
def test_bad_params_are_refused(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        HttpRequestParams.model_validate(data)
