"""clients/alertmanager.py against a real Alertmanager: a silence is created with
equality matchers only, listed, expired; every failure is one AlertmanagerError."""

from __future__ import annotations

import json
import time

import am_support
import pytest
import requests
from am_support import unreachable
from support.procs import wait_until

from alert_webhook.clients.alertmanager import (
    AlertmanagerAPI,
    AlertmanagerError,
    Matcher,
    matchers_for,
)

pytestmark = pytest.mark.integration
alertmanager = am_support.alertmanager  # the fixture: a real Alertmanager


def test_matchers_are_equality_on_each_label_alertname_first() -> None:
    labels = {"service": "demo", "alertname": "ServiceUnavailable", "instance": ".*", "x": ""}
    assert matchers_for(labels) == [
        Matcher("alertname", "ServiceUnavailable"),
        Matcher("instance", ".*"),
        Matcher("service", "demo"),
    ]
    assert all(m.to_json()["isRegex"] is False for m in matchers_for(labels))


def test_a_silence_is_created_listed_and_expired(alertmanager: str) -> None:
    api = AlertmanagerAPI(alertmanager)
    now = time.time()
    matchers = matchers_for({"alertname": "DemoDown", "service": "demo", "instance": "a.*b"})
    silence_id = api.create_silence(matchers, now, now + 600, "run 7 (restart-demo)")
    [found] = api.list_silences([Matcher("alertname", "DemoDown")])
    assert (found.id, found.state, found.created_by) == (silence_id, "active", "recovery-stack")
    assert found.comment == "run 7 (restart-demo)"
    assert set(found.matchers) == set(matchers)  # a.*b stays a literal value
    api.expire_silence(silence_id)
    [expired] = [s for s in api.list_silences() if s.id == silence_id]
    assert expired.state == "expired"


def test_a_refusal_is_an_error_naming_the_status(alertmanager: str) -> None:
    api = AlertmanagerAPI(alertmanager)
    now = time.time()
    with pytest.raises(AlertmanagerError, match="create silence: HTTP 400"):
        api.create_silence([Matcher("alertname", "X")], now, now - 60, "ends before it starts")
    with pytest.raises(AlertmanagerError, match="expire silence nope: HTTP"):
        api.expire_silence("nope")


def test_no_matchers_or_a_regex_is_refused_before_asking() -> None:
    api = AlertmanagerAPI(unreachable())
    with pytest.raises(AlertmanagerError, match="no matchers"):
        api.create_silence([], 0, 60, "everything")
    with pytest.raises(AlertmanagerError, match="only equality matchers"):
        api.create_silence([Matcher("alertname", ".*", is_regex=True)], 0, 60, "regex")


def test_an_unreachable_alertmanager_is_an_error_not_a_hang() -> None:
    api = AlertmanagerAPI(unreachable(), timeout=2)
    with pytest.raises(AlertmanagerError, match="create silence: ConnectionError from http://"):
        api.create_silence([Matcher("alertname", "X")], 0, 60, "x")
    with pytest.raises(AlertmanagerError, match="list silences: ConnectionError"):
        api.list_silences()


def test_the_silence_mutes_that_alert_and_not_its_neighbour(alertmanager: str) -> None:
    labels = {"alertname": "MutedHere", "service": "demo", "instance": "a.*"}
    neighbour = {**labels, "instance": "b"}
    posted = requests.post(
        f"{alertmanager}/api/v2/alerts", json=[{"labels": labels}, {"labels": neighbour}], timeout=5
    )
    assert posted.status_code == 200
    now = time.time()
    silence_id = AlertmanagerAPI(alertmanager).create_silence(
        matchers_for(labels), now, now + 600, "run 8"
    )

    def states() -> dict[str, tuple[str, list[str]]]:
        got = requests.get(
            f"{alertmanager}/api/v2/alerts", params={"filter": 'alertname="MutedHere"'}, timeout=5
        ).json()
        return {a["labels"]["instance"]: (a["status"]["state"], a["status"]["silencedBy"])
                for a in got}  # fmt: skip

    wait_until(lambda: states()["a.*"][0] == "suppressed", 10, "the silence to apply")
    assert states() == {"a.*": ("suppressed", [silence_id]), "b": ("active", [])}


