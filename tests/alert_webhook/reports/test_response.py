"""reports/response.py on both stores: time to acknowledge and to resolve, each
incident observed once in each, by severity and service, across the settled
history's cutoff; the histograms as Prometheus reads them; the quantiles the
console shows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).parent))
from noise_support import DAY, T0, fire, resolve  # noqa: E402

from alert_webhook.reports.response import (  # noqa: E402
    ACKNOWLEDGE,
    RESOLVE,
    Distribution,
    ResponseCollector,
    by_severity,
)

TTA = "alert_webhook_time_to_acknowledge_seconds"
TTR = "alert_webhook_time_to_resolve_seconds"


@pytest.fixture
def store(any_store):
    return any_store


def _history(store) -> None:
    """db (critical): acked after 20 s, resolved after 100 s; acked after 200 s,
    still open. web (high): resolved after 40 s unacknowledged; handled after 600 s
    and acknowledged only later (not an acknowledgement of an open incident)."""
    a = fire(store, "a", 0, service="db")
    store.incidents.ack(a, "ops", T0 + 20)
    resolve(store, "a", 0, 100, service="db")
    b = fire(store, "b", 1000, service="db")
    store.incidents.ack(b, "ops", T0 + 1200)
    fire(store, "c", 0, severity="high", service="web")
    resolve(store, "c", 0, 40, severity="high", service="web")
    d = fire(store, "d", 0, severity="high", service="web")
    store.incidents.resolve_handled(d, "ops", "restarted", T0 + 600)
    store.incidents.ack(d, "ops", T0 + 700)


def test_each_incident_is_observed_once_in_each(store) -> None:
    _history(store)
    found = store.response.distributions(T0 + 3 * DAY)
    tta, ttr = by_severity(found, ACKNOWLEDGE), by_severity(found, RESOLVE)
    assert {s: (d.count, round(d.total)) for s, d in tta.items()} == {"critical": (2, 220)}
    assert {s: (d.count, round(d.total)) for s, d in ttr.items()} == {
        "critical": (1, 100), "high": (2, 640)}  # fmt: skip
    assert set(found) == {(ACKNOWLEDGE, "critical", "db"), (RESOLVE, "critical", "db"),
                          (RESOLVE, "high", "web")}  # fmt: skip


def test_the_same_whether_history_is_settled_or_recent(store) -> None:
    _history(store)
    reader = store.response
    early = reader.distributions(T0 + 3600)  # all since the cutoff
    late = reader.distributions(T0 + 5 * DAY)  # all before it
    fresh = type(reader)(store.tx).distributions(T0 + 5 * DAY)
    assert early == late == fresh


def test_the_collector_serves_histograms_by_severity_and_service(store) -> None:
    _history(store)
    registry = CollectorRegistry()
    registry.register(ResponseCollector(store.response.distributions, lambda: T0 + DAY))
    db = {"severity": "critical", "service": "db"}
    assert registry.get_sample_value(f"{TTA}_count", db) == 2
    assert registry.get_sample_value(f"{TTA}_bucket", {**db, "le": "30.0"}) == 1
    assert registry.get_sample_value(f"{TTA}_bucket", {**db, "le": "300.0"}) == 2
    assert registry.get_sample_value(f"{TTA}_bucket", {**db, "le": "+Inf"}) == 2
    web = {"severity": "high", "service": "web"}
    assert registry.get_sample_value(f"{TTR}_sum", web) == pytest.approx(640, abs=0.01)
    assert registry.get_sample_value(f"{TTA}_count", web) is None


def test_an_unanswering_store_leaves_the_histograms_out() -> None:
    from alert_webhook.db.transactions import StoreUnavailable

    def down(now: float):
        raise StoreUnavailable("down")

    registry = CollectorRegistry()
    registry.register(ResponseCollector(down, lambda: T0))
    assert registry.get_sample_value(f"{TTA}_count", {"severity": "x", "service": ""}) is None


def test_quantiles_are_histogram_quantiles_estimates() -> None:
    d = Distribution()
    assert d.quantile(0.5) is None
    for seconds in (10, 20, 40, 50):  # buckets 15, 30, 60, 60
        d.observe(seconds)
    assert d.quantile(0.5) == pytest.approx(30.0)  # the second's bucket's top
    assert d.quantile(0.9) == pytest.approx(30 + 30 * (3.6 - 2) / 2)
    d.observe(10**6)  # past the last bound: that bound
    assert d.quantile(1.0) == 86400.0
