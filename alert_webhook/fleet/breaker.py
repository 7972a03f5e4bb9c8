"""The fleet-wide breaker: when automation pauses itself for every host. Pure.

Across all playbooks and every host, over the runs on record since the later of
`window` ago and the last resume, the breaker trips when

- more than `max_failed` runs failed or were ineffective (`max_failed`);
- more than `max_failed_share` of the runs that acted and ended did, once at
  least `min_runs` of them ended (`max_failed_share`); or
- acting on the candidate's host would make more than `max_hosts` distinct hosts
  acted on (`max_hosts`: checked before acting, so the host past the limit is
  never touched; this machine, a run without a fleet host, counts as one host).

Failures are counted after the fact (a run has to fail to be counted); hosts
before it. Counting from the last resume means an operator's resume is not
undone by the very runs that tripped it.

While a pause is in force, every run judged ends blocked. A pause is lifted by
an operator, or, when `resume_after` is set, that long after it tripped — a
moment computed from the row, so every replica agrees on it without a write.

Nothing here reads the clock or the store: `in_force` and `tripped` take the attempts (the
guardrails' `Attempt`, read through the `Acted` protocol), the latest pause and
the time, so tests move time by hand and replicas decide alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from alert_webhook.fleet.settings import BreakerSettings

# The outcomes the failure limits count, and those of runs that acted and ended.
FAILED: Final = frozenset({"failed", "ineffective"})
ENDED: Final = frozenset({"verified", "failed", "ineffective"})
# Did not act: a guardrail stopped it, or it was a dry run.
NOT_ACTED: Final = frozenset({"blocked", "skipped"})
THIS_MACHINE: Final = "this machine"  # how a run without a fleet host is named
LISTED: Final = 8  # runs named in a reason; the evidence keeps them all
Limit = Literal["max_failed", "max_failed_share", "max_hosts"]


class Acted(Protocol):
    """A remediation attempt as the breaker reads it (remediation's `Attempt`)."""

    @property
    def run_id(self) -> int | None: ...
    @property
    def playbook(self) -> str: ...
    @property
    def started_at(self) -> float: ...
    @property
    def outcome(self) -> str | None: ...  # None while it acts
    @property
    def host(self) -> str | None: ...


def _spoken(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def host_name(host: str | None) -> str:
    return THIS_MACHINE if host is None else host


@dataclass(frozen=True)
class Trip:
    """Why the breaker trips now: the limit, and the runs it counted."""

    limit: Limit
    reason: str  # one line: the limit, the counts, the runs and hosts
    runs: tuple[Acted, ...]  # the evidence: the runs counted against the limit
    window: float
    failed: int  # failed or ineffective runs counted
    ended: int  # runs that acted and ended
    hosts: tuple[str, ...]  # distinct hosts acted on (before the candidate's)
    next_host: str | None = None  # max_hosts: the host the run stopped would act on

    def evidence(self) -> dict[str, Any]:
        """What the store keeps of it (JSON)."""
        return {
            "limit": self.limit, "window": self.window, "failed": self.failed,
            "ended": self.ended, "hosts": list(self.hosts), "next_host": self.next_host,
            "runs": [{"id": a.run_id, "playbook": a.playbook, "host": host_name(a.host),
                      "outcome": a.outcome or "running", "started_at": a.started_at}
                     for a in self.runs],
        }  # fmt: skip


@dataclass(frozen=True)
class Pause:
    """A pause of automation as the store holds it."""

    id: int
    tripped_at: float
    limit: str
    reason: str
    evidence: dict[str, Any]
    run_id: int | None  # the run whose judging tripped it (it did not act)
    resumed_at: float | None = None
    resumed_by: str | None = None

    def lifted_at(self, resume_after: float | None) -> float | None:
        """When it ended or ends: its resume, else `resume_after` after it tripped;
        None while only an operator can lift it."""
        if self.resumed_at is not None:
            return self.resumed_at
        return None if resume_after is None else self.tripped_at + resume_after

    def in_force(self, now: float, resume_after: float | None) -> bool:
        lifted = self.lifted_at(resume_after)
        return lifted is None or now < lifted

    def blocking(self, resume_after: float | None) -> str:
        """What a run blocked by it says."""
        text = f"fleet automation paused since {_clock(self.tripped_at)}: {self.reason}"
        lifted = self.lifted_at(resume_after)
        until = "until an operator resumes it" if lifted is None else f"until {_clock(lifted)}"
        return f"{text}; {until}"


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def counted_since(limits: BreakerSettings, now: float, latest: Pause | None) -> float:
    """Runs that started after this count: the window, or the last resume if later."""
    since = now - limits.window
    lifted = latest.lifted_at(limits.resume_after) if latest is not None else None
    return since if lifted is None else max(since, lifted)


def _runs(runs: Sequence[Acted]) -> str:
    shown = [
        f"run {a.run_id} {a.playbook} on {host_name(a.host)} {a.outcome or 'acting'}"
        for a in runs[:LISTED]
    ]
    more = len(runs) - LISTED
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def in_force(limits: BreakerSettings, latest: Pause | None, now: float) -> Pause | None:
    """The pause that holds now, if any (never while the breaker is disabled)."""
    if not limits.enabled or latest is None or not latest.in_force(now, limits.resume_after):
        return None
    return latest


def tripped(
    limits: BreakerSettings,
    attempts: Sequence[Acted],
    host: str | None,
    now: float,
    latest: Pause | None = None,
) -> Trip | None:
    """The limit a run that would act on `host` now trips, if any; a pause in
    force is `in_force`'s to say."""
    if not limits.enabled:
        return None
    since = counted_since(limits, now, latest)
    acted = sorted(
        (a for a in attempts if a.started_at > since and a.outcome not in NOT_ACTED),
        key=lambda a: (a.started_at, a.run_id or 0),
    )
    failed = [a for a in acted if a.outcome in FAILED]
    ended = [a for a in acted if a.outcome in ENDED]
    hosts = tuple(dict.fromkeys(host_name(a.host) for a in acted))
    window = _spoken(limits.window)

    def trip(
        limit: Limit, reason: str, runs: Iterable[Acted], next_host: str | None = None
    ) -> Trip:
        counts = (limits.window, len(failed), len(ended), hosts, next_host)
        return Trip(limit, reason, tuple(runs), *counts)

    if len(failed) > limits.max_failed:
        return trip("max_failed", f"{len(failed)} runs failed or were ineffective in the last "
                    f"{window}, more than max_failed {limits.max_failed}: {_runs(failed)}",
                    failed)  # fmt: skip
    if len(ended) >= limits.min_runs and len(failed) > limits.max_failed_share * len(ended):
        share = f"{100 * len(failed) / len(ended):.0f} %"
        return trip("max_failed_share", f"{len(failed)} of {len(ended)} runs ({share}) failed or "
                    f"were ineffective in the last {window}, more than max_failed_share "
                    f"{100 * limits.max_failed_share:g} % (judged from {limits.min_runs} runs): "
                    f"{_runs(ended)}", ended)  # fmt: skip
    wanted = host_name(host)
    if wanted not in hosts and len(hosts) >= limits.max_hosts:
        first: dict[str, Acted] = {}
        for a in acted:
            first.setdefault(host_name(a.host), a)
        return trip("max_hosts", f"acting on {wanted} would make {len(hosts) + 1} hosts acted on "
                    f"in the last {window}, more than max_hosts {limits.max_hosts}: "
                    f"{_runs(list(first.values()))}", first.values(), wanted)  # fmt: skip
    return None


PAGE_ALERTNAME: Final = "FleetAutomationPaused"
# How the page is routed: as a critical alert of this name would be (a route may
# match the name; otherwise critical's channels: SMS, email and the dashboard).
PAGE_LABELS: Final = {"alertname": PAGE_ALERTNAME, "severity": "critical"}


def page_text(trip: Trip, stopped_run: int | None, resumes_at: float | None = None) -> str:
    """The one page a trip sends: which limit, on what evidence, and what now."""
    stopped = f" Run {stopped_run} was not acted on." if stopped_run is not None else ""
    until = "until an operator resumes it (console, or POST /api/fleet/resume)"
    if resumes_at is not None:
        until += f", or by itself at {_clock(resumes_at)}"
    return (
        f"CRITICAL: fleet automation paused ({trip.limit}): {trip.reason}.{stopped} "
        f"No remediation runs on any host {until}."
    )
