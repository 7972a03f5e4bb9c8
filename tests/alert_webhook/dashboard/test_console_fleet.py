"""The console shows the fleet breaker's pause: why and since when, the resume
button for a logged-in operator, and who resumed it."""

from __future__ import annotations

import re

from webhook_support import SECRET_KEY, log_in, with_operator

from alert_webhook.fleet.breaker import Trip

TRIP = Trip("max_hosts", "acting on host-3 would make 3 hosts acted on", (), 1800.0,
            0, 0, ("host-1", "host-2"), "host-3")  # fmt: skip


def section(page: str) -> str:
    found = re.search(r'<section id="fleet-breaker".*?</section>', page, re.S)
    assert found, "the page shows the fleet breaker"
    return found.group(0)


def test_the_console_shows_a_pause_and_who_resumed_it(app_factory, store, clock) -> None:
    app = app_factory(with_operator(), SECRET_KEY)
    client = app.test_client()
    assert 'id="fleet-breaker"' not in client.get("/").get_data(as_text=True)  # never paused
    store.fleet.trip(TRIP, clock.now, None, lambda p: [])
    shown = section(client.get("/").get_data(as_text=True))
    assert 'id="fleet-paused"' in shown and "(max_hosts): acting on host-3" in shown
    assert "Log in to resume automation" in shown and "<form" not in shown
    log_in(client)
    fragment = section(client.get("/api/console").get_data(as_text=True))
    assert 'class="action-resume-fleet"' in fragment and 'name="csrf_token"' in fragment
    clock.advance(120)
    store.fleet.resume("alice", clock.now)
    resumed = section(client.get("/api/console").get_data(as_text=True))
    assert 'id="fleet-resumed"' in resumed and "resumed by alice" in resumed
    assert "<form" not in resumed
