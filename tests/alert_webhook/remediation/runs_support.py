"""What the runner's tests share: playbooks made of real commands, a store that
records with the remediation planner, a runner on a fake clock, and a fake
Prometheus (the runner's injected seam; the real one is tested in
test_verify_prometheus.py)."""

from __future__ import annotations

import json
import sys
from typing import Any

from webhook_support import CONTACTS, FakeClock, make_alert, make_notification

from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.routing import Router
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.ingest.record import RecordResult
from alert_webhook.metrics.registry import create_metrics
from alert_webhook.remediation.actions.base import Action, Boundaries
from alert_webhook.remediation.escalation import Escalation
from alert_webhook.remediation.guardrails import default_guardrails
from alert_webhook.remediation.lag import RecordingRule
from alert_webhook.remediation.playbooks import playbooks_from_mapping
from alert_webhook.remediation.recurring import RecurringHeals, RecurringHealsSettings
from alert_webhook.remediation.runner import Remediation, Runner
from alert_webhook.remediation.runs import RemediationPlanner
from alert_webhook.remediation.verify import Checks, PrometheusError, Series

PY = sys.executable
# Appends its argument to a file: what ran, and how often, is on disk.
APPEND = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n'); print('restarted')"
# The stabilisation every test playbook gets unless it says otherwise.
SETTLE = {"delay": "5s", "window": "10s"}


def command(*argv: str, timeout: str = "10s") -> dict[str, Any]:
    return {"action": "run_command", "params": {"argv": [PY, "-c", *argv]}, "timeout": timeout}


def book(name: str, *steps: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"name": name, "match": {"alertname": name}, "target": ["service"],
            "actions": list(steps), "verify": SETTLE, **kw}  # fmt: skip


class FakePrometheus:
    """Answers each query with the series of the first key it contains (nothing
    when none does), or raises what is set; records every query. Its rules are
    `rules`, its scrape interval `scrape`, and `probed` names the metrics fed by
    probes, with their probes' interval; `broken` is raised by every question
    about rules and intervals. A metric in `unpublished` is probe-fed, but its
    probes publish no interval."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Series] | PrometheusError] = {}
        self.asked: list[str] = []
        self.rules: list[RecordingRule] = []
        # With the playbooks' SETTLE, a check at delay + window is at the deadline
        # already (5 s delay over a 5 s lag): one settle() ends a verification.
        self.scrape = 5.0
        self.probed: dict[str, float] = {}
        self.unpublished: set[str] = set()
        self.broken: PrometheusError | None = None

    def query(self, expr: str) -> list[Series]:
        self.asked.append(expr)
        if expr.startswith("count({__name__"):  # is any of these probe-fed?
            return [{}] if any(name in expr for name in self.unpublished) else []
        for key, answer in self.answers.items():
            if key in expr:
                if isinstance(answer, PrometheusError):
                    raise answer
                return answer
        return []

    def values(self, expr: str) -> list[float]:
        """Only the probe interval question: the longest of the probed metrics named."""
        if self.broken:
            raise self.broken
        named = [interval for name, interval in self.probed.items() if name in expr]
        return [max(named)] if named else []

    def recordings(self) -> list[RecordingRule]:
        if self.broken:
            raise self.broken
        return self.rules

    def scrape_interval(self) -> float:
        if self.broken:
            raise self.broken
        return self.scrape

    def checks(self) -> list[str]:
        """The verification queries asked (not the questions about timing)."""
        return [q for q in self.asked if q.startswith("count_over_time(")]


class Harness:
    """A store recording with the remediation planner, and a runner on a fake clock
    asking a fake Prometheus, telling people as the app does."""

    def __init__(self, store, books: list[dict[str, Any]], dry_run: bool = False,
                 inventory: Any = None, executor: Any = None,
                 actions: dict[str, Action] | None = None,
                 heals: RecurringHealsSettings | None = None,
                 inline: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.store, self.clock, self.metrics = store, FakeClock(), create_metrics()
        self.prometheus = FakePrometheus()
        playbooks = playbooks_from_mapping({"playbooks": books}, actions=actions)
        self.remediation = Remediation(
            playbooks,
            default_guardrails(dry_run),
            Checks(self.prometheus),
            inventory=inventory,
            executor=executor,
        )
        settings = settings_from_mapping(CONTACTS, {})
        router = Router(settings.routing, settings.channels)
        watch = heals and RecurringHeals(heals, router, frozenset({"dashboard"}))
        self.tell = Escalation(router, frozenset({"dashboard"}), watch)
        self.recording = recording_from(
            settings,
            ["dashboard"],
            extra=[RemediationPlanner(playbooks, self.tell)],
            inline=inline,
        )
        self.runner = self.runner_on(store)

    def runner_on(self, store, worker_id: str = "w1") -> Runner:
        return Runner(
            store.runs, self.remediation, self.metrics, Boundaries(), self.clock,
            tell=self.tell, lease_seconds=30, worker_id=worker_id,
        )  # fmt: skip

    def fire(self, alertname: str, fingerprint: str = "a", status: str = "firing",
             **labels: str) -> RecordResult:  # fmt: skip
        alert = make_alert(
            fingerprint,
            status=status,
            alertname=alertname,
            starts_at=f"2026-11-28T09:{len(self.runs()):02d}:00Z",
            **labels,
        )
        return self.record(alert)

    def record(self, *alerts: dict[str, Any]) -> RecordResult:
        body = json.dumps(make_notification(*alerts)).encode()
        return self.store.record_notification(
            parse_notification(body), body, self.clock(), self.recording
        )

    def settle(self) -> int:
        """Let the stabilisation pass and work what is due then."""
        self.clock.advance(15)
        return self.runner.run_once()

    def runs(self) -> list[dict[str, Any]]:
        return self.store.runs.list()

    def deliveries(self, purpose: str | None = None) -> list[dict[str, Any]]:
        found = sorted(self.store.outbox.list(), key=lambda d: d["id"])
        return [d for d in found if purpose is None or d["purpose"].startswith(purpose)]

    def count(self, playbook: str, outcome: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            "alert_webhook_remediation_runs_total", {"playbook": playbook, "outcome": outcome}
        )
