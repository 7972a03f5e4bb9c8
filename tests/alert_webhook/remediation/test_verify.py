"""remediation/verify.py: the alert's expression from its generatorURL, the alert's
own series, the window query, and every verdict — against a fake Prometheus
(the seam), and the HTTP client against a port nothing listens on and a
loopback server that answers nonsense. The client against a real Prometheus:
tests/integration/test_verify_prometheus.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from runs_support import FakePrometheus
from support.loopback import Replying, serving
from support.procs import free_port

from alert_webhook.remediation.playbooks import Verify, playbooks_from_mapping
from alert_webhook.remediation.verify import (
    Checks,
    HttpPrometheus,
    PrometheusError,
    Verification,
    alert_expression,
    of_alert,
    window_query,
)

URL = "http://prom:9090/graph?g0.expr=up%7Bjob%3D%22demo%22%7D+%3D%3D+0&g0.tab=1"
LABELS = {"alertname": "DemoDown", "severity": "high", "job": "demo", "instance": "a:1"}


def test_the_expression_comes_from_the_generator_url() -> None:
    assert alert_expression(URL) == 'up{job="demo"} == 0'
    assert alert_expression("http://prom:9090/graph?g0.tab=1") is None
    assert alert_expression("") is None


def test_only_the_alerts_own_series_count() -> None:
    series = [
        {"__name__": "up", "job": "demo", "instance": "a:1"},  # this alert's
        {"job": "demo", "instance": "b:1"},  # another instance's
        {},  # an aggregate: no labels to tell it apart, so it is this alert's too
        {"job": "demo", "instance": "a:1", "zone": "x"},  # a label the alert lacks
    ]
    assert of_alert(series, LABELS) == [series[0], series[2]]


def test_the_window_query_asks_for_any_result_in_the_whole_window() -> None:
    assert window_query("up == 0", 30) == (
        "count_over_time((up == 0)[30000ms:1000ms]) or (up == 0)"
    )
    assert window_query("up == 0", 3600) == (
        "count_over_time((up == 0)[3600000ms:12000ms]) or (up == 0)"
    )


@pytest.fixture
def prometheus() -> FakePrometheus:
    fake = FakePrometheus()
    fake.scrape = 15.0
    return fake


NOW = 1_000_000.0


def _check(prometheus: FakePrometheus | None, verify: Verify, url: str = URL) -> Verification:
    """The verification of a step that worked 40 s ago."""
    return Checks(prometheus).begin(verify, url, "DemoDown", NOW - 40)


def test_nothing_of_the_alert_in_the_window_is_verified(prometheus: FakePrometheus) -> None:
    prometheus.answers["up{"] = [{"job": "demo", "instance": "b:1"}]  # someone else's
    verdict = Checks(prometheus).verify(_check(prometheus, Verify(window=30)), LABELS, NOW)
    assert verdict.cleared and verdict.final
    assert verdict.detail == (
        "verified after 40s: DemoDown's condition returned nothing of this alert for 30s "
        "(waited up to 45s: 15s scrape interval + 30s clear)"
    )
    assert prometheus.checks() == [window_query('up{job="demo"} == 0', 30)]


def test_the_alert_still_there_is_checked_again_until_its_deadline(
    prometheus: FakePrometheus,
) -> None:
    prometheus.answers["up{"] = [{"job": "demo", "instance": "a:1"}]
    check = _check(prometheus, Verify(window=30))
    assert check.until == NOW - 40 + 45
    early = Checks(prometheus).verify(check, LABELS, NOW)
    assert (early.cleared, early.final) == (False, False)
    late = Checks(prometheus).verify(check, LABELS, check.until)
    assert (late.cleared, late.final) == (False, True)
    assert late.detail == (
        "not verified: DemoDown's condition still returned 1 series of this alert after 45s "
        "(waited up to 45s: 15s scrape interval + 30s clear)"
    )


def test_a_playbooks_own_query_is_asked_instead(prometheus: FakePrometheus) -> None:
    check = _check(prometheus, Verify(query="demo_queue_depth > 100"))
    verdict = Checks(prometheus).verify(check, LABELS, NOW)
    assert verdict.cleared
    assert prometheus.checks() == [window_query("demo_queue_depth > 100", 30)]
    assert verdict.detail.startswith(
        "verified after 40s: the playbook's verify query returned nothing of this alert"
    )


def test_a_probe_fed_series_waits_for_its_probes_interval(prometheus: FakePrometheus) -> None:
    prometheus.probed = {"probe_success": 60.0}
    check = Checks(prometheus).begin(
        Verify(query="probe_success == 0", window=30), URL, "ServiceUnavailable", NOW
    )
    assert check.until == NOW + 60 + 15 + 30
    assert check.why == "waited up to 1m 45s: 1m probe interval + 15s scrape interval + 30s clear"
    assert check.subject == "the playbook's verify query"
    prometheus.probed, prometheus.unpublished = {}, {"probe_success"}  # an older probe exporter
    assumed = Checks(prometheus).begin(Verify(query="probe_success == 0"), URL, "X", NOW)
    assert assumed.until == check.until


def test_without_an_expression_or_a_prometheus_nothing_is_verified(
    prometheus: FakePrometheus,
) -> None:
    bare = _check(prometheus, Verify(), "http://prom:9090/graph")
    verdict = Checks(prometheus).verify(bare, LABELS, NOW)
    assert not verdict.cleared and verdict.final
    assert "generatorURL has no expression" in verdict.detail
    assert prometheus.asked == []
    alone = Checks(None).verify(_check(None, Verify()), LABELS, NOW)
    assert (alone.cleared, alone.detail) == (False, "not verified: no Prometheus to ask")


def test_prometheus_unreachable_is_said_and_not_verified() -> None:
    port = free_port()
    checks = Checks(HttpPrometheus(f"http://127.0.0.1:{port}", timeout=2))
    check = checks.begin(Verify(), URL, "DemoDown", NOW - 700)
    assert check.why.startswith(
        "waited up to 10m 30s: the default 10m, as Prometheus could not tell the lag "
        f"(Prometheus at http://127.0.0.1:{port}: unreachable: "
    )
    verdict = checks.verify(check, LABELS, NOW)
    assert not verdict.cleared and verdict.final
    assert verdict.detail.startswith(f"not verified: Prometheus at http://127.0.0.1:{port}: ")
    assert "Connection refused" in verdict.detail


def _book(**kw: Any):
    data = {"name": "b", "match": {"alertname": "X"}, "actions": [], **kw}
    return playbooks_from_mapping({"playbooks": [data]}).playbooks[0]


def test_a_precondition_holds_only_when_its_query_returns_something(
    prometheus: FakePrometheus,
) -> None:
    book = _book(precondition={"query": "avg(up) >= 0.8", "reason": "most of the pool is up"})
    checks = Checks(prometheus)
    assert checks.precondition(_book()) is None
    missing = checks.precondition(book)
    assert missing is not None
    assert (missing.holds, missing.detail) == (False, "avg(up) >= 0.8 returned nothing")
    prometheus.answers["avg(up)"] = [{}]
    held = checks.precondition(book)
    assert held is not None
    assert (held.holds, held.detail) == (True, "avg(up) >= 0.8 returned 1 series")
    prometheus.answers["avg(up)"] = PrometheusError("Prometheus at http://p: timed out")
    down = checks.precondition(book)
    assert down is not None
    assert (down.holds, down.detail) == (False, "avg(up) >= 0.8: Prometheus at http://p: timed out")


class _Nonsense(Replying):
    replies: list[tuple[int, bytes]] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.reply(*type(self).replies.pop(0))


@pytest.fixture
def nonsense() -> Iterator[str]:
    with serving(_Nonsense) as port:
        yield f"http://127.0.0.1:{port}"


def test_answers_that_are_not_results_are_errors_naming_why(nonsense: str) -> None:
    _Nonsense.replies = [
        (400, b'{"status":"error","errorType":"bad_data","error":"parse error\\nat 1"}'),
        (200, b"<html>a proxy</html>"),
        (200, b'{"status":"success","data":{"resultType":"string","result":[1,"x"]}}'),
        (200, b'{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}'),
    ]
    client = HttpPrometheus(nonsense)
    with pytest.raises(PrometheusError, match=r"answered 400: parse error at 1$"):
        client.query("up ==")
    with pytest.raises(PrometheusError, match=r"answered 200: not a query result$"):
        client.query("up")
    with pytest.raises(PrometheusError, match="not a vector result: string"):
        client.query('"x"')
    assert client.query("1") == [{}]
