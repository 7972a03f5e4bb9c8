"""GET /api/fleet/breaker and POST /api/fleet/resume: the resume is an action (the
bearer token, or an operator's session with its CSRF token), recorded with who
and when; refused without them, and a 409 when nothing is paused."""

from __future__ import annotations

import pytest
from webhook_support import SECRET_KEY, csrf_token, log_in, with_operator

from alert_webhook.fleet.breaker import Trip

TOKEN = {"ALERT_WEBHOOK_TOKEN": "t"}
AUTH = {"Authorization": "Bearer t"}
TRIP = Trip("max_failed", "4 runs failed or were ineffective in the last 30m", (), 1800.0,
            4, 4, ("host-1",))  # fmt: skip


@pytest.fixture
def app(app_factory):
    return app_factory(with_operator(), {**TOKEN, **SECRET_KEY})


def pause(store, now: float) -> int:
    held, won = store.fleet.trip(TRIP, now, None, lambda p: [])
    assert won
    return held.id


def paused(app) -> float | None:
    return app.extensions["alert_webhook"].metrics.registry.get_sample_value(
        "alert_webhook_fleet_automation_paused"
    )


def test_nothing_to_resume_when_not_paused(app) -> None:
    client = app.test_client()
    state = client.get("/api/fleet/breaker").get_json()
    assert (state["paused"], state["pauses"], state["limits"]["max_failed"]) == (False, [], 3)
    reply = client.post("/api/fleet/resume", headers=AUTH)
    assert reply.status_code == 409
    assert reply.get_json()["error"] == "fleet automation is not paused: nothing to resume"
    assert paused(app) == 0


def test_a_resume_needs_the_token_and_says_who(app, store, clock) -> None:
    pause_id = pause(store, clock.now)
    client = app.test_client()
    assert paused(app) == 1
    assert client.post("/api/fleet/resume").status_code == 401
    assert (
        client.post("/api/fleet/resume", headers={"Authorization": "Bearer x"}).status_code == 401
    )
    assert client.get("/api/fleet/breaker").get_json()["paused"] is True
    clock.advance(30)
    reply = client.post("/api/fleet/resume", headers=AUTH)
    assert reply.status_code == 200
    body = reply.get_json()["pause"]
    assert (body["id"], body["resumed_by"], body["resumed_at"], body["in_force"]) == (
        pause_id, "api token", clock.now, False,
    )  # fmt: skip
    assert paused(app) == 0
    [shown] = client.get("/api/fleet/breaker").get_json()["pauses"]
    assert (shown["limit"], shown["reason"], shown["resumed_by"]) == (
        "max_failed", TRIP.reason, "api token",
    )  # fmt: skip


def test_an_operator_resumes_with_the_consoles_form_and_csrf(app, store, clock) -> None:
    pause(store, clock.now)
    client = app.test_client()
    # Not logged in: the browser's form goes to the login page, nothing changes.
    refused = client.post("/api/fleet/resume", data={"csrf_token": "none"})
    assert refused.status_code == 303 and "/login" in refused.headers["Location"]
    log_in(client)
    assert client.post("/api/fleet/resume", data={}).status_code == 400  # no CSRF token
    assert client.post("/api/fleet/resume", data={"csrf_token": "forged"}).status_code == 400
    latest = store.fleet.latest()
    assert latest is not None and latest.resumed_at is None
    token = csrf_token(client.get("/").get_data(as_text=True))
    reply = client.post("/api/fleet/resume", data={"csrf_token": token})
    assert reply.status_code == 303 and reply.headers["Location"] == "/"
    latest = store.fleet.latest()
    assert latest is not None and (latest.resumed_by, latest.resumed_at) == ("alice", clock.now)
