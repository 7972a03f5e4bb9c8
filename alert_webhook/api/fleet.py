"""The fleet breaker under /api: its limits and pauses, and an operator's resume.

`POST /api/fleet/resume` lifts the pause in force, recording who: the console
posts a form (a logged-in operator, with the CSRF token), scripts post with the
bearer token (recorded as the token's actor).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, request, url_for

from alert_webhook.fleet.breaker import Pause
from alert_webhook.web.auth import acting, action_required, viewer_required
from alert_webhook.web.context import ctx

bp = Blueprint("fleet", __name__, url_prefix="/api/fleet")


def pause_json(pause: Pause, resume_after: float | None, now: float) -> dict[str, Any]:
    return {
        "id": pause.id, "tripped_at": pause.tripped_at, "limit": pause.limit,
        "reason": pause.reason, "evidence": pause.evidence, "run_id": pause.run_id,
        "in_force": pause.in_force(now, resume_after), "lifted_at": pause.lifted_at(resume_after),
        "resumed_at": pause.resumed_at, "resumed_by": pause.resumed_by,
    }  # fmt: skip


@bp.get("/breaker")
@viewer_required
def breaker() -> Any:
    """The limits, whether automation is paused now, and the pauses on record."""
    app = ctx()
    limits, now = app.settings.fleet.breaker, app.clock()
    pauses = [pause_json(p, limits.resume_after, now) for p in app.store.fleet.list()]
    paused = limits.enabled and bool(pauses) and pauses[0]["in_force"]
    return jsonify({"limits": limits.model_dump(mode="json"), "paused": paused, "pauses": pauses})


@bp.post("/resume")
@action_required
def resume() -> Any:
    """Lift the pause in force: remediation acts again, counting runs from now."""
    app = ctx()
    limits, now = app.settings.fleet.breaker, app.clock()
    actor = acting()
    resumed = app.store.fleet.resume(actor.name, now, limits.resume_after)
    if resumed is None:
        return jsonify({"error": "fleet automation is not paused: nothing to resume"}), 409
    current_app.logger.warning("fleet automation resumed by %s", actor.name)
    if actor.operator is not None and not request.is_json:
        return redirect(url_for("dashboard.index"), code=303)
    return jsonify({"status": "resumed", "pause": pause_json(resumed, limits.resume_after, now)})
