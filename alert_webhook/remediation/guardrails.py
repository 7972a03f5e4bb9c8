"""Guardrails: may this playbook act on this target now? Pure decisions.

Each guardrail is a small policy `(candidate, history) -> Decision` over a
snapshot of what the store records — past attempts (playbook, target, start,
outcome) and the ones still running — and the time of the question. Nothing
here reads a clock or the store, so replicas that read the same rows decide the
same, and tests move time by hand.

`Guardrails` composes them in order; the first that does not allow the run
decides (`decide`), and `blocking` lists every one that would stop it, for the
preview (`preview.py`) that says all that stands in the way.

What the store cannot tell — whether the playbook's PromQL precondition holds —
the runner asks Prometheus before it asks here, and passes the answer in as a
`Fact` on the candidate: the policy only reads it.

Which attempts count: every attempt that started, whatever it returned,
including dry runs — so a dry run predicts what the real one would do — but not
the ones a guardrail blocked (they never started, and counting them would let a
blocked alert keep itself blocked).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from alert_webhook.fleet.breaker import Pause, in_force, tripped
from alert_webhook.fleet.settings import BreakerSettings
from alert_webhook.remediation.playbooks import Playbook

BLOCKED: Final = "blocked"
FLEET_BREAKER: Final = "fleet_breaker"


@dataclass(frozen=True)
class Attempt:
    """One remediation attempt as the store holds it; `outcome` None while running."""

    playbook: str
    target: str
    started_at: float
    outcome: str | None = None
    host: str | None = None  # the fleet host it acted on; None: this machine
    run_id: int | None = None

    @property
    def running(self) -> bool:
        return self.outcome is None

    @property
    def counts(self) -> bool:
        return self.outcome != BLOCKED


@dataclass(frozen=True)
class History:
    """What the guardrails judge from: the attempts on record, the time now, and
    the fleet breaker's latest pause (None: never paused, or no breaker)."""

    attempts: Sequence[Attempt]
    now: float
    pause: Pause | None = None

    def counted(self, playbook: str, since: float) -> list[Attempt]:
        return [
            a for a in self.attempts if a.playbook == playbook and a.counts and a.started_at > since
        ]


@dataclass(frozen=True)
class Fact:
    """Something learnt outside the store for this decision, and what was found."""

    holds: bool
    detail: str


@dataclass(frozen=True)
class Candidate:
    """A playbook about to act on one target; `precondition` is its precondition as
    judged just now (None: it has none, or nobody judged it)."""

    playbook: Playbook
    target: str
    precondition: Fact | None = None
    host: str | None = None  # the fleet host it would act on; None: this machine


@dataclass(frozen=True)
class Decision:
    verdict: Literal["run", "blocked", "dry_run"]
    guardrail: str = ""
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict == "run"


ALLOW = Decision("run")
Policy = Callable[[Candidate, History], Decision]


def _ago(seconds: float) -> str:
    return f"{seconds:g}s"


def one_at_a_time(candidate: Candidate, history: History) -> Decision:
    """Never two remediations on one target at once, whichever playbooks they are."""
    running = [a for a in history.attempts if a.running and a.target == candidate.target]
    if running:
        return Decision(
            BLOCKED,
            "one_at_a_time",
            f"{running[0].playbook} is already acting on {candidate.target}",
        )
    return ALLOW


def cooldown(candidate: Candidate, history: History) -> Decision:
    """After an attempt on a target, that playbook leaves it alone for its cooldown."""
    book = candidate.playbook
    recent = [
        a
        for a in history.counted(book.name, history.now - book.cooldown)
        if a.target == candidate.target
    ]
    if recent:
        last = max(a.started_at for a in recent)
        left = last + book.cooldown - history.now
        return Decision(
            BLOCKED,
            "cooldown",
            f"{book.name} acted on {candidate.target} {_ago(history.now - last)} ago; "
            f"cooldown {_ago(book.cooldown)}, {_ago(left)} left",
        )
    return ALLOW


def attempt_budget(candidate: Candidate, history: History) -> Decision:
    """At most `max_attempts` per target per `window`: a flapping alert cannot loop."""
    book = candidate.playbook
    since = history.now - book.window
    used = [a for a in history.counted(book.name, since) if a.target == candidate.target]
    if len(used) >= book.max_attempts:
        freed = min(a.started_at for a in used) + book.window - history.now
        return Decision(
            BLOCKED,
            "attempt_budget",
            f"{len(used)} attempts of {book.name} on {candidate.target} in the last "
            f"{_ago(book.window)} (at most {book.max_attempts}); next in {_ago(freed)}",
        )
    return ALLOW


