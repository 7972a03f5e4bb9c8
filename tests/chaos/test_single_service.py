"""Scenario 1, random service kill: one business service killed with kill -9 comes
back through the alert path (probe → ServiceUnavailable → Alertmanager →
webhook → its restart playbook) with no human, and the time it took is recorded
against the plan's RTO for the alert's severity.

The service is chosen at random with a fixed seed, so a failure names one
service and a rerun breaks the same one ($CHAOS_SEED moves it).
"""

from __future__ import annotations

import os
import random
import time

import pytest

from chaos.results import record
from chaos.stack import ChaosStack, severity_rto, wait_recovered

# Each business service with the playbook that restarts it.
BUSINESS = {"demo": "restart-demo", "demo_worker": "restart-demo-worker"}
SEED = int(os.environ.get("CHAOS_SEED", "11"))
pytestmark = pytest.mark.timeout(180)


def test_a_randomly_killed_business_service_is_restarted_and_recorded(
    chaos_stack: ChaosStack,
) -> None:
    service = random.Random(SEED).choice(sorted(BUSINESS))
    playbook = BUSINESS[service]
    killed_at = time.time()
    pid = chaos_stack.kill(service)
    run, recovered_at = wait_recovered(chaos_stack, playbook, service, killed_at)
    [step] = run["steps"]
    assert (step["action"], step["status"]) == ("restart_service", "succeeded"), run
    assert step["output"].startswith(f"{service}: EXITED -> RUNNING (pid "), step
    assert chaos_stack.pid(service) not in (None, pid), "a new process"
    alert = chaos_stack.alerts()[run["alert_id"]]
    assert alert["alertname"] == "ServiceUnavailable" and alert["labels"]["service"] == service
    rto = severity_rto(chaos_stack, run)
    result = record(f"single service kill ({service})", recovered_at - killed_at, rto)
    assert result.recovery_seconds < rto, result
