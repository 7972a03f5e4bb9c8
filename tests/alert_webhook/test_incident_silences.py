"""incident_silences.py against a real Alertmanager: an operator's silence is
recorded only when Alertmanager made it, and never left behind for an incident
that closed meanwhile."""

from __future__ import annotations

import json
import time

import am_support
import pytest
from webhook_support import RECORDING, FakeClock, make_alert, make_notification

from alert_webhook.alertmanager_api import AlertmanagerAPI, Matcher
from alert_webhook.incident_silences import IncidentSilences, Outcome
from alert_webhook.payload import parse_notification
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
    assert done.outcome is Outcome.CLOSED and done.incident["handled_by"] == "bob"
    assert done.incident["silence_id"] is None
    [made] = AlertmanagerAPI(alertmanager).list_silences([Matcher("alertname", "ClosedMeanwhile")])
    assert made.state == "expired"
