"""The console's health panel: each channel with its breakers and recent failures,
the recovery plan's improvement metrics, time to acknowledge and to resolve by
severity (median and p90, reports/response.py), and the fleet breaker's latest
pause.

The metrics are the webhook's own (`reports/recovery.py`, exported on /metrics by
`ImprovementCollector`), read the same way; the panel shows the ratios
docs/metrics.md gives for them over all history: recovery time is the sum over
the count of recovered runs, success rate recovered runs over runs that acted,
automation effectiveness automated resolutions over closed incidents, the mean
time between failures the sum of the gaps over their count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alert_webhook.delivery.settings import SEVERITIES
from alert_webhook.fleet.breaker import Pause
from alert_webhook.fleet.settings import BreakerSettings
from alert_webhook.reports.recovery import Improvement
from alert_webhook.reports.response import ACKNOWLEDGE, RESOLVE, Distribution, Key, by_severity


@dataclass(frozen=True)
class RecoveryFigures:
    recoveries: int  # recovered runs on record
    recovery_seconds: float | None  # their mean recovery time
    recovered_runs: int
    acting_runs: int
    automated: int  # closed incidents resolved by automation
    closed: int  # closed incidents, counted once their runs ended
    between_failures_seconds: float | None  # mean, over every service's gaps

    @property
    def success_rate(self) -> float | None:
        return self.recovered_runs / self.acting_runs if self.acting_runs else None

    @property
    def automation(self) -> float | None:
        return self.automated / self.closed if self.closed else None


def recovery_figures(found: Improvement) -> RecoveryFigures:
    recoveries = sum(r.count for r in found.recoveries)
    seconds = sum(r.seconds_total for r in found.recoveries)
    gaps = sum(f.failures - 1 for f in found.failures)
    between = sum(f.between_seconds for f in found.failures)
    resolved = found.incidents
    return RecoveryFigures(
        recoveries=recoveries,
        recovery_seconds=seconds / recoveries if recoveries else None,
        recovered_runs=sum(p.recoveries for p in found.playbooks),
        acting_runs=sum(p.attempts for p in found.playbooks),
        automated=resolved.automated,
        closed=resolved.automated + resolved.acknowledged + resolved.unattended,
        between_failures_seconds=between / gaps if gaps else None,
    )


@dataclass(frozen=True)
class ResponseFigures:
    """One severity's (or every severity's: `all`) time to acknowledge and to
    resolve over all history: median and p90 as the Grafana panel estimates them
    from the same histograms (histogram_quantile), and how many incidents."""

    severity: str
    acknowledged: int
    acknowledge_median: float | None
    acknowledge_p90: float | None
    resolved: int
    resolve_median: float | None
    resolve_p90: float | None


def response_figures(found: Mapping[Key, Distribution]) -> list[ResponseFigures]:
    """A row per severity with incidents (the plan's order, then any other), then
    `all` when there are two or more."""
    ack, res = by_severity(found, ACKNOWLEDGE), by_severity(found, RESOLVE)
    rank: dict[str, int] = {s: n for n, s in enumerate(SEVERITIES)}
    seen = sorted({*ack, *res}, key=lambda s: (rank.get(s, len(rank)), s))
    rows = [(s, ack.get(s, Distribution()), res.get(s, Distribution())) for s in seen]
    if len(rows) > 1:
        every = ("all", sum(ack.values(), Distribution()), sum(res.values(), Distribution()))
        rows.append(every)
    return [
        ResponseFigures(
            s, a.count, a.quantile(0.5), a.quantile(0.9), r.count, r.quantile(0.5), r.quantile(0.9)
        )  # fmt: skip
        for s, a, r in rows
    ]


@dataclass(frozen=True)
class ChannelHealth:
    name: str
    problem: str | None  # why it cannot send at all; None: configured
    breakers: list[tuple[str, str]]  # provider, breaker state
    failures: Sequence[Mapping[str, Any]] = field(default_factory=list)
    # Nobody set it up (no provider in the configuration): a choice, shown plainly.
    # A channel given providers that cannot send (a secret missing) is failing.
    unused: bool = False

    @property
    def failing(self) -> bool:
        """What the panel shows in red: a problem someone has to fix."""
        return self.problem is not None and not self.unused


def channel_health(
    channels: Mapping[str, str | None],
    breakers: Mapping[str, str],
    failures: Mapping[str, Sequence[Mapping[str, Any]]],
    unused: frozenset[str] = frozenset(),
) -> list[ChannelHealth]:
    """`channels` maps each channel to its problem (None: configured), `breakers`
    each `channel:provider` to its state, `failures` a channel to its recent
    failed attempts, newest first; `unused` names the channels nobody gave a
    provider."""
    return [
        ChannelHealth(
            name,
            problem,
            sorted(
                (key.partition(":")[2], state)
                for key, state in breakers.items()
                if key.partition(":")[0] == name
            ),
            failures.get(name, []),
            name in unused,
        )
        for name, problem in channels.items()
    ]


@dataclass(frozen=True)
class FleetPauseView:
    """The fleet breaker's latest pause as the console shows it."""

    pause: Pause
    in_force: bool
    lifted_at: float | None  # when it was or will be lifted; None: by an operator only
    resumed_by: str | None  # who lifted it (`resume_after` passed: said so)


def fleet_pause(latest: Pause | None, limits: BreakerSettings, now: float) -> FleetPauseView | None:
    if latest is None:
        return None
    in_force = latest.in_force(now, limits.resume_after)
    by = latest.resumed_by
    if by is None and not in_force:
        by = "automatically (fleet.breaker.resume_after)"
    return FleetPauseView(latest, in_force, latest.lifted_at(limits.resume_after), by)
