"""Real peers on loopback: an SMTP server (aiosmtpd) and a Twilio Messages API fake."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from support.procs import free_port

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"

# What the fake answers, by mode: (HTTP status, Twilio error code or None).
TWILIO_MODES: dict[str, tuple[int, int | None]] = {
    "ok": (201, None),
    "invalid_number": (400, 21211),
    "unsubscribed": (400, 21610),
    "auth": (401, 20003),
    "rate_limited": (429, 20429),
    "server_error": (500, None),
    "too_long": (400, 21617),  # Twilio's answer to a body over 1,600 characters
}
TWILIO_MAX_BODY = 1600


@dataclass
class FakeTwilio:
    """Speaks the Messages endpoint; `mode` (or a queue of modes) picks the answer."""

    port: int = 0
    mode: str = "ok"
    queue: list[str] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)
    hanging: list[dict[str, str]] = field(default_factory=list)  # requests held in "hang"
    release: threading.Event = field(default_factory=threading.Event)
    retry_after: str | None = None  # the Retry-After header of a 429 ("rate_limited")
    asked: list[str] = field(default_factory=list)  # the mode of every request answered
    asked_at: list[float] = field(default_factory=list)  # when each came (time.monotonic)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_mode(self) -> str:
        return self.queue.pop(0) if self.queue else self.mode


def _twilio_handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            if status == 429 and fake.retry_after is not None:
                self.send_header("Retry-After", fake.retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            expected = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
            auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            mode = fake.next_mode()
            if self.headers.get("Authorization") != f"Basic {auth}" or self.path != expected:
                mode = "auth"
            if mode == "ok" and len(form.get("Body", "")) > TWILIO_MAX_BODY:
                mode = "too_long"
            fake.asked.append(mode)
            fake.asked_at.append(time.monotonic())
            if mode == "hang":
                fake.hanging.append(form)
                fake.release.wait(30)  # the fixture releases it on the way out
                return
            if mode == "html":  # a captive portal or a proxy's error page, with 200
                page = b"<html><body>Service temporarily unavailable</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            status, code = TWILIO_MODES[mode]
            if status != 201:
                return self._answer(status, {"code": code, "message": mode, "status": status})
            fake.received.append(form)
            sid = f"SM{len(fake.received):032d}"
            self._answer(
                201,
                {"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body")},
            )

    return Handler


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _twilio_handler(fake))
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class MailBox:
    port: int = 0
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)  # recipients answered 550
    delay: float = 0.0  # seconds each message takes to accept (a slow relay)
    on_data: Callable[[], None] | None = None  # runs before a message is accepted

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.reject:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.on_data is not None:
            self.on_data()
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"


@contextmanager
def smtp_server() -> Iterator[MailBox]:
    box = MailBox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def smtp_provider(box: MailBox, name: str = "relay1", **extra: Any) -> dict[str, Any]:
    return {"name": name, "host": "127.0.0.1", "port": box.port, "security": "none", **extra}


def twilio_provider(fake: FakeTwilio, name: str = "twilio1", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "from_number": "+15555550000",
        "api_base_url": fake.base_url,
        "timeout_seconds": 2,
        **extra,
    }


TWILIO_ENV = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key) made with the openssl tool."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl tool is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextmanager
def tls_smtp_server(
    directory: Path, implicit: bool, login: tuple[str, str]
) -> Iterator[tuple[MailBox, Path]]:
    """SMTP over implicit TLS, or STARTTLS required; AUTH required (over TLS)."""
    cert, key = self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = MailBox(port=free_port())

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login.decode(), auth_data.password.decode()) == login
        return AuthResult(success=ok, handled=False)

    # aiosmtpd only knows TLS it negotiated itself (STARTTLS); on an implicit-TLS
    # port AUTH is offered without its TLS check, and the login is still verified.
    tls: dict[str, Any] = (
        {"ssl_context": context, "auth_required": False, "auth_require_tls": False}
        if implicit
        else {"tls_context": context, "require_starttls": True, "auth_required": True}
    )
    controller = Controller(
        box, hostname="127.0.0.1", port=box.port, authenticator=authenticator, **tls
    )
    controller.start()
    try:
        yield box, cert
    finally:
        controller.stop()
