"""Headers on every response that keep the dashboard safe to open.

The content security policy allows scripts, styles and images from this
webhook only, and no inline ones, so markup that slips into the page cannot
run; no other site may frame the page (clickjacking the Acknowledge button);
browsers take each response for the type it declares; links followed to
runbooks do not carry the dashboard's address along.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def install(app: Flask) -> None:
    app.after_request(_add_headers)
