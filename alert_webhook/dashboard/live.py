"""`GET /api/console`: the console's live region as an HTML fragment.

The page's script polls it with If-None-Match. The ETag is made without
rendering: from the store's change token (one query of aggregates,
`console.py`), the minute (relative times are said to the minute), who is
looking (an operator's fragment has forms) and in which session (their CSRF
tokens are that session's), the breakers' states (held in this
process, not in the store) and the code that renders it. An unchanged console
answers 304 with no body at the cost of that query; a changed one is rendered
once. A fragment (rather than JSON) keeps one template for the page with and
without JavaScript.

The ETag is weak: two renders within one minute may word a relative time
differently ("4 min ago", "5 min ago") and are still the same console.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, session
from flask_wtf.csrf import generate_csrf

from alert_webhook import times
from alert_webhook.dashboard.console import Console
from alert_webhook.dashboard.pages import console_context
from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.web.auth import current_operator, viewer_required
from alert_webhook.web.context import ctx

bp = Blueprint("console", __name__, url_prefix="/api")
DASHBOARD = Path(__file__).resolve().parent  # this folder


@functools.cache
def _code_version() -> str:
    """The dashboard's code and templates: a webhook upgraded under an open page
    sends it the new rendering, though the store did not change."""
    digest = hashlib.sha256()
    for path in sorted(DASHBOARD.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html"):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def console_etag() -> str:
    app = ctx()
    try:
        token: tuple[Any, ...] = Console(app.store.tx).change_token()
    except StoreUnavailable:
        token = ("store unavailable",)
    breakers = sorted((name, b.state.value) for name, b in app.breakers.items())
    operator = current_operator()
    parts = (_code_version(), times.minute(app.clock()), operator, _forms_session(operator),
             breakers, token)  # fmt: skip
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _forms_session(operator: str | None) -> str | None:
    """The session an operator's forms are bound to: their CSRF tokens are good
    for this session only, so a new login (a new session) must not be answered
    304 with the forms of the old one. Only hashed into the ETag."""
    if operator is None:
        return None
    generate_csrf()  # the session's CSRF secret, made now if no form made it yet
    secret = session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    return secret if isinstance(secret, str) else None


@bp.get("/console")
@viewer_required
def fragment() -> Any:
    etag = console_etag()  # before the render: a change during it shows next poll
    if request.if_none_match.contains_weak(etag):
        resp = Response(status=304)
    else:
        resp = Response(render_template("_console.html", **console_context()), mimetype="text/html")
    resp.set_etag(etag, weak=True)
    resp.headers["Cache-Control"] = "no-cache"
    return resp
