"""The drills' metrics, read from the store at each scrape (as the improvement
metrics are): every replica says the same, and they survive restarts. The
stack's schedule (how often each scenario is due) is not the webhook's: the
stack publishes it beside these (stack/drill/schedule.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.drills.store import ScenarioSummary

logger = logging.getLogger("alert_webhook.metrics")
PREFIX = "alert_webhook_drill_"


def _families() -> dict[str, GaugeMetricFamily | CounterMetricFamily]:
    labels = ["scenario"]
    return {
        "last_run": GaugeMetricFamily(
            f"{PREFIX}last_run_timestamp_seconds", "When the scenario's newest drill ended.",
            labels=labels),
        "last_ok": GaugeMetricFamily(
            f"{PREFIX}last_run_ok", "1 when the scenario's newest drill passed, 0 when it failed.",
            labels=labels),
        "last_success": GaugeMetricFamily(
            f"{PREFIX}last_success_timestamp_seconds",
            "When the scenario's newest passing drill ended.", labels=labels),
        "recovery": GaugeMetricFamily(
            f"{PREFIX}recovery_seconds",
            "The recovery time the scenario's newest passing drill measured.", labels=labels),
        "runs": CounterMetricFamily(
            f"{PREFIX}runs", "Drills of the scenario on record, by result (passed, failed).",
            labels=["scenario", "result"]),
    }  # fmt: skip


class DrillCollector:
    """Left out of a scrape while the store cannot answer."""

    def __init__(self, summaries: Callable[[], list[ScenarioSummary]]) -> None:
        self._summaries = summaries

    def describe(self) -> list[Metric]:
        return list(_families().values())

    def collect(self) -> Iterator[Metric]:
        try:
            found = self._summaries()
        except StoreUnavailable as exc:
            logger.warning("drill metrics left out of this scrape: %s", exc)
            return
        f = _families()
        for s in found:
            f["last_run"].add_metric([s.scenario], s.last_run_at)
            f["last_ok"].add_metric([s.scenario], 1 if s.last_run_ok else 0)
            if s.last_success_at is not None:
                f["last_success"].add_metric([s.scenario], s.last_success_at)
            if s.last_success_recovery_seconds is not None:
                f["recovery"].add_metric([s.scenario], s.last_success_recovery_seconds)
            f["runs"].add_metric([s.scenario, "passed"], s.passed)
            f["runs"].add_metric([s.scenario, "failed"], s.failed)
        yield from f.values()
