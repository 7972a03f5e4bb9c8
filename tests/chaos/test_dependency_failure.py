"""Scenario 7, dependency failure: the orders API's dependency fails instance by
instance along the plan's chain, primary → secondary → tertiary, and then
people are called in, as the plan says, when all three have failed.

Each instance is made to fail with its own chaos switch (`error_ratio: 1`: its
/healthz and its reservations answer 500), so its probe raises
ServiceUnavailable for the dependency and fail-over-dependency moves the
`active` link to the next healthy instance. The failover leaves a healthy
active instance alone (an alert about a standby moves nothing), so each step
breaks the instance that is active at that moment, and only once the last
run's cooldown has passed (a run planned inside it is blocked, not retried).
Last, the instances are mended and the switch-back duty returns the API to the
primary once it has been healthy a while (10 s on the fast profile).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from integration.launcher import RECOVERED
from support.procs import wait_until

from chaos.results import record
from chaos.stack import ChaosStack, severity_rto, wait_recovered
from demo.dependency import ActiveInstance
from stack.ports import DEPENDENCY_INSTANCES
from stack.render import FAST_COOLDOWN_SECONDS
from stack.supervisor import Layout

PLAYBOOK = "fail-over-dependency"
pytestmark = pytest.mark.timeout(300)


def _chaos(stack: ChaosStack, instance: str, path: str, body: Any = None) -> None:
    response = requests.post(stack.url(DEPENDENCY_INSTANCES[instance], path), json=body, timeout=5)
    assert response.ok, response.text


def _active(stack: ChaosStack) -> str:
    """The instance the `active` link names, once the API's metric says the same."""
    link = ActiveInstance(Layout(stack.root).dependency).current().name
    gauge = stack.samples("demo", "demo_dependency_active")
    assert gauge[(("backend", link),)] == 1.0, gauge
    return link


def _served_by(stack: ChaosStack, instance: str) -> bool:
    """An order placed now is reserved by `instance`."""
    order = stack.place_order()
    return order.status_code == 201 and order.json()["backend"] == instance


def _fail_active_and_wait(stack: ChaosStack, failing: str, to: str) -> dict[str, Any]:
    """Break `failing` (the active instance) and wait until orders go to `to`."""
    assert _active(stack) == failing
    broken_at = time.time()
    _chaos(stack, failing, "/chaos", {"error_ratio": 1})
    run, _switched = wait_recovered(stack, PLAYBOOK, DEPENDENCY_INSTANCES[to], broken_at)
    wait_until(lambda: _active(stack) == to and _served_by(stack, to), 15, f"orders via {to}")
    record(
        f"dependency failure ({failing} -> {to})", time.time() - broken_at, severity_rto(stack, run)
    )
    [step] = run["steps"]
    assert (step["action"], step["status"]) == ("failover", "succeeded"), run
    alert = stack.alerts()[run["alert_id"]]
    assert (alert["alertname"], alert["labels"]["probe"]) == (
        "ServiceUnavailable",
        f"dependency-{failing}",
    ), alert
    return run


def _past_cooldown(run: dict[str, Any]) -> None:
    wait_until(
        lambda: time.time() > run["finished_at"] + FAST_COOLDOWN_SECONDS + 0.5,
        FAST_COOLDOWN_SECONDS + 5,
        f"{PLAYBOOK}'s cooldown",
    )


@pytest.fixture(scope="module")
def on_primary(chaos_stack: ChaosStack) -> ChaosStack:
    """Every instance mended and the API on the primary (a running stack may come
    from an earlier run), and mended again after the test."""
    for instance in DEPENDENCY_INSTANCES:
        _chaos(chaos_stack, instance, "/chaos/reset")
    wait_until(lambda: _active(chaos_stack) == "primary", 40, "the API on the primary")
    return chaos_stack


def test_the_dependency_fails_over_along_its_chain_then_people_are_told(
    on_primary: ChaosStack,
) -> None:
    stack = on_primary
    try:
        first = _fail_active_and_wait(stack, "primary", "secondary")
        _past_cooldown(first)
        second = _fail_active_and_wait(stack, "secondary", "tertiary")
        _past_cooldown(second)
        broken_at = time.time()
        _chaos(stack, "tertiary", "/chaos", {"error_ratio": 1})

        def runs(status: str) -> list[dict[str, Any]]:
            return [r for r in stack.remediations(PLAYBOOK, broken_at) if r["status"] == status]

        wait_until(lambda: bool(runs("failed")), 60, "the last failover to fail")
        last = runs("failed")[-1]
        [step] = last["steps"]
        assert step["status"] == "failed" and "no healthy backend" in step["detail"], step
        assert not runs(RECOVERED), "nothing was left to recover onto"
        assert _active(stack) == "tertiary", "nothing healthy to move to: the link stays"
        # The escalation: the run's own deliveries on the alert's channels (SMS and
        # email are skipped here: no providers), the dashboard's saying what was tried.
        purpose = f"remediation-{last['id']}"
        told = {
            d["channel"]: d for d in stack.deliveries(last["alert_id"]) if d["purpose"] == purpose
        }
        assert told["dashboard"]["status"] == "delivered", told
        assert "no healthy backend" in told["dashboard"]["note"], told
        mended_at = time.time()
        for instance in DEPENDENCY_INSTANCES:
            _chaos(stack, instance, "/chaos/reset")
        wait_until(
            lambda: _active(stack) == "primary" and _served_by(stack, "primary"),
            40,
            "the switch back to the primary",
        )
        assert time.time() - mended_at >= 10, "the primary healthy for 10 s first"
    finally:
        for instance in DEPENDENCY_INSTANCES:
            _chaos(stack, instance, "/chaos/reset")
