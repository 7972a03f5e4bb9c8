"""web/security.py: every response forbids inline script, framing and sniffing."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/", "/login", "/api/alerts", "/healthz", "/metrics", "/nowhere"])
def test_every_response_carries_the_security_headers(client, path: str) -> None:
    resp = client.get(path)
    policy = {
        d.split()[0]: d.split()[1:] for d in resp.headers["Content-Security-Policy"].split("; ")
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in resp.headers["Content-Security-Policy"]
    assert "script-src" not in policy or policy["script-src"] == ["'self'"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
