"""The drills page, `/drills` (linked from the console): each scenario's newest
run and newest success with the recovery time it measured, then the newest
drills with every scenario's result in words. Autoescaped: a drill's detail is
text, never markup."""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, render_template

from alert_webhook import times
from alert_webhook.dashboard.pages import when
from alert_webhook.web.auth import current_operator, page_viewer_required
from alert_webhook.web.context import ctx

bp = Blueprint("drills_page", __name__, template_folder="templates")
SHOWN = 20


@bp.get("/drills")
@page_viewer_required
def page() -> Any:
    app = ctx()
    now = app.clock()
    return render_template(
        "drills.html",
        summaries=app.store.drills.summaries(),
        drills=app.store.drills.recent(SHOWN),
        shown=SHOWN,
        operator=current_operator(),
        when=functools.partial(when, now=now),
        duration=times.duration,
    )
