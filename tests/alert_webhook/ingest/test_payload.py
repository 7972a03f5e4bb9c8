"""payload.py: Alertmanager's version-4 body → typed notification, or every problem at once."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webhook_support import fixture_json, make_alert, make_notification

from alert_webhook.ingest.payload import PayloadError, parse_notification


def _body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_real_firing_payload_parses_each_alert_by_its_own_fields() -> None:
    n = parse_notification(_body(fixture_json("firing-single.json")))
    assert n.version == "4" and n.status == "firing" and n.receiver == "wh"
    (alert,) = n.alerts
    assert alert.alertname == "DemoServiceDown"
    assert alert.severity == "critical"
    assert alert.fingerprint == "f284911ae1ecea1d"
    assert alert.endsAt is None  # Alertmanager's zero time means "no end yet"
    assert alert.startsAt.tzinfo is not None


def test_real_resolved_group_keeps_per_alert_labels() -> None:
    n = parse_notification(_body(fixture_json("resolved-group.json")))
    assert [a.labels["instance"] for a in n.alerts] == ["127.0.0.1:19103", "127.0.0.1:19104"]
    assert all(a.status == "resolved" and a.endsAt is not None for a in n.alerts)
    assert "instance" not in n.commonLabels


def test_unknown_fields_from_later_versions_are_ignored() -> None:
    data = make_notification()
    data["somethingNew"] = {"x": 1}
    data["alerts"][0]["newField"] = 3
    assert parse_notification(_body(data)).alerts[0].fingerprint == "fp1"


def test_missing_severity_is_empty_not_an_error() -> None:
    alert = make_alert()
    del alert["labels"]["severity"]
    assert parse_notification(_body(make_notification(alert))).alerts[0].severity == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "(body)"),
        (b"\xff\xfe", "(body)"),
        (b"[1, 2]", "(body)"),
        (b'"text"', "(body)"),
    ],
)
def test_body_that_is_not_a_json_object(body: bytes, field: str) -> None:
    with pytest.raises(PayloadError) as exc:
        parse_notification(body)
    assert exc.value.problems[0]["field"] == field


def _problems(data: dict) -> dict[str, str]:
    with pytest.raises(PayloadError) as exc:
        parse_notification(_body(data))
    return {p["field"]: p["problem"] for p in exc.value.problems}


def test_every_problem_is_reported_at_once_with_its_field() -> None:
    data = make_notification(make_alert(), make_alert("fp2"))
    data["version"] = "3"
    del data["groupKey"]
    data["alerts"][1]["status"] = "pending"
    data["alerts"][1]["labels"] = {"severity": "high"}
    problems = _problems(data)
    assert set(problems) >= {"version", "groupKey", "alerts[1].status", "alerts[1].labels"}
    assert "alertname" in problems["alerts[1].labels"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["alerts"][0].update(labels={"alertname": 5}), "alerts[0].labels.alertname"),
        (lambda d: d["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        # Without a zone the instant is unknown: 09:03 where?
        (lambda d: d["alerts"][0].update(startsAt="2026-11-28T09:03:31"), "alerts[0].startsAt"),
        (lambda d: d["alerts"][0].update(endsAt="2026-11-28T09:10:00"), "alerts[0].endsAt"),
        (lambda d: d["alerts"][0].update(fingerprint=""), "alerts[0].fingerprint"),
        (lambda d: d["alerts"][0].update(fingerprint="x" * 65), "alerts[0].fingerprint"),
        (lambda d: d["alerts"][0].pop("fingerprint"), "alerts[0].fingerprint"),
        (lambda d: d.update(alerts=[]), "alerts"),
        (lambda d: d.update(alerts="many"), "alerts"),
        (lambda d: d.update(truncatedAlerts=-1), "truncatedAlerts"),
        (lambda d: d.update(status=None), "status"),
    ],
)
def test_wrong_types_and_missing_fields_name_the_field(mutate, field: str) -> None:
    data = make_notification()
    mutate(data)
    assert field in _problems(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(["version", "status", "alerts", "groupKey", "receiver"]), value=json_values
)
def test_any_wrong_value_is_a_payload_error_never_a_crash(key: str, value: object) -> None:
    data = make_notification()
    data[key] = value
    try:
        parse_notification(_body(data))
    except PayloadError as exc:
        assert exc.problems and all(p["field"] and p["problem"] for p in exc.problems)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(body: bytes) -> None:
    with contextlib.suppress(PayloadError):
        parse_notification(body)
