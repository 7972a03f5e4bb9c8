"""`/ack/<token>`: the email's acknowledge link, which asks before it acts.

`GET` shows the incident and a form; only the form's `POST` (with the CSRF
token the page carries, bound to the browser's session) acknowledges, by the
recipient the link was made for ("bob@example.org (email link)"). A mail
scanner or link preview that fetches the URL acknowledges nothing. The link
itself is the credential (`delivery/channels/ack_links.py`): no login is asked, and it
acknowledges that one incident only. Refusals are pages saying why: an expired
link 400, an altered one 403, no such incident 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, current_app, render_template
from flask_wtf.csrf import CSRFError

from alert_webhook.config.environment import SECRET_KEY_ENV
from alert_webhook.delivery.channels import target_of
from alert_webhook.delivery.channels.ack_links import AckClaim, AckLinks, LinkExpired, LinkInvalid
from alert_webhook.incidents.brief import incident_brief
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


def _shown(token: str, claim: AckClaim, done: bool = False) -> Any:
    """The incident's page: the form while nobody has acknowledged it, else who did."""
    incident = incident_brief(ctx().store.tx, claim.alert_id)
    if incident is None:
        return _refused(404, f"No incident {claim.alert_id}: nothing to acknowledge.")
    acked = incident.acked_at
    return render_template(
        "ack/confirm.html",
        token=token,
        incident=incident,
        target=target_of(incident.labels),
        by=by_of(claim),
        done=done,
        acked_when=datetime.fromtimestamp(acked, UTC).strftime("%Y-%m-%d %H:%M UTC")
        if acked is not None
        else "",
    )


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
    # The store keeps the first acknowledgement; the page then says whose it is.
    app.store.incidents.ack(claim.alert_id, by, app.clock())
    current_app.logger.info("incident %s: acknowledge link confirmed by %s", claim.alert_id, by)
    return _shown(token, claim, done=True)
