"""incidents/silences.py against a real Alertmanager: an operator's silence is
recorded only when Alertmanager made it, and never left behind for an incident
that closed meanwhile; while it holds, the alert's resolution is read from
Alertmanager, recorded, and the silence expired. Fake clock for the pacing."""

from __future__ import annotations

import json
import time

import am_support
import pytest
import requests
from am_support import unreachable
from webhook_support import RECORDING, FakeClock, make_alert, make_notification

from alert_webhook.clients.alertmanager import AlertmanagerAPI, Matcher
from alert_webhook.incidents.silences import IncidentSilences, SilenceOutcome
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.store import SqlStore

pytestmark = pytest.mark.integration
alertmanager = am_support.alertmanager  # the fixture: a real Alertmanager


def _receive(store: SqlStore, *alerts, at: float) -> None:
    body = json.dumps(make_notification(*alerts)).encode()
    store.record_notification(parse_notification(body), body, at, RECORDING)


class ClosedWhileAsking(AlertmanagerAPI):
    """The real client; another operator closes the incident while Alertmanager answers."""

    def __init__(self, base_url: str, store: SqlStore) -> None:
        super().__init__(base_url)
        self.store = store

    def create_silence(self, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
        silence_id = super().create_silence(*args, **kwargs)
        self.store.incidents.resolve_handled(1, "bob", "fixed it", time.time())
        return silence_id


def test_a_silence_for_an_incident_closed_meanwhile_is_expired_again(alertmanager, store) -> None:
    now = time.time()
    _receive(store, make_alert("a", alertname="ClosedMeanwhile"), at=now)
    silences = IncidentSilences(
        store.incidents, ClosedWhileAsking(alertmanager, store), FakeClock(now)
    )
    done = silences.silence(1, 30, "alice")
    assert done.outcome is SilenceOutcome.CLOSED and done.incident["handled_by"] == "bob"
    assert done.incident["silence_id"] is None
    [made] = AlertmanagerAPI(alertmanager).list_silences([Matcher("alertname", "ClosedMeanwhile")])
    assert made.state == "expired"


# The watch: while an operator's silence holds, Alertmanager is asked every
# `incidents.silence_check_seconds` whether the alert still fires.

AUTH = {"Authorization": "Bearer t"}
CHECK = 15.0


@pytest.fixture
def clock() -> FakeClock:
    """Alertmanager judges silences and alerts by its own clock: start at real time."""
    return FakeClock(time.time())


STARTS_AT = make_alert()["startsAt"]  # the instance the webhook is told of
ENDED_AT = make_alert(status="resolved")["endsAt"]  # minutes after it, long past


def _in_alertmanager(
    am_url: str, labels: dict[str, str], resolved: bool = False, starts_at: str = STARTS_AT
) -> None:
    """Prometheus's part: the alert instance firing (or resolved) in Alertmanager."""
    alert: dict = {"labels": labels, "startsAt": starts_at}
    if resolved:
        alert["endsAt"] = ENDED_AT
    assert requests.post(f"{am_url}/api/v2/alerts", json=[alert], timeout=5).status_code == 200


def _silenced(app_factory, am_url: str, alertname: str, am_labels_too: bool = True):
    """The webhook told of a firing alert that an operator then silenced for 30 min."""
    app = app_factory(
        {"links": {"alertmanager_url": am_url}, "incidents": {"silence_check_seconds": CHECK}},
        {"ALERT_WEBHOOK_TOKEN": "t"},
    )
    alert = make_alert("a", alertname=alertname, service="demo")
    if am_labels_too:
        _in_alertmanager(am_url, alert["labels"])
    client = app.test_client()
    client.post("/alerts", json=make_notification(alert), headers=AUTH)
    resp = client.post("/api/incidents/1/silence", json={"minutes": 30}, headers=AUTH)
    assert resp.status_code == 200, resp.get_json()
    return app, alert["labels"], resp.get_json()["incident"]["silence_id"]


def _duties(app) -> None:
    app.extensions["alert_webhook"].workers.step("duties")


def _silence_state(am_url: str, silence_id: str) -> str:
    [found] = [s for s in AlertmanagerAPI(am_url).list_silences() if s.id == silence_id]
    return found.state


def test_the_resolution_is_read_from_alertmanager_and_the_silence_expired(
    app_factory, alertmanager, clock, store
) -> None:
    app, labels, silence_id = _silenced(app_factory, alertmanager, "WatchedResolves")
    _duties(app)
    clock.advance(CHECK)
    _duties(app)  # still firing there: nothing changes
    assert store.incidents.find(1)["closed_at"] is None
    _in_alertmanager(alertmanager, labels, resolved=True)
    clock.advance(CHECK - 1)
    _duties(app)  # not asked again before the interval
    assert store.incidents.find(1)["closed_at"] is None
    clock.advance(1)
    _duties(app)
    incident = store.incidents.find(1)
    assert (incident["closed_at"], incident["status"]) == (clock.now, "resolved")
    assert incident["silenced_until"] == clock.now  # it no longer holds
    assert _silence_state(alertmanager, silence_id) == "expired"

    def channels(state: str) -> set[str]:
        return {d["channel"] for d in store.outbox.list() if d["event_status"] == state}

    assert channels("resolved") and channels("resolved") == channels("firing")  # told as usual


def test_an_alert_that_resolved_and_fired_again_while_silenced_closes_its_incident(
    app_factory, alertmanager, clock, store
) -> None:
    # The instance the incident is about resolved; the same labels fire again
    # (a new startsAt) under the silence, which hides both from the webhook.
    app, labels, silence_id = _silenced(app_factory, alertmanager, "FlapsWhileSilenced")
    _in_alertmanager(alertmanager, labels, resolved=True)
    again = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now))
    _in_alertmanager(alertmanager, labels, starts_at=again)
    [listed] = AlertmanagerAPI(alertmanager).list_alerts(
        [Matcher("alertname", labels["alertname"])]
    )
    assert listed.labels == labels and listed.starts_at != STARTS_AT  # the new instance
    _duties(app)
    incident = store.incidents.find(1)
    assert (incident["closed_at"], incident["status"]) == (clock.now, "resolved")
    assert _silence_state(alertmanager, silence_id) == "expired"  # the new one is told


