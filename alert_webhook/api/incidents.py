"""Incidents and deliveries under /api: list them; the operators' actions on an
incident: acknowledge, resolve as handled, silence.

Each action takes a logged-in operator's form post from the page (answered with
a 303 back to it, or a short page saying what was refused) or JSON with the
bearer token (answered with JSON). Bad input is refused before anything is
written, naming the field.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, request, url_for
from markupsafe import Markup

from alert_webhook.db.schema import MAX_ID
from alert_webhook.incidents.silences import MAX_MINUTES, SilenceOutcome
from alert_webhook.text import one_line
from alert_webhook.web.auth import acting, action_required, viewer_required
from alert_webhook.web.context import ctx
from alert_webhook.web.ids import whole_number

MAX_NOTE = 500
# The other alerts one action may name: the console's window of alerts.
MAX_ALERTS = 2000

bp = Blueprint("incidents", __name__, url_prefix="/api")

_REFUSED_PAGE = Markup(
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>recovery-stack — not done</title></head>\n<body><h1>Not done</h1>\n"
    '<p id="problem" role="alert">{}</p>\n<p><a href="/">Back to the console</a></p>'
    "</body></html>\n"
)


@bp.get("/incidents")
@viewer_required
def list_incidents() -> Any:
    """Newest first; `?state=open` only those not closed (the terminal view's list)."""
    state = request.args.get("state")
    if state not in (None, "open"):
        return jsonify({"error": "state: must be open (or left out for every incident)"}), 400
    rows = ctx().store.incidents.list(open_only=state == "open")
    return jsonify({"incidents": rows})


@bp.get("/deliveries")
@viewer_required
def list_deliveries() -> Any:
    raw = request.args.get("alert_id")
    alert_id = None if raw is None else whole_number(raw, 1, MAX_ID)
    if raw is not None and alert_id is None:
        return jsonify({"error": f"alert_id: must be a whole number from 1 to {MAX_ID}"}), 400
    rows = ctx().store.outbox.list(alert_id=alert_id)
    return jsonify({"deliveries": rows})


def form_field(name: str) -> object:
    """A field of the JSON body or of the form, whichever the request carries."""
    if request.is_json:
        data = request.get_json(silent=True)
        return data.get(name) if isinstance(data, dict) else None
    return request.form.get(name)


def _done(status: str, incident: dict[str, Any]) -> Any:
    if acting().on_the_page:
        return redirect(url_for("dashboard.index"), code=303)
    return jsonify({"status": status, "incident": incident})


def refused(code: int, problem: str, incident: dict[str, Any] | None = None) -> Any:
    """Nothing done: a page saying why for the operator's form, JSON otherwise."""
    if acting().on_the_page:
        return _REFUSED_PAGE.format(problem), code, {"Content-Type": "text/html; charset=utf-8"}
    body: dict[str, Any] = {"error": problem}
    if incident is not None:
        body["incident"] = incident
    return jsonify(body), code


def _also() -> list[int] | None:
    """The other alerts an action names, besides the one in its path: the form's
    repeated `alert` field, or JSON `"alerts": [ids]`; None when one is not an id."""
    if request.is_json:
        data = request.get_json(silent=True)
        raw = data.get("alerts", []) if isinstance(data, dict) else []
        if not isinstance(raw, list):
            return None
    else:
        raw = request.form.getlist("alert")
    ids = []
    for item in raw:
        if isinstance(item, int) and not isinstance(item, bool):
            ids.append(item if 1 <= item <= MAX_ID else None)
        else:
            ids.append(whole_number(item, 1, MAX_ID) if isinstance(item, str) else None)
    if len(ids) > MAX_ALERTS or None in ids:
        return None
    return [i for i in ids if i is not None]


_ALSO_PROBLEM = f"alert: each must be an alert's id, from 1 to {MAX_ID}, at most {MAX_ALERTS}"


@bp.post("/incidents/<int:alert_id>/ack")
@action_required
def acknowledge(alert_id: int) -> Any:
    """Stops deadline escalation and reminders of this alert and of the other
    alerts the request names (the console's form names every unacknowledged
    alert of its incident). The dashboard posts a form here (a logged-in
    operator, with the session's CSRF token); scripts post JSON with the bearer
    token and may say `by`."""
    app = ctx()
    also = _also()
    if also is None:
        return refused(400, _ALSO_PROBLEM)
    by = acting().acked_by(form_field("by") if request.is_json else None)
    incident = app.store.incidents.ack(alert_id, by, app.clock(), also)
    if incident is None:
        return refused(404, _no_incident(alert_id, also))
    return _done("acknowledged", incident)


def _no_incident(alert_id: int, also: list[int]) -> str:
    if not also:
        return f"no incident {alert_id}"
    return f"no incident for one of the alerts {', '.join(map(str, sorted({alert_id, *also})))}"


def _note() -> str | None:
    """The `note` field on one line, or None when it is missing or blank."""
    raw = form_field("note")
    note = one_line(raw).strip() if isinstance(raw, str) else ""
    return note or None


def closed_how(incident: dict[str, Any]) -> str:
    if incident["handled_at"] is not None:
        return f"handled by {incident['handled_by']}: {incident['handled_note']}"
    return "resolved (Alertmanager said so)"


@bp.post("/incidents/<int:alert_id>/resolve")
@action_required
def resolve(alert_id: int) -> Any:
    """Close the incident as handled, with a required `note` saying how, and the
    open incidents of the other alerts the request names (as acknowledge does):
    they are no longer escalated or reminded, and Alertmanager's later
    resolution leaves the record as it is."""
    note = _note()
    if note is None:
        return refused(400, "note: required: say how the incident was handled")
    if len(note) > MAX_NOTE:
        return refused(400, f"note: at most {MAX_NOTE} characters (it has {len(note)})")
    also = _also()
    if also is None:
        return refused(400, _ALSO_PROBLEM)
    app = ctx()
    handled = app.store.incidents.resolve_handled(alert_id, acting().name, note, app.clock(), also)
    if handled.incident is None:
        return refused(404, _no_incident(alert_id, also))
    if not handled.taken:
        problem = f"incident {alert_id} is already closed: {closed_how(handled.incident)}"
        return refused(409, problem, handled.incident)
    return _done("handled", handled.incident)


def _minutes() -> int | None:
    """The `minutes` field as a whole number in range, or None: a JSON number
    (not true/false, not 1.5) or ASCII digits."""
    raw = form_field("minutes")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if 1 <= raw <= MAX_MINUTES else None
    return whole_number(raw, 1, MAX_MINUTES) if isinstance(raw, str) else None


@bp.post("/incidents/<int:alert_id>/silence")
@action_required
def silence(alert_id: int) -> Any:
    """Silence the incident's alert in Alertmanager for `minutes` (1 to a week):
    Alertmanager stops notifying it, the webhook stops escalating it. 503 naming
    Alertmanager when it cannot be reached or refuses; nothing is stored then."""
    minutes = _minutes()
    if minutes is None:
        return refused(400, f"minutes: must be a whole number from 1 to {MAX_MINUTES}")
    done = ctx().silences.silence(alert_id, minutes, acting().name)
    if done.outcome is SilenceOutcome.SILENCED and done.incident is not None:
        return _done("silenced", done.incident)
    if done.incident is None:
        return refused(404, f"no incident {alert_id}")
    if done.outcome is SilenceOutcome.CLOSED:
        problem = f"incident {alert_id} is closed ({closed_how(done.incident)}): not silenced"
        return refused(409, problem, done.incident)
    return refused(503, done.problem, done.incident)
