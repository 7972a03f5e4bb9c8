"""Who may call what: the bearer token for machines, a form token for the dashboard.

Alertmanager and scripts send `Authorization: Bearer <token>`. A browser's
form cannot, so the dashboard's forms carry a token derived from the same
secret and bound to one action (`ack:<incident>`): a page from this webhook can
acknowledge, another site cannot forge the post. Both compare in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import jsonify, request

from alert_webhook.context import ctx

_FORM_KEY_CONTEXT = b"recovery-stack dashboard form v1:"


def bearer_ok(expected: str | None) -> bool:
    """True without a configured token, else when the request carries it."""
    if expected is None:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


def bearer_refusal() -> Any | None:
    """The 401 answer when the request lacks the configured bearer token, else None."""
    if bearer_ok(ctx().token):
        return None
    return jsonify({"error": "missing or wrong bearer token in the Authorization header"}), 401


def bearer_required(
    refused: Callable[[], None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view that answers 401 without the bearer token; `refused` is told first."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refusal = bearer_refusal()
            if refusal is None:
                return view(*args, **kwargs)
            if refused is not None:
                refused()
            return refusal

        return guarded

    return decorate


def form_token(secret: str, action: str) -> str:
    """The token a dashboard form carries for `action`; every replica sharing the
    secret derives the same one."""
    key = hashlib.sha256(_FORM_KEY_CONTEXT + secret.encode()).digest()
    return hmac.new(key, action.encode(), hashlib.sha256).hexdigest()


def form_ok(secret: str | None, action: str) -> bool:
    """True without a configured token, else when the posted form token fits `action`."""
    if secret is None:
        return True
    given = request.form.get("form_token", "")
    return hmac.compare_digest(given.encode(), form_token(secret, action).encode())