def test_an_alert_alertmanager_never_held_counts_as_resolved(
    app_factory, alertmanager, clock, store
) -> None:
    app, _labels, silence_id = _silenced(app_factory, alertmanager, "NeverThere", False)
    _duties(app)
    assert store.incidents.find(1)["closed_at"] == clock.now
    assert _silence_state(alertmanager, silence_id) == "expired"


def test_a_handled_incident_keeps_its_close_when_the_resolution_is_read(
    app_factory, alertmanager, clock, store
) -> None:
    app, labels, _silence_id = _silenced(app_factory, alertmanager, "HandledThenGone")
    client = app.test_client()
    client.post("/api/incidents/1/resolve", json={"note": "fixed by hand"}, headers=AUTH)
    handled_at = clock.now
    _in_alertmanager(alertmanager, labels, resolved=True)
    clock.advance(60)
    _duties(app)
    incident = store.incidents.find(1)
    assert incident["status"] == "resolved"  # the alert's state is recorded
    assert (incident["closed_at"], incident["handled_note"]) == (handled_at, "fixed by hand")


def test_an_unreachable_alertmanager_changes_nothing_and_the_duties_go_on(
    app_factory, alertmanager, clock, store, caplog
) -> None:
    app, _labels, _silence_id = _silenced(app_factory, alertmanager, "AskedNowhere")
    am = app.extensions["alert_webhook"].silences.api
    am.base_url = unreachable()  # Alertmanager goes away after the silence was made
    _duties(app)
    assert store.incidents.find(1)["closed_at"] is None
    assert "list alerts: ConnectionError" in caplog.text


def test_a_start_with_more_digits_than_alertmanager_lists_is_still_the_instance(
    app_factory, alertmanager, clock, store
) -> None:
    # Alertmanager keeps the start whole and notifies it so, but lists milliseconds.
    app = app_factory(
        {
            "links": {"alertmanager_url": alertmanager},
            "incidents": {"silence_check_seconds": CHECK},
        },
        {"ALERT_WEBHOOK_TOKEN": "t"},
    )
    starts = "2026-11-28T09:03:31.568123456Z"
    alert = make_alert("a", alertname="ListedToTheMillisecond", starts_at=starts)
    _in_alertmanager(alertmanager, alert["labels"], starts_at=starts)
    client = app.test_client()
    client.post("/alerts", json=make_notification(alert), headers=AUTH)
    assert (
        client.post("/api/incidents/1/silence", json={"minutes": 30}, headers=AUTH).status_code
        == 200
    )
    _duties(app)
    assert store.incidents.find(1)["closed_at"] is None  # still firing there
