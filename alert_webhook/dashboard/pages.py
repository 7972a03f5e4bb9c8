"""The web page: incidents one per episode of a failing service, each with its
actions at the top, its remediation runs in one line each (to approve or reject
when they wait for an operator), its timeline and the text of every message it
sent; channel health."""

from __future__ import annotations

import functools
import time
from typing import Any

from flask import Blueprint, render_template
from markupsafe import Markup

from alert_webhook import times
from alert_webhook.dashboard.console import RECENT_DELIVERIES, Console, ConsoleView
from alert_webhook.dashboard.health import (
    FleetPauseView,
    RecoveryFigures,
    ResponseFigures,
    channel_health,
    fleet_pause,
    recovery_figures,
    response_figures,
)
from alert_webhook.dashboard.messages import MessageTexts
from alert_webhook.dashboard.timeline import timeline
from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.text import followable
from alert_webhook.web.auth import current_operator, page_viewer_required
from alert_webhook.web.context import ctx

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)
bp.add_app_template_test(followable, "followable")
UTC_TEXT = "%Y-%m-%d %H:%M:%S UTC"


@bp.app_template_filter("utc")
def utc(epoch: float | None) -> str:
    """Epoch seconds as people read them on the page."""
    if epoch is None:
        return ""
    return time.strftime(UTC_TEXT, time.gmtime(epoch))


# Silence durations the console offers (minutes); the action takes 1..10080.
SILENCE_CHOICES = ((30, "30 min"), (60, "1 h"), (240, "4 h"), (1440, "1 d"), (10080, "7 d"))


def when(epoch: float, now: float) -> Markup:
    """A moment as the console shows it: "5 min ago", the exact UTC time on hover
    and in `datetime`. A function rather than a template macro: the page has
    thousands of them, and a macro call costs ten times as much."""
    moment = time.gmtime(epoch)
    exact, title = time.strftime(times.ISO, moment), time.strftime(UTC_TEXT, moment)
    # Every part is made here from a number: nothing to escape.
    return Markup(f'<time datetime="{exact}" title="{title}">{times.ago(epoch, now)}</time>')


def console_context() -> dict[str, Any]:
    """Everything the console shows, read once; the page and `GET /api/console`
    render the same fragment from it."""
    app = ctx()
    now = app.clock()
    recovery: RecoveryFigures | None = None
    response: list[ResponseFigures] = []
    fleet: FleetPauseView | None = None
    try:
        view = Console(app.store.tx).read()
        fleet = fleet_pause(app.store.fleet.latest(), app.settings.fleet.breaker, now)
        pending, oldest_pending = app.store.outbox.backlog(now)
        recovery = recovery_figures(app.store.recovery.improvement(now))
        response = response_figures(app.store.response.distributions(now))
        store_ok = True
    except StoreUnavailable:
        view, pending, oldest_pending, store_ok = ConsoleView([], {}, {}, {}), 0, 0.0, False
    problems = {
        c.name: None if c.configured else (c.problem or "not configured")
        for c in app.channels.values()
    }
    unconfigured = {name: problem for name, problem in problems.items() if problem}
    # A channel whose configuration lists no provider was left out on purpose.
    unused = frozenset(
        name for name in problems
        if not getattr(getattr(app.settings.channels, name, None), "providers", True)
    )  # fmt: skip
    texts = MessageTexts(app.links, app.channels)
    breakers = {name: b.state.value for name, b in app.breakers.items()}
    return {
        "now": now,
        "store_ok": store_ok,
        "links": app.links,
        "incidents": [timeline(i, view, unconfigured, texts) for i in view.incidents],
        "open_incidents": sum(1 for i in view.incidents if i.firing),
        "firing_alerts": sum(1 for i in view.incidents for a in i.alerts if a.open),
        "pending": pending,
        "oldest_pending": oldest_pending,
        "channel_health": channel_health(problems, breakers, view.failures, unused),
        "failure_counts": view.failure_counts,
        "recent": RECENT_DELIVERIES,
        "recovery": recovery,
        "response": response,
        "fleet": fleet,
        "operator": current_operator(),
        "silence_choices": SILENCE_CHOICES,
        "when": functools.partial(when, now=now),
        "duration": times.duration,
        "deadline": times.deadline,
    }


@bp.get("/")
@page_viewer_required
def index() -> Any:
    return render_template("index.html", **console_context())
