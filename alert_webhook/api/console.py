"""`GET /api/console`: the console's live region as an HTML fragment.

The page's script polls it with If-None-Match; an unchanged console answers 304
with no body, so an open page costs one render and a hash per poll. A fragment
(rather than JSON) keeps one template for the page with and without JavaScript.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from flask import Blueprint, Response, render_template, request

from alert_webhook.api.auth import viewer_required
from alert_webhook.dashboard import console_context

bp = Blueprint("console", __name__, url_prefix="/api")

# A CSRF token is re-signed with the time on every render: leave it out of the
# ETag, or no poll would ever be answered 304.
_TOKEN = re.compile(r'name="csrf_token" value="[^"]*"')


@bp.get("/console")
@viewer_required
def fragment() -> Any:
    html = render_template("_console.html", **console_context())
    etag = hashlib.sha256(_TOKEN.sub("", html).encode()).hexdigest()[:32]
    if etag in request.if_none_match:
        resp = Response(status=304)
    else:
        resp = Response(html, mimetype="text/html")
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "no-cache"
    return resp