def test_alerts_are_listed_by_matchers_and_a_resolved_one_is_not(alertmanager: str) -> None:
    firing = {"alertname": "Listed", "service": "demo", "instance": 'a"b\\c'}
    gone = {**firing, "instance": "gone"}
    other = {"alertname": "NotListed", "service": "demo"}
    past = "2020-01-01T00:00:00Z"
    posted = requests.post(
        f"{alertmanager}/api/v2/alerts",
        json=[{"labels": firing}, {"labels": gone, "startsAt": past, "endsAt": past},
              {"labels": other}],
        timeout=5,
    )  # fmt: skip
    assert posted.status_code == 200
    api = AlertmanagerAPI(alertmanager)
    [listed] = api.list_alerts([Matcher("alertname", "Listed")])
    assert listed.labels == firing and listed.state in ("active", "unprocessed")
    assert [a.labels for a in api.list_alerts(matchers_for(firing))] == [firing]
    assert api.list_alerts(matchers_for(gone)) == []


def test_listing_alerts_of_an_unreachable_alertmanager_is_an_error() -> None:
    with pytest.raises(AlertmanagerError, match="list alerts: ConnectionError"):
        AlertmanagerAPI(unreachable(), timeout=2).list_alerts([Matcher("alertname", "X")])


def test_every_alert_is_listed_without_matchers_and_the_start_is_known(alertmanager: str) -> None:
    labels = {"alertname": "ListedWithAll", "service": "demo"}
    posted = requests.post(f"{alertmanager}/api/v2/alerts", json=[{"labels": labels}], timeout=5)
    assert posted.status_code == 200
    api = AlertmanagerAPI(alertmanager)
    assert labels in [a.labels for a in api.list_alerts()]
    started = api.started_at()
    assert started.tzinfo is not None and 0 <= time.time() - started.timestamp() < 600


class Answering(requests.Session):
    """A session whose every request gets this 200 answer: an Alertmanager (or a
    proxy in front of it) that answers nonsense."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]  # noqa: ANN001
        resp = requests.Response()
        resp.status_code, resp._content, resp.url = 200, self.body, url
        return resp


ALERT = {"fingerprint": "ab12", "labels": {"alertname": "X"}, "status": {"state": "active"},
         "startsAt": "2026-12-06T10:00:00.123456789Z"}  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [b"<html>proxy error</html>", b'{"alerts": []}', b'"[]"', b"[1]",
     json.dumps([{**ALERT, "fingerprint": 12}]).encode(),
     json.dumps([{**ALERT, "labels": {"alertname": 1}}]).encode(),
     json.dumps([{**ALERT, "startsAt": "2026-12-06T10:00:00"}]).encode(),
     json.dumps([{k: v for k, v in ALERT.items() if k != "status"}]).encode()],
)  # fmt: skip
def test_an_answer_that_is_not_a_list_of_alerts_is_an_error_never_an_empty_list(body) -> None:
    api = AlertmanagerAPI("http://alertmanager.invalid", session=Answering(body))
    with pytest.raises(AlertmanagerError, match="list alerts: not a list of alerts"):
        api.list_alerts()


def test_a_good_answer_is_read_with_alertmanagers_nanoseconds() -> None:
    api = AlertmanagerAPI("http://am.invalid", session=Answering(json.dumps([ALERT]).encode()))
    [alert] = api.list_alerts()
    assert (alert.fingerprint, alert.labels, alert.state) == ("ab12", {"alertname": "X"}, "active")
    assert alert.starts_at.isoformat() == "2026-12-06T10:00:00.123456+00:00"


@pytest.mark.parametrize("body", [b"{}", b'{"uptime": 5}', b'{"uptime": "yesterday"}', b"[]"])
def test_a_status_without_a_start_time_is_an_error(body) -> None:
    api = AlertmanagerAPI("http://alertmanager.invalid", session=Answering(body))
    with pytest.raises(AlertmanagerError, match="status: no start time"):
        api.started_at()
