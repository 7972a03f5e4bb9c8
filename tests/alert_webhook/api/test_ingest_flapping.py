"""Flapping through the real ingest path: Alertmanager's own payloads (the
fixtures are real notifications) posted to POST /alerts, one per state change,
as Alertmanager sends a flapping alert — each firing a new instance (a new
`startsAt`), each resolution its `endsAt`. Counts state changes in and
messages out; the duty, the console's marker and the gauge on the way. Fake
clock."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest
from webhook_support import CONTACTS, fixture_json

AUTH = {"Authorization": "Bearer t"}
FLAPPING = {"max_changes": 4, "window_seconds": 1800, "hold_seconds": 600}


@pytest.fixture
def app(app_factory):
    settings = {**CONTACTS, "incidents": {"flapping": FLAPPING}}
    return app_factory(settings, {"ALERT_WEBHOOK_TOKEN": "t"})


def _notification(n: int) -> dict[str, Any]:
    """State change `n` of the fixture's alert: even ones fire instance n//2 (the
    firing fixture as it is, but for its start), odd ones resolve it (the resolved
    fixture's first alert, given the firing one's labels and fingerprint)."""
    firing = fixture_json("firing-single.json")
    starts = f"2026-11-28T09:{n // 2:02d}:00Z"
    if n % 2 == 0:
        firing["alerts"][0]["startsAt"] = starts
        return firing
    body = fixture_json("resolved-group.json")
    alert = copy.deepcopy(body["alerts"][0])
    alert.update(
        labels=firing["alerts"][0]["labels"], fingerprint=firing["alerts"][0]["fingerprint"],
        startsAt=starts, endsAt=f"2026-11-28T09:{n // 2:02d}:30Z",
    )  # fmt: skip
    body["alerts"] = [alert]
    return body


def _messages(store) -> Counter[str]:
    """Messages out, by channel (a skipped delivery is no message)."""
    return Counter(
        d["channel"] for d in store.outbox.list(limit=10_000) if d["status"] != "skipped"
    )


def test_state_changes_in_and_messages_out(app, clock) -> None:
    ctx = app.extensions["alert_webhook"]
    client = app.test_client()
    changes = 14  # seven fire/resolve cycles, one a minute
    for n in range(changes):
        resp = client.post("/alerts", json=_notification(n), headers=AUTH)
        assert resp.status_code == 200 and resp.get_json()["state_changes"] == 1
        clock.advance(60)
    # Critical: SMS, email and dashboard. Four changes as usual, then one notice.
    assert _messages(ctx.store) == {"sms": 5, "email": 5, "dashboard": 5}
    notes = [d["note"] for d in ctx.store.outbox.list(limit=100) if d["channel"] == "sms"]
    assert "flapping: 5 changes in 30 min" in notes
    page = client.get("/", headers=AUTH).get_data(as_text=True)
    assert '<span class="flapping">flapping: 5 changes in 30 min</span>' in page
    assert ctx.metrics.registry.get_sample_value("alert_webhook_flapping_alerts") == 1
    # Held resolved for ten minutes: told once, where the messages went.
    clock.advance(600)
    ctx.workers.step("duties")
    ctx.workers.step("duties")
    assert _messages(ctx.store) == {"sms": 6, "email": 6, "dashboard": 6}
    assert ctx.metrics.registry.get_sample_value("alert_webhook_flapping_alerts") == 0
    page = client.get("/", headers=AUTH).get_data(as_text=True)
    assert '<span class="flapping">stopped flapping: resolved for 10 min</span>' in page
