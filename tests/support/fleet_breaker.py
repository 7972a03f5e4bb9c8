"""The issue's breaker scenario, written once for every fleet it runs on: "three
hosts fail at once with a limit of two → the third is not acted on, automation
pauses, exactly one page; resume works and is recorded".

The unit version (tests/alert_webhook/fleet/test_pausing.py) drives the real
runner and store with an in-process action that fails; the end-to-end version
drives real hosts through Ansible. Each gives `three_hosts_with_a_limit_of_two` a
`BreakerFleet`: how to make an alert naming a host fire, how to let remediation
work, how an operator resumes, and which hosts an action reached. The webhook
under test must run with `SCENARIO_BREAKER` as its `fleet.breaker` settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from alert_webhook.db.schema import deliveries
from alert_webhook.fleet.breaker import Pause
from alert_webhook.store import SqlStore

# The limit of two is the hosts one: failures would have to happen before they
# count, hosts are counted before acting. The other limits stay out of the way.
SCENARIO_BREAKER: dict[str, Any] = {
    "max_hosts": 2, "max_failed": 10, "max_failed_share": 1.0, "window": "30m",
}  # fmt: skip
HOSTS = ("host-1", "host-2", "host-3")


@dataclass(frozen=True)
class BreakerFleet:
    store: SqlStore
    # An alert naming this host fires and is recorded (each call a new failure).
    fire: Callable[[str], None]
    # Returns once every run planned so far has ended (or is left verifying).
    work: Callable[[], None]
    # An operator resumes automation (console or API); returns what it answered.
    resume: Callable[[], Any]
    # The hosts an action reached so far, in order.
    acted_on: Callable[[], list[str]]


@dataclass(frozen=True)
class Outcome:
    pause: Pause
    page: list[dict[str, Any]]  # the page's deliveries, one per channel and person
    blocked_host: str


def _page(store: SqlStore) -> list[dict[str, Any]]:
    with store.tx.read() as conn:
        rows = conn.execute(
            select(deliveries).where(deliveries.c.purpose.like("fleet-breaker-%"))
            .order_by(deliveries.c.id)
        ).mappings()  # fmt: skip
        return [dict(r) for r in rows]


def three_hosts_with_a_limit_of_two(fleet: BreakerFleet, operator: str) -> Outcome:
    """Run the scenario and check each of its claims; what it found, for more checks."""
    for host in HOSTS:
        fleet.fire(host)
    fleet.work()
    runs = sorted(fleet.store.runs.list(), key=lambda r: r["id"])
    assert len(runs) == 3, runs
    first, second, third = runs
    assert all(r["started_at"] is not None for r in (first, second)), runs
    assert (third["status"], third["guardrail"]) == ("blocked", "fleet_breaker"), third
    blocked_host = third["target"].partition("host=")[2].split(",")[0]
    assert set(fleet.acted_on()) == {first["host"], second["host"]}, fleet.acted_on()
    assert blocked_host not in fleet.acted_on()

    pause = fleet.store.fleet.latest()
    assert pause is not None and pause.resumed_at is None
    assert (pause.limit, pause.run_id) == ("max_hosts", third["id"])
    assert pause.evidence["next_host"] == blocked_host
    assert sorted(pause.evidence["hosts"]) == sorted([first["host"], second["host"]])

    page = _page(fleet.store)
    assert page, "no page"
    assert {d["purpose"] for d in page} == {f"fleet-breaker-{pause.id}"}  # one trip, one page
    assert len({(d["channel"], d["recipient"]) for d in page}) == len(page)
    assert {d["note"] for d in page} == {page[0]["note"]}
    assert "fleet automation paused (max_hosts)" in page[0]["note"]

    # Paused: another failure is not acted on either, and pages nobody again.
    fleet.fire(first["host"])
    fleet.work()
    latest = max(fleet.store.runs.list(), key=lambda r: r["id"])
    assert (latest["status"], latest["guardrail"]) == ("blocked", "fleet_breaker"), latest
    assert len(_page(fleet.store)) == len(page)

    fleet.resume()
    resumed = fleet.store.fleet.latest()
    assert resumed is not None and resumed.id == pause.id
    assert (resumed.resumed_by, resumed.resumed_at is not None) == (operator, True)

    # Resumed: the host it stopped at is acted on now.
    fleet.fire(blocked_host)
    fleet.work()
    latest = max(fleet.store.runs.list(), key=lambda r: r["id"])
    assert latest["started_at"] is not None and latest["guardrail"] != "fleet_breaker", latest
    assert fleet.acted_on()[-1] == blocked_host
    return Outcome(pause, page, blocked_host)
