"""Scenario 2, multi-service failure: both business services (the orders API
`demo` and its worker `demo_worker`) killed with kill -9 at once come back
through their own playbooks, and the time until both answer is recorded.

The order: the plan's rule is "dependency first", and here the dependency (the
stock-reservation instances the API calls) never went down, so no failover
runs at all; the API and the worker depend on each other only through the
orders file, which each opens by itself, so neither must wait for the other
and they recover side by side, each on its own target. What must hold is
that no target ever has two actions at once (each run's started → finished
span on a target is apart from the next) and that, once both answer, the
system works end to end: an order placed through the API is worked off by the
worker.
"""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any

import pytest
import requests
from support.procs import wait_until

from chaos.results import record
from chaos.stack import ChaosStack, severity_rto, wait_recovered

BUSINESS = {"demo": "restart-demo", "demo_worker": "restart-demo-worker"}
pytestmark = pytest.mark.timeout(180)


def _acted(run: dict[str, Any]) -> bool:
    """Whether `run` did something: it started and was no dry run (skipped)."""
    return run["started_at"] is not None and run["status"] != "skipped"


def _spans_apart(runs: list[dict[str, Any]]) -> bool:
    """No two of `runs` that acted overlap in time."""
    spans = sorted((r["started_at"], r["finished_at"]) for r in runs if _acted(r))
    return all(finished <= started for (_, finished), (started, _) in pairwise(spans))


def _worked_off(stack: ChaosStack, order_id: int) -> bool:
    response = requests.get(stack.url("demo", "/api/orders"), timeout=2)
    return any(o["id"] == order_id and o["status"] == "done" for o in response.json()["orders"])


def test_both_business_services_killed_come_back_one_action_per_target(
    chaos_stack: ChaosStack,
) -> None:
    killed_at = time.time()
    for service in BUSINESS:
        chaos_stack.kill(service)
    recovered = {
        service: wait_recovered(chaos_stack, playbook, service, killed_at)
        for service, playbook in BUSINESS.items()
    }
    both_back = max(at for _run, at in recovered.values())
    runs = chaos_stack.remediations(since=killed_at)
    for service, (run, _at) in recovered.items():
        assert run["target"] == f"service={service}", run
        on_target = [r for r in runs if r["target"] == run["target"]]
        assert _spans_apart(on_target), on_target
    # The services' other alerts of category connection meet only the
    # catch-all fail-over playbook, a dry run; the dependency is never failed over.
    others = [r for r in runs if r["playbook"] not in BUSINESS.values() and _acted(r)]
    assert not others, others
    assert not [r for r in runs if r["target"] == "service=dependency"], "dependency untouched"
    order = chaos_stack.place_order()
    assert order.status_code == 201, order.text
    wait_until(lambda: _worked_off(chaos_stack, order.json()["id"]), 15, "the order worked off")
    rto = min(severity_rto(chaos_stack, run) for run, _at in recovered.values())
    result = record("multi-service failure", both_back - killed_at, rto)
    assert result.recovery_seconds < rto, result