def blast_radius(candidate: Candidate, history: History) -> Decision:
    """At most `blast_radius` distinct targets per playbook per window: a fault that
    hits the whole fleet is for people, not for a loop restarting everything."""
    book = candidate.playbook
    targets = {a.target for a in history.counted(book.name, history.now - book.window)}
    if candidate.target not in targets and len(targets) >= book.blast_radius:
        return Decision(
            BLOCKED,
            "blast_radius",
            f"{book.name} already acted on {len(targets)} targets in the last "
            f"{_ago(book.window)} (at most {book.blast_radius})",
        )
    return ALLOW


def precondition(candidate: Candidate, history: History) -> Decision:
    """A playbook's PromQL precondition must hold (e.g. most of the pool is up):
    acting on one member of a failing fleet makes the outage worse."""
    required = candidate.playbook.precondition
    if required is None:
        return ALLOW
    fact = candidate.precondition
    if fact is None:
        return Decision(BLOCKED, "precondition", f"{required.reason}: not judged")
    if not fact.holds:
        return Decision(BLOCKED, "precondition", f"{required.reason}: {fact.detail}")
    return ALLOW


def one_run_per_host(candidate: Candidate, history: History) -> Decision:
    """Never two remediations on one fleet host at once, whatever their targets: a
    restart during a cleanup is judged by no one. (The store's unique index on
    the acting runs' host refuses the second start too.)"""
    if candidate.host is None:
        return ALLOW
    running = [a for a in history.attempts if a.running and a.host == candidate.host]
    if running:
        other = running[0]
        which = f"run {other.run_id} " if other.run_id is not None else ""
        return Decision(
            BLOCKED,
            "one_run_per_host",
            f"{which}{other.playbook} on {other.target} is already acting on host {candidate.host}",
        )
    return ALLOW


def fleet_paused(limits: BreakerSettings) -> Policy:
    """While the fleet breaker's pause holds, nothing acts on any host."""

    def policy(candidate: Candidate, history: History) -> Decision:
        pause = in_force(limits, history.pause, history.now)
        if pause is None:
            return ALLOW
        return Decision(BLOCKED, FLEET_BREAKER, pause.blocking(limits.resume_after))

    return policy


def fleet_limits(limits: BreakerSettings) -> Policy:
    """Too many runs failed, too large a share of them, or one host too many acted
    on, across all playbooks: this run would trip the fleet breaker (the runner
    then records the pause and pages, `fleet/pausing.py`)."""

    def policy(candidate: Candidate, history: History) -> Decision:
        trip = tripped(limits, history.attempts, candidate.host, history.now, history.pause)
        if trip is None:
            return ALLOW
        return Decision(
            BLOCKED, FLEET_BREAKER, f"the fleet breaker trips ({trip.limit}): {trip.reason}"
        )

    return policy


def dry_run(global_switch: bool) -> Policy:
    """The global switch, or the playbook's own: say what would run, run nothing."""

    def policy(candidate: Candidate, history: History) -> Decision:
        if global_switch:
            return Decision("dry_run", "dry_run", "remediation is in dry-run mode")
        if candidate.playbook.dry_run:
            return Decision("dry_run", "dry_run", f"{candidate.playbook.name} is a dry run")
        return ALLOW

    return policy


@dataclass(frozen=True)
class Guardrails:
    policies: tuple[Policy, ...]

    def decide(self, candidate: Candidate, history: History) -> Decision:
        for policy in self.policies:
            decision = policy(candidate, history)
            if not decision.allowed:
                return decision
        return ALLOW

    def blocking(self, candidate: Candidate, history: History) -> list[Decision]:
        decisions = (policy(candidate, history) for policy in self.policies)
        return [d for d in decisions if not d.allowed]


def default_guardrails(
    global_dry_run: bool = False, fleet: BreakerSettings | None = None
) -> Guardrails:
    """Blocking guardrails first, so a dry run still shows what would stop a real one.
    With the fleet breaker's limits, its pause comes before all (every run judged
    while it holds says so) and its limits after the dry run: only a run that
    would act can trip it."""
    paused = (fleet_paused(fleet),) if fleet is not None else ()
    limits = (fleet_limits(fleet),) if fleet is not None else ()
    return Guardrails(  # fmt: skip
        (
            *paused,
            one_at_a_time,
            one_run_per_host,
            cooldown,
            attempt_budget,
            blast_radius,
            precondition,
            dry_run(global_dry_run),
            *limits,
        )
    )
