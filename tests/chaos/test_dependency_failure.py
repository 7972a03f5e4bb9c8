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
from integration.launcher import RECOVERED
from support.procs import wait_until

from chaos.results import record
from chaos.stack import (
    FAILOVER,
    ChaosStack,
    active_dependency,
    fail_active_and_wait,
    fail_last_and_wait_told,
    mend_dependency,
    past_cooldown,
    served_by,
    severity_rto,
)

pytestmark = pytest.mark.timeout(300)


def _fail_over(stack: ChaosStack, failing: str, to: str) -> dict[str, Any]:
    run, seconds = fail_active_and_wait(stack, failing, to)
    record(f"dependency failure ({failing} -> {to})", seconds, severity_rto(stack, run))
    return run


@pytest.fixture(scope="module")
def on_primary(chaos_stack: ChaosStack) -> ChaosStack:
    """Every instance mended and the API on the primary (a running stack may come
    from an earlier run), and mended again after the test."""
    mend_dependency(chaos_stack)
    wait_until(lambda: active_dependency(chaos_stack) == "primary", 40, "the API on the primary")
    return chaos_stack


def test_the_dependency_fails_over_along_its_chain_then_people_are_told(
    on_primary: ChaosStack,
) -> None:
    stack = on_primary
    try:
        past_cooldown(_fail_over(stack, "primary", "secondary"))
        past_cooldown(_fail_over(stack, "secondary", "tertiary"))
        broken_at = time.time()
        last, told, _seconds = fail_last_and_wait_told(stack, "tertiary")
        [step] = last["steps"]
        assert step["status"] == "failed" and "no healthy backend" in step["detail"], step
        runs = stack.remediations(FAILOVER, broken_at)
        recovered = [r for r in runs if r["status"] == RECOVERED]
        assert not recovered, "nothing was left to recover onto"
        assert active_dependency(stack) == "tertiary", "nothing healthy to move to: the link stays"
        # The escalation: the run's own deliveries on the alert's channels (SMS and
        # email are skipped here: no providers), the dashboard's saying what was tried.
        assert told["dashboard"]["status"] == "delivered", told
        assert "no healthy backend" in told["dashboard"]["note"], told
        mended_at = time.time()
        mend_dependency(stack)
        wait_until(
            lambda: active_dependency(stack) == "primary" and served_by(stack, "primary"),
            40,
            "the switch back to the primary",
        )
        assert time.time() - mended_at >= 10, "the primary healthy for 10 s first"
    finally:
        mend_dependency(stack)
