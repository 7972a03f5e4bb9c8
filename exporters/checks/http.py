"""HTTP(S) checks: status, latency, optional body or JSON check, certificate expiry,
and the rate-limit headroom the answer announces (ratelimit.py).

Built on http.client rather than a session library so the check sees the TLS
handshake itself: the certificate's expiry is published even when it has expired
and verification (rightly) failed.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from cryptography import x509
from pydantic import AnyHttpUrl, Field

from exporters.categories import Category, ProbeFailure, classify_http_status
from exporters.checks.base import Boundaries, CheckBase, EnvVar, Report, json_field
from exporters.checks.ratelimit import publish, read_headroom
from toolkit.config import Regex, Strict

MAX_BODY_BYTES = 1 << 20
MAX_REDIRECTS = 10
REDIRECTS = (301, 302, 303, 307, 308)


class JsonExpectation(Strict):
    field: str = Field(min_length=1)
    equals: Any = None


class HttpAuth(Strict):
    username: str | None = None
    password_env: EnvVar | None = None
    bearer_token_env: EnvVar | None = None


class HttpCheck(CheckBase):
    kind: Literal["http"]
    url: AnyHttpUrl
    method: Literal["GET", "HEAD", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    auth: HttpAuth | None = None
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = None
    body_regex: Regex | None = None
    expect_json: JsonExpectation | None = None
    verify_tls: bool = True
    follow_redirects: bool = True
    ca_file: str | None = None

    network: ClassVar[bool] = True

    def instance(self) -> str:
        return str(self.url)

    def secret_vars(self) -> list[tuple[str, str]]:
        if self.auth is None:
            return []
        return [
            (f"auth.{key}", value)
            for key, value in self.auth.model_dump().items()
            if key.endswith("_env") and value
        ]


def _certificate_expiry(der: bytes | None) -> float | None:
    if not der:
        return None
    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()


def _unverified_certificate(host: str, port: int, timeout: float, ctx: Boundaries) -> bytes | None:
    """The server's certificate without verifying it, to publish an expiry anyway."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        ctx.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def _headers(check: HttpCheck, ctx: Boundaries) -> dict[str, str]:
    headers = {"User-Agent": "recovery-stack-probe", **check.headers}
    auth = check.auth
    if auth and auth.bearer_token_env:
        headers["Authorization"] = f"Bearer {ctx.secret(auth.bearer_token_env)}"
    elif auth and auth.username is not None:
        password = ctx.secret(auth.password_env) if auth.password_env else ""
        token = base64.b64encode(f"{auth.username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return headers


def _connection(
    check: HttpCheck, scheme: str, host: str, port: int, timeout: float
) -> http.client.HTTPConnection:
    if scheme == "https":
        context = ssl.create_default_context(cafile=check.ca_file)
        if not check.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _check_body(check: HttpCheck, body: bytes) -> None:
    if check.body_regex is not None and not re.search(
        check.body_regex, body.decode("utf-8", "replace")
    ):
        raise ProbeFailure(Category.DATA_INTEGRITY, f"body does not match {check.body_regex!r}")
    if check.expect_json is not None:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProbeFailure(Category.DATA_INTEGRITY, f"invalid JSON: {exc}") from None
        want = check.expect_json
        value = json_field(document, want.field)
        if want.equals is not None and value != want.equals:
            raise ProbeFailure(
                Category.DATA_INTEGRITY,
                f"JSON field {want.field!r} is {value!r}, expected {want.equals!r}",
            )


@dataclass
class _Answer:
    status: int
    body: bytes
    location: str | None
    expiry: float | None
    headers: list[tuple[str, str]]


def _exchange(check: HttpCheck, url: str, report: Report, ctx: Boundaries) -> _Answer:
    """One request and its answer, on a fresh connection, within the run's deadline."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _connection(check, parts.scheme, host, port, report.remaining())
    try:
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as exc:
            der = _unverified_certificate(host, port, report.remaining(), ctx)
            if (expiry := _certificate_expiry(der)) is not None:
                report.add("probe_ssl_earliest_cert_expiry", expiry)
            raise ProbeFailure(
                Category.AUTHENTICATION, f"TLS certificate: {exc.verify_message}"
            ) from None
        expiry = None
        if isinstance(conn.sock, ssl.SSLSocket):
            expiry = _certificate_expiry(conn.sock.getpeercert(binary_form=True))
        conn.sock.settimeout(report.remaining())
        conn.request(check.method, path, headers=_headers(check, ctx))
        response = conn.getresponse()
        body = response.read(MAX_BODY_BYTES)
        length = response.getheader("Content-Length", "")
        if length.isdigit() and len(body) < min(int(length), MAX_BODY_BYTES):
            # read(amt) returns a short body instead of raising when the peer hangs up.
            raise http.client.IncompleteRead(body, int(length) - len(body))
        return _Answer(
            response.status, body, response.getheader("Location"), expiry, response.getheaders()
        )
    except TimeoutError:
        raise ProbeFailure(Category.TIMEOUT, f"no answer from {host}:{port} in time") from None
    finally:
        conn.close()


def fetch(check: HttpCheck, report: Report, ctx: Boundaries) -> tuple[int, bytes]:
    """The request, following redirects as blackbox_exporter does; returns (status, body)
    and records the final status, certificate expiry and rate-limit headroom (before
    the caller judges the status, so a 429 still tells its Retry-After)."""
    url = str(check.url)
    for _ in range(MAX_REDIRECTS + 1):
        answer = _exchange(check, url, report, ctx)
        if not (check.follow_redirects and answer.status in REDIRECTS and answer.location):
            break
        url = urljoin(url, answer.location)
    else:
        raise ProbeFailure(Category.CONNECTION, f"more than {MAX_REDIRECTS} redirects")
    report.add("probe_http_status_code", answer.status)
    if answer.expiry is not None:
        report.add("probe_ssl_earliest_cert_expiry", answer.expiry)
    publish(read_headroom(answer.headers, ctx.wall()), report)
    return answer.status, answer.body


def run(check: HttpCheck, report: Report, ctx: Boundaries) -> None:
    status, body = fetch(check, report, ctx)
    expected = check.expect_status
    if (status not in expected) if expected else not 200 <= status < 300:
        raise ProbeFailure(classify_http_status(status), f"HTTP status {status}")
    _check_body(check, body)
