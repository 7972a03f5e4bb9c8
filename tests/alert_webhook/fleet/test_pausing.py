"""fleet/pausing.py with the real runner and store: the issue's scenario (three
hosts fail at once with a limit of two) with an action that fails in-process,
the page's text, auto-resume, and the paused gauge.

Until the runner resolves hosts itself (the Ansible executor's slice), the runs
here learn their host from the alert's `host` label through two small seams:
`ByHostLabel.candidate` and `HostedRuns.start`."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from support.fleet_breaker import SCENARIO_BREAKER, BreakerFleet, three_hosts_with_a_limit_of_two
from webhook_support import (
    CONTACTS,
    SECRET_KEY,
    FakeClock,
    make_alert,
    make_notification,
    with_operator,
)

from alert_webhook import create_app
from alert_webhook.app.wiring import fleet_breaker_from, recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.routing import Router
from alert_webhook.fleet.pausing import PausedCollector
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.metrics.registry import create_metrics
from alert_webhook.remediation.actions.base import (
    SAFE_WORD,
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
)
from alert_webhook.remediation.escalation import Escalation
from alert_webhook.remediation.guardrails import Candidate, default_guardrails
from alert_webhook.remediation.playbooks import Playbook, playbooks_from_mapping
from alert_webhook.remediation.runner import Remediation, Runner
from alert_webhook.remediation.runs import RemediationPlanner, RunJob, RunStore

TOKEN = {"ALERT_WEBHOOK_TOKEN": "t"}
AUTH = {"Authorization": "Bearer t"}


class OnHost(ActionParams):
    label_patterns: ClassVar[dict[str, str]] = {"host": SAFE_WORD}
    host: str


class FailingFleet:
    """An action that reaches a host and fails there, remembering where."""

    def __init__(self) -> None:
        self.acted_on: list[str] = []
        self.action = Action("fail_on_host", OnHost, self.run)

    def run(self, params: Any, timeout: float, boundaries: Boundaries) -> ActionResult:
        self.acted_on.append(params.host)
        return ActionResult(ActionOutcome.FAILED, 1, "service did not start", 0.5)


class ByHostLabel(Remediation):
    def candidate(self, book: Playbook, target: str, host: str | None = None) -> Candidate:
        named = dict(part.split("=", 1) for part in target.split(","))
        return super().candidate(book, target, host or named.get("host"))


class HostedRuns(RunStore):
    def start(self, job: RunJob, now: float, lease_until: float, host: str | None = None) -> bool:
        return super().start(job, now, lease_until, host or job.labels.get("host"))


class Fleet:
    """The webhook's remediation on a fake clock, over the `store` fixture."""

    def __init__(self, store, clock: FakeClock, **breaker: Any) -> None:
        self.store, self.clock, self.actions = store, clock, FailingFleet()
        step = {"action": "fail_on_host", "params": {"host": "{labels.host}"}}
        book = {"name": "restart-on-host", "match": {"alertname": "ServiceDown"},
                "target": ["host"], "actions": [step], "blast_radius": 10}  # fmt: skip
        playbooks = playbooks_from_mapping(
            {"playbooks": [book]}, actions={"fail_on_host": self.actions.action}
        )
        data = {**CONTACTS, "fleet": {"breaker": SCENARIO_BREAKER | breaker}}
        self.settings = settings_from_mapping(data, {})
        breaker_ = fleet_breaker_from(self.settings, store, ["dashboard"])
        guardrails = default_guardrails(False, self.settings.fleet.breaker)
        remediation = ByHostLabel(playbooks, guardrails, breaker=breaker_)
        tell = Escalation(
            Router(self.settings.routing, self.settings.channels), frozenset({"dashboard"})
        )
        self.recording = recording_from(
            self.settings, ["dashboard"], [RemediationPlanner(playbooks, tell)]
        )
        runs = HostedRuns(store.tx, store.engine.dialect)
        self.runner = Runner(runs, remediation, create_metrics(), Boundaries(), clock, tell=tell)
        self.fired = 0
        self.app = create_app(
            settings_from_mapping(with_operator(data), {**TOKEN, **SECRET_KEY}),
            store=store, clock=clock,
        )  # fmt: skip

    def fire(self, host: str) -> None:
        self.fired += 1
        alert = make_alert(f"{host}-{self.fired}", alertname="ServiceDown", host=host,
                           starts_at=f"2026-11-28T09:{self.fired:02d}:00Z")  # fmt: skip
        body = json.dumps(make_notification(alert)).encode()
        self.store.record_notification(parse_notification(body), body, self.clock(), self.recording)

    def work(self) -> None:
        while self.runner.run_once():
            self.clock.advance(1)

    def resume(self) -> Any:
        reply = self.app.test_client().post("/api/fleet/resume", headers=AUTH)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()

    def scenario(self) -> BreakerFleet:
        return BreakerFleet(self.store, self.fire, self.work, self.resume,
                            lambda: list(self.actions.acted_on))  # fmt: skip

    def paused(self) -> float | None:
        return self.app.extensions["alert_webhook"].metrics.registry.get_sample_value(
            "alert_webhook_fleet_automation_paused"
        )


