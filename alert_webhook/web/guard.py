"""What a request must look like before any view sees it.

A browser can be made to talk to the webhook by any page it opens: a form or a
`fetch(..., {mode: "no-cors"})` posts `text/plain` or form data without asking,
and DNS rebinding makes a page on another name reach 127.0.0.1. So:

- the Host header must be one of ours (Flask's `TRUSTED_HOSTS`, checked while
  the request is routed): a rebound name is refused with 400;
- a write that names a foreign `Origin` is refused with 403: browsers name the
  page's origin on every cross-site POST, machines (Alertmanager, curl) send none;
- `POST /alerts` takes only `application/json` (415 otherwise), which a page on
  another site cannot send without a CORS preflight this app never answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, request
from werkzeug.exceptions import SecurityError

from alert_webhook.config.settings import Settings
from alert_webhook.web.operators import allowed_hosts

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install(app: Flask, settings: Settings, listen_host: str) -> None:
    app.config["TRUSTED_HOSTS"] = allowed_hosts(
        settings.auth, listen_host, settings.links.dashboard_url, settings.links.public_url
    )
    app.before_request(_refuse_foreign_origin)
    app.register_error_handler(SecurityError, _untrusted_host)


def _untrusted_host(exc: SecurityError) -> Any:
    given = request.headers.get("Host", "")
    return jsonify(
        {"error": f"Host {given!r} is not an allowed host of this webhook (auth.allowed_hosts)"}
    ), 400


def _refuse_foreign_origin() -> Any:
    if request.method not in WRITES:
        return None
    host = request.host  # raises for an untrusted Host, which is answered first
    origin = request.headers.get("Origin")
    if origin is None or _netloc(origin) == host.lower():
        return None
    return jsonify(
        {"error": f"Origin {origin} is not this site; cross-site requests are refused"}
    ), 403


def _netloc(origin: str) -> str | None:
    """`http://Host:9095` → `host:9095`; None for `null` or anything not a URL."""
    parts = urlsplit(origin)
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


def json_refusal() -> Any | None:
    """The 415 answer for a body that does not say it is JSON, else None."""
    if request.mimetype == "application/json":
        return None
    given = request.headers.get("Content-Type") or "none"
    return jsonify({"error": f"Content-Type: must be application/json (got {given})"}), 415
