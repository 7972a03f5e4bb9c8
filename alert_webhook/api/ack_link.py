"""`/ack/<token>`: the email's acknowledge link, which asks before it acts.

`GET` shows the incident and a form; only the form's `POST` (with the CSRF
token the page carries, bound to the browser's session) acknowledges, by the
recipient the link was made for ("bob@example.org (email link)"). A mail
scanner or link preview that fetches the URL acknowledges nothing. The link
itself is the credential (`delivery/channels/ack_links.py`): no login is asked, and it
acknowledges that one incident only, and only while it is open: a link followed
after the incident closed says how and when it closed (a press: 409, nothing
recorded). Refusals are pages saying why: an expired link 400, an altered one
403, no such incident 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, current_app, render_template
from flask_wtf.csrf import CSRFError

from alert_webhook.config.environment import SECRET_KEY_ENV
from alert_webhook.delivery.channels import target_of
from alert_webhook.delivery.channels.ack_links import AckClaim, AckLinks, LinkExpired, LinkInvalid
from alert_webhook.incidents.brief import IncidentBrief, incident_brief
from alert_webhook.web.context import ctx

bp = Blueprint("ack_link", __name__, template_folder="templates")
EXTENSION = "ack_links"


def install(app: Flask, links: AckLinks | None) -> None:
    """The links this app makes and reads; None: acknowledge links are off."""
    app.extensions[EXTENSION] = links
    app.register_blueprint(bp)


def _refused(status: int, problem: str) -> Any:
    page = render_template("ack/refused.html", problem=problem, console=ctx().links.dashboard_url)
    return page, status


def _claim(token: str) -> AckClaim | Any:
    """The link's claim, or the page refusing it."""
    links: AckLinks | None = current_app.extensions[EXTENSION]
    if links is None:
        off = f"Acknowledge links are off: the webhook has no {SECRET_KEY_ENV} to sign them."
        return _refused(404, off)
    try:
        return links.read(token)
    except LinkExpired:
        return _refused(400, "This acknowledge link has expired. Acknowledge on the console.")
    except LinkInvalid:
        return _refused(403, "This acknowledge link is not valid (altered, or not made here).")


def by_of(claim: AckClaim) -> str:
    """The name the acknowledgement records."""
    return f"{claim.recipient} (email link)"


def _utc(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC") if epoch else ""


def closed_how(incident: IncidentBrief) -> str:
    """How and when the incident closed, for the page; "" while it is open."""
    if incident.closed_at is None:
        return ""
    how = (
        f"handled by {incident.handled_by} ({incident.handled_note})"
        if incident.handled_by
        else "resolved (Alertmanager said so)"
    )
    return f"{how} at {_utc(incident.closed_at)}"


def _shown(token: str, claim: AckClaim, posted: bool = False, recorded: bool = False) -> Any:
    """The incident's page: the form while it is open and nobody has acknowledged
    it; else who did, or that it closed and when (after a press: 409, nothing
    recorded)."""
    incident = incident_brief(ctx().store.tx, claim.alert_id)
    if incident is None:
        return _refused(404, f"No incident {claim.alert_id}: nothing to acknowledge.")
    closed = "" if recorded else closed_how(incident)
    page = render_template(
        "ack/confirm.html",
        token=token,
        incident=incident,
        target=target_of(incident.labels),
        by=by_of(claim),
        done=recorded,
        posted=posted,
        closed=closed,
        acked_when=_utc(incident.acked_at),
    )
    return (page, 409) if closed and posted else page


@bp.get("/ack/<token>")
def confirm(token: str) -> Any:
    claim = _claim(token)
    return _shown(token, claim) if isinstance(claim, AckClaim) else claim


@bp.post("/ack/<token>")
def acknowledge(token: str) -> Any:
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError:
        return _refused(400, "The form expired or did not come from its page; reload the link.")
    claim = _claim(token)
    if not isinstance(claim, AckClaim):
        return claim
    app = ctx()
    by = by_of(claim)
    # Only an open incident nobody acknowledged yet is acknowledged; the page then
    # says whose the first acknowledgement is, or that the incident closed.
    recorded = app.store.incidents.ack_open(claim.alert_id, by, app.clock())
    if recorded:
        current_app.logger.info("incident %s: acknowledge link confirmed by %s", claim.alert_id, by)
    return _shown(token, claim, posted=True, recorded=recorded)