def test_three_hosts_fail_at_once_with_a_limit_of_two(store, clock: FakeClock) -> None:
    fleet = Fleet(store, clock)
    assert fleet.paused() == 0
    found = three_hosts_with_a_limit_of_two(fleet.scenario(), operator="api token")
    assert found.blocked_host == "host-3"
    assert fleet.actions.acted_on == ["host-1", "host-2", "host-3"]
    assert fleet.paused() == 0  # resumed
    assert {d["channel"] for d in found.page} == {"sms", "email", "dashboard"}
    assert found.page[0]["note"] == (
        "CRITICAL: fleet automation paused (max_hosts): acting on host-3 would make 3 hosts "
        "acted on in the last 30m, more than max_hosts 2: run 1 restart-on-host on host-1 "
        "failed, run 2 restart-on-host on host-2 failed. Run 3 was not acted on. No "
        "remediation runs on any host until an operator resumes it (console, or POST "
        "/api/fleet/resume)."
    )
    blocked = [r for r in store.runs.list() if r["guardrail"] == "fleet_breaker"]
    assert [r["detail"].split(": ", 1)[0] for r in blocked] == [
        "fleet automation paused since 2027-01-15 08:00:02 UTC",
        "fleet automation paused since 2027-01-15 08:00:02 UTC",
    ]


def test_the_gauge_says_paused_on_every_replica(store, clock: FakeClock) -> None:
    fleet = Fleet(store, clock)
    for host in ("host-1", "host-2", "host-3"):
        fleet.fire(host)
    fleet.work()
    assert fleet.paused() == 1
    other = PausedCollector(store.fleet, fleet.settings.fleet.breaker, clock)
    [family] = list(other.collect())
    assert [s.value for s in family.samples] == [1.0]


def test_resume_after_lifts_the_pause_and_counts_from_then(store, clock: FakeClock) -> None:
    fleet = Fleet(store, clock, resume_after="10m")
    for host in ("host-1", "host-2", "host-3"):
        fleet.fire(host)
    fleet.work()
    pause = store.fleet.latest()
    assert pause is not None and pause.resumed_at is None
    assert fleet.paused() == 1
    clock.now = pause.tripped_at + 598
    fleet.fire("host-3")
    fleet.work()  # judged 2 s before the pause is due to lift
    assert fleet.actions.acted_on == ["host-1", "host-2"]
    clock.now = pause.tripped_at + 600
    assert fleet.paused() == 0  # before anyone records it
    fleet.fire("host-3")
    fleet.work()
    assert fleet.actions.acted_on == ["host-1", "host-2", "host-3"]
    lifted = store.fleet.latest()
    assert lifted is not None and lifted.id == pause.id
    assert (lifted.resumed_by, lifted.resumed_at) == (
        "automatically (fleet.breaker.resume_after)", pause.tripped_at + 600,
    )  # fmt: skip


@pytest.mark.parametrize("limit", [{"max_failed": 1}, {"max_failed_share": 0.5, "min_runs": 2}])
def test_failures_trip_it_on_the_next_run(store, clock: FakeClock, limit: dict[str, Any]) -> None:
    fleet = Fleet(store, clock, max_hosts=10, **limit)
    for host in ("host-1", "host-2", "host-3"):
        fleet.fire(host)
    fleet.work()
    assert fleet.actions.acted_on == ["host-1", "host-2"]
    pause = store.fleet.latest()
    assert pause is not None and pause.limit == next(iter(limit))
