"""duties.FailoverSwitchBack on a fake clock: back to the primary only once it has
passed every check for `switch_back_after`, through the same mechanism, recorded;
and the wiring that gives the action and the duty one failover record."""

from __future__ import annotations

from failover_support import Backends
from webhook_support import FakeClock

from alert_webhook.failover.config import FailoverSettings
from alert_webhook.failover.state import FailoverStates
from alert_webhook.failover.switch import Failover
from alert_webhook.failover.switch_back import FailoverSwitchBack
from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries


def failed_over(
    lb: Backends, store, clock: FakeClock, **extra
) -> tuple[Failover, FailoverSwitchBack]:
    service = lb.service("a", "b", **{"switch_back_after": "5m", "check_interval": "10s", **extra})
    settings = FailoverSettings.model_validate({"services": {"orders": service}})
    failover = Failover(settings, FailoverStates(store.tx, store.engine.dialect), clock)
    lb.health = {"a": 503}  # the primary is down: that is why it fails over
    assert failover.fail_over("orders", 10, Boundaries()).outcome is ActionOutcome.SUCCEEDED
    lb.health = {}
    lb.switched.clear()
    return failover, FailoverSwitchBack(failover, Boundaries(), clock)


def test_back_to_the_primary_once_it_has_been_healthy_long_enough(lb, store, clock) -> None:
    failover, duty = failed_over(lb, store, clock)
    started = clock.now
    duty()  # first passing check: the wait begins
    while clock.now - started < 290:
        clock.advance(10)
        duty()
    assert lb.switched == []
    assert failover.states.get("orders").active == "b"
    clock.advance(10)
    duty()
    assert lb.switched == ["a"]
    state = failover.states.get("orders")
    assert (state.active, state.since) == ("a", clock.now)
    assert state.reason == "switch back from b: a healthy for 300s"
    # On the primary there is nothing more to check.
    lb.checked.clear()
    clock.advance(60)
    duty()
    assert lb.checked == []


def test_one_failed_check_starts_the_wait_again(lb, store, clock) -> None:
    failover, duty = failed_over(lb, store, clock)
    duty()
    clock.advance(200)
    lb.health = {"a": 503}
    duty()
    lb.health = {}
    clock.advance(10)
    duty()  # healthy again from here
    clock.advance(290)
    duty()
    assert lb.switched == []
    clock.advance(10)
    duty()
    assert lb.switched == ["a"]


def test_the_primary_is_checked_once_per_check_interval(lb, store, clock) -> None:
    _, duty = failed_over(lb, store, clock)
    lb.checked.clear()
    for _ in range(10):
        duty()
        clock.advance(1)
    assert lb.checked == ["a"]


def test_a_failed_switch_back_keeps_the_backup_and_tries_again(lb, store, clock) -> None:
    failover, duty = failed_over(lb, store, clock, switch_back_after="10s")
    duty()
    lb.switch_status = 500
    clock.advance(10)
    duty()
    assert failover.states.get("orders").active == "b"
    lb.switch_status = 200
    clock.advance(10)
    duty()
    assert failover.states.get("orders").active == "a"
    assert lb.switched == ["a", "a"]


def test_without_switch_back_after_the_service_stays_where_it_is(lb, store, clock) -> None:
    failover, duty = failed_over(lb, store, clock, switch_back_after=None)
    lb.checked.clear()
    for _ in range(5):
        clock.advance(3600)
        duty()
    assert (lb.checked, failover.states.get("orders").active) == ([], "b")


def test_the_app_wires_the_duty_the_action_and_the_gauge_to_one_record(
    lb, store, clock, app_factory
) -> None:
    service = lb.service("a", "b", switch_back_after="1m")
    app = app_factory({"failover": {"services": {"orders": service}}})
    failover = FailoverStates(store.tx, store.engine.dialect)
    assert failover.claim("orders", "a", "a", clock.now, clock.now + 5, "test")
    assert failover.switched("orders", "b", clock.now, "failover from a", "test")
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'alert_webhook_failover_active{backend="b",service="orders"} 1.0' in metrics
    workers = app.extensions["alert_webhook"].workers
    workers.step("duties")
    clock.advance(60)
    workers.step("duties")
    assert lb.switched == ["a"]
    assert failover.get("orders").active == "a"
