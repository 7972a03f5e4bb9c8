"""The improvement metrics (recovery time, success rate, MTBF, automation), read
from the store at each scrape."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.core import CounterMetricFamily as _C
from prometheus_client.core import GaugeMetricFamily as _G
from prometheus_client.core import SummaryMetricFamily as _S

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.reports.recovery import Improvement

logger = logging.getLogger("alert_webhook.metrics")


@dataclass(frozen=True)
class _ImprovementFamilies:
    """One scrape's families of the improvement metrics, empty until filled."""

    attempts: CounterMetricFamily
    recoveries: CounterMetricFamily
    action_attempts: CounterMetricFamily
    recovery: SummaryMetricFamily
    last_recovery: GaugeMetricFamily
    resolved: CounterMetricFamily
    failures: CounterMetricFamily
    between_failures: SummaryMetricFamily

    @classmethod
    def empty(cls) -> _ImprovementFamilies:
        return cls(**{field: kind(f"alert_webhook_{name}", doc, labels=labels)
                      for field, (kind, name, labels, doc) in _IMPROVEMENT.items()})  # fmt: skip

    def all(self) -> list[Metric]:
        return [getattr(self, field) for field in _IMPROVEMENT]


# field: (family type, name after alert_webhook_, labels, help)
_IMPROVEMENT: dict[str, tuple[Callable[..., Any], str, list[str], str]] = {
    "attempts": (_C, "remediation_attempts", ["playbook"],
                 "Remediation runs that acted (started; any outcome but a dry run)."),
    "recoveries": (_C, "remediation_recoveries", ["playbook"],
                   "Remediation runs that recovered their alert's problem."),
    "action_attempts": (_C, "remediation_action_attempts", ["playbook", "action", "outcome"],
                        "Remediation steps that ended, by playbook, action and outcome."),
    "recovery": (_S, "recovery_seconds", ["service"],
                 "From the alert's startsAt to the end of the run that recovered it."),
    "last_recovery": (_G, "last_recovery_seconds", ["service"],
                      "Recovery time of the service's most recently finished recovery."),
    "resolved": (_C, "incidents_resolved", ["resolution"],
                 "Closed incidents by resolution (automated, acknowledged, unattended)."),
    "failures": (_C, "service_failures", ["service"],
                 "Failures of a service: its overlapping firing alerts are one failure."),
    "between_failures": (_S, "time_between_failures_seconds", ["service"],
                         "Time between the starts of a service's successive failures."),
}  # fmt: skip


class ImprovementCollector:
    """The recovery plan's improvement metrics — recovery time, recovery success rate,
    automation effectiveness, time between failures — read from the store when
    Prometheus scrapes, so they survive restarts and every replica reports the same
    (aggregate replicas with `max`, not `sum`). All but the latest recovery time
    are counters and summaries, whose `increase()` gives any range's figures.
    Each playbook in `playbooks` has its attempt counters from the first scrape,
    at 0, so its first failure is an increase a rule can see. When the store
    cannot answer, the families are left out of that scrape."""

    def __init__(
        self,
        improvement: Callable[[float], Improvement],
        clock: Callable[[], float],
        playbooks: Iterable[str] = (),
    ) -> None:
        self._improvement, self._clock, self._playbooks = improvement, clock, tuple(playbooks)

    def _filled(self, found: Improvement) -> _ImprovementFamilies:
        f = _ImprovementFamilies.empty()
        seen = {p.playbook: p for p in found.playbooks}
        for name in sorted(set(self._playbooks) | set(seen)):
            book = seen.get(name)
            f.attempts.add_metric([name], book.attempts if book else 0)
            f.recoveries.add_metric([name], book.recoveries if book else 0)
        for a in found.actions:
            f.action_attempts.add_metric([a.playbook, a.action, a.outcome], a.count)
        for r in found.recoveries:
            f.recovery.add_metric([r.service], r.count, r.seconds_total)
            f.last_recovery.add_metric([r.service], r.last_seconds)
        for resolution, count in found.incidents.as_dict().items():
            f.resolved.add_metric([resolution], count)
        for x in found.failures:
            f.failures.add_metric([x.service], x.failures)
            f.between_failures.add_metric([x.service], x.failures - 1, x.between_seconds)
        return f

    def describe(self) -> list[Metric]:
        return _ImprovementFamilies.empty().all()

    def collect(self) -> Iterator[Metric]:
        try:
            found = self._improvement(self._clock())
        except StoreUnavailable as exc:
            logger.warning("improvement metrics left out of this scrape: %s", exc)
            return
        yield from self._filled(found).all()
