"""incidents/brief.py: one incident for an acknowledge link's page, on both stores."""

from __future__ import annotations

import json

import pytest
from webhook_support import RECORDING, make_alert, make_notification

from alert_webhook.incidents.brief import IncidentBrief, incident_brief
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.store import SqlStore


@pytest.fixture
def store(any_store):
    return any_store


def _receive(store: SqlStore, *alerts, at: float = 100.0) -> None:
    body = json.dumps(make_notification(*alerts)).encode()
    store.record_notification(parse_notification(body), body, at, RECORDING)


def test_an_incident_is_read_with_its_alert_and_acknowledgement(store) -> None:
    _receive(store, make_alert("a"), make_alert("b", severity="high", instance="db2:9100"))
    brief = incident_brief(store.tx, 2)
    assert brief == IncidentBrief(
        alert_id=2,
        alertname="DemoServiceDown",
        severity="high",
        status="firing",
        labels={"alertname": "DemoServiceDown", "severity": "high", "instance": "db2:9100"},
        summary="DemoServiceDown on db1",
        acked_at=None,
        acked_by=None,
    )
    store.incidents.ack(2, "bob@example.org (email link)", 150.0)
    acked = incident_brief(store.tx, 2)
    assert acked is not None and (acked.acked_at, acked.acked_by) == (
        150.0,
        "bob@example.org (email link)",
    )


def test_a_resolved_incident_says_so_and_no_incident_is_none(store) -> None:
    _receive(store, make_alert("a"))
    _receive(store, make_alert("a", status="resolved"), at=200.0)
    brief = incident_brief(store.tx, 1)
    assert brief is not None and brief.status == "resolved"
    assert incident_brief(store.tx, 99) is None
