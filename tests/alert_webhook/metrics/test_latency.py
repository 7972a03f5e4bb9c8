"""metrics/latency.py: many equal observations at once read as prometheus_client's
histogram reads the same observations made one by one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from alert_webhook.metrics.latency import BatchHistogram
from alert_webhook.metrics.registry import LATENCY_BUCKETS, create_metrics

NAME = "alert_webhook_delivery_latency_seconds"
latencies = st.sampled_from([0.0, 0.005, 0.0051, 0.3, 900.0, 901.0]) | st.floats(0, 2000)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


@settings(deadline=None)  # timing is not what is tested: a loaded machine must not fail it
@given(st.lists(st.tuples(st.sampled_from(["dashboard", "log"]), latencies, st.integers(1, 5))))
def test_batched_observations_read_as_one_by_one(observed) -> None:
    one_by_one, batched = CollectorRegistry(), CollectorRegistry()
    reference = Histogram(NAME, "doc", ["channel"], buckets=LATENCY_BUCKETS, registry=one_by_one)
    ours = BatchHistogram(NAME, "doc", "channel", LATENCY_BUCKETS)
    batched.register(ours)
    for channel, value, count in observed:
        for _ in range(count):
            reference.labels(channel).observe(value)
        ours.labels(channel).observe(value, count)
    expected, got = _samples(one_by_one), _samples(batched)
    assert got.keys() == expected.keys()
    for key, value in expected.items():  # a sum of n equal values: as n * value
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_stored_deliveries_are_counted_with_one_observation_each() -> None:
    metrics = create_metrics()
    metrics.count_stored(100, 0.02, "dashboard")
    get = metrics.registry.get_sample_value
    assert get(f"{NAME}_count", {"channel": "dashboard"}) == 100
    assert get(f"{NAME}_bucket", {"channel": "dashboard", "le": "0.01"}) == 0
    assert get(f"{NAME}_bucket", {"channel": "dashboard", "le": "0.025"}) == 100
    assert get(f"{NAME}_sum", {"channel": "dashboard"}) == 2.0
