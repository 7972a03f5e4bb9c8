"""Time to acknowledge and time to resolve as distributions (MTTA and MTTR), by
severity and service, read from the store at scrape time.

Each incident (an alert someone must answer: its `incidents` row) is observed
once in each: when it was acknowledged — before it closed — the seconds from
its opening (`acked_at - opened_at`) in time to acknowledge; when it closed
(resolved, or closed as handled by an operator) the seconds from its opening in
time to resolve. `service` is the alert's `service` label (`""` without one).

Why read from the store and not observed by the process that acknowledges or
resolves: several replicas share one store, and each acknowledgement and each
resolution is committed by whichever replica received it, so process histograms
would have to be summed across replicas and would start from zero at every
restart. Read from the store, every replica reports the same cumulative
histogram, exact across restarts (aggregate replicas with `max`), and an
incident is counted once however many replicas or Alertmanager peers saw it —
as the improvement metrics are (reports/recovery.py), with the same cutoff:
history before a day boundary one to two days back no longer changes (an
acknowledgement or a close is final), so it is binned once per cutoff and
kept; each scrape bins only the incidents closed since the cutoff or still open
(the index `ix_incidents_closed`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import HistogramMetricFamily, Metric
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from alert_webhook.db.schema import alerts, incidents
from alert_webhook.db.transactions import StoreUnavailable, Transactions
from alert_webhook.reports.recovery import FOREVER, SERVICE, Recovery

logger = logging.getLogger("alert_webhook.metrics")

# Seconds; the plan's response deadlines (high 1 h, medium 4 h, low 24 h) and the
# critical services' 5 min RTO are bounds, so "within its deadline" reads exactly.
RESPONSE_BUCKETS: tuple[float, ...] = (
    1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400,
)  # fmt: skip
ACKNOWLEDGE, RESOLVE = "acknowledge", "resolve"
KINDS = (ACKNOWLEDGE, RESOLVE)
NAMES = {
    ACKNOWLEDGE: ("alert_webhook_time_to_acknowledge_seconds",
                  "From an incident's opening to its first acknowledgement (before it closed)."),
    RESOLVE: ("alert_webhook_time_to_resolve_seconds",
              "From an incident's opening to its close: resolved, or closed as handled."),
}  # fmt: skip


@dataclass
class Distribution:
    """Observations binned by `RESPONSE_BUCKETS` (not cumulative; the last is +Inf)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(RESPONSE_BUCKETS) + 1))
    total: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def observe(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        index = next((n for n, b in enumerate(RESPONSE_BUCKETS) if seconds <= b), -1)
        self.counts[index] += 1
        self.total += seconds

    def __add__(self, other: Distribution) -> Distribution:
        return Distribution([a + b for a, b in zip(self.counts, other.counts, strict=True)],
                            self.total + other.total)  # fmt: skip

    def cumulative(self) -> list[tuple[str, float]]:
        """Prometheus' buckets: (`le`, observations at most that)."""
        found, running = [], 0
        for bound, n in zip([*map(str, map(float, RESPONSE_BUCKETS)), "+Inf"], self.counts,
                            strict=True):  # fmt: skip
            running += n
            found.append((bound, float(running)))
        return found

    def quantile(self, q: float) -> float | None:
        """As PromQL's histogram_quantile estimates it from the buckets (linear
        within one; past the last bound, that bound); None without observations."""
        count = self.count
        if not count:
            return None
        rank, running, lower = q * count, 0, 0.0
        for n, bound in zip(self.counts, [*RESPONSE_BUCKETS, math.inf], strict=True):
            if n and running + n >= rank:
                if math.isinf(bound):
                    return float(RESPONSE_BUCKETS[-1])
                return lower + (bound - lower) * (rank - running) / n
            running += n
            lower = bound
        return float(RESPONSE_BUCKETS[-1])


Key = tuple[str, str, str]  # kind, severity, service
Totals = dict[Key, Distribution]


def _add(a: Mapping[Key, Distribution], b: Mapping[Key, Distribution]) -> Totals:
    return {k: a.get(k, Distribution()) + b.get(k, Distribution()) for k in {*a, *b}}


_ROWS = (
    select(incidents.c.severity, alerts.c.labels, incidents.c.opened_at, incidents.c.acked_at,
           incidents.c.closed_at)
    .join_from(incidents, alerts, alerts.c.id == incidents.c.alert_id)
)  # fmt: skip


def _totals(conn: Connection, lo: float, hi: float) -> Totals:
    """The observations that fell in [lo, hi): acknowledgements then, closes then."""
    found: Totals = {}
    # Only incidents acknowledged or closed in the stretch: an alert storm's
    # thousands of open, unacknowledged incidents observe nothing, and reading
    # (and parsing the labels of) each on every console render cost it a quarter
    # of a second (issue 27).
    rows = conn.execute(
        _ROWS.where(
            or_(
                and_(incidents.c.acked_at >= lo, incidents.c.acked_at < hi),
                and_(incidents.c.closed_at >= lo, incidents.c.closed_at < hi),
            )
        )
    )
    for severity, labels, opened, acked, closed in rows:
        service = json.loads(labels).get(SERVICE, "")
        if acked is not None and lo <= acked < hi and (closed is None or acked <= closed):
            found.setdefault((ACKNOWLEDGE, severity, service), Distribution()).observe(
                acked - opened
            )
        if closed is not None and lo <= closed < hi:
            found.setdefault((RESOLVE, severity, service), Distribution()).observe(closed - opened)
    return found


class ResponseTimes:
    """Reads the two distributions: the settled history's, kept per cutoff, plus
    the incidents since the cutoff, read on every call."""

    def __init__(self, tx: Transactions) -> None:
        self.tx = tx
        self._settled: tuple[float, Totals] | None = None
        self._lock = threading.Lock()

    def distributions(self, now: float) -> Totals:
        cutoff = Recovery.cutoff(now)
        with self._lock:
            settled = self._settled
            if settled is None or settled[0] != cutoff:
                with self.tx.read() as conn:
                    settled = self._settled = (cutoff, _totals(conn, -FOREVER, cutoff))
        with self.tx.read() as conn:
            recent = _totals(conn, cutoff, FOREVER)
        return _add(settled[1], recent)


def by_severity(found: Mapping[Key, Distribution], kind: str) -> dict[str, Distribution]:
    """One kind's distributions summed over services, by severity."""
    summed: dict[str, Distribution] = {}
    for (k, severity, _), d in found.items():
        if k == kind:
            summed[severity] = summed.get(severity, Distribution()) + d
    return summed


class ResponseCollector:
    """`alert_webhook_time_to_acknowledge_seconds` and `…_time_to_resolve_seconds`,
    histograms by `severity` and `service`, read from the store when Prometheus
    scrapes; left out of a scrape the store cannot answer."""

    def __init__(
        self, distributions: Callable[[float], Mapping[Key, Distribution]],
        clock: Callable[[], float],
    ) -> None:  # fmt: skip
        self._distributions, self._clock = distributions, clock

    @staticmethod
    def _families() -> dict[str, HistogramMetricFamily]:
        return {
            kind: HistogramMetricFamily(name, doc, labels=["severity", "service"])
            for kind, (name, doc) in NAMES.items()
        }

    def describe(self) -> Sequence[Metric]:
        return list(self._families().values())

    def collect(self) -> Iterator[Metric]:
        try:
            found = self._distributions(self._clock())
        except StoreUnavailable as exc:
            logger.warning("response-time histograms left out of this scrape: %s", exc)
            return
        families = self._families()
        for (kind, severity, service), d in sorted(found.items()):
            families[kind].add_metric([severity, service], d.cumulative(), d.total)
        yield from families.values()
