"""failover/state.py on both stores: which backend a service is on, switched only
under a claim that no second switcher can take while it holds."""

from __future__ import annotations

import pytest

from alert_webhook.failover.state import NEVER_SWITCHED, FailoverStates


@pytest.fixture
def states(any_store) -> FailoverStates:
    return FailoverStates(any_store.tx, any_store.engine.dialect)


def test_a_service_never_switched_has_no_record(states) -> None:
    assert states.get("db") is None
    assert states.all() == []


def test_a_claimed_switch_is_recorded_with_its_time_and_reason(states) -> None:
    assert states.claim("db", "db-a", "db-a", 100.0, 130.0, "w1")
    claimed = states.get("db")
    assert claimed is not None
    assert (claimed.active, claimed.reason, claimed.switching_until) == (
        "db-a",
        NEVER_SWITCHED,
        130.0,
    )
    assert states.switched("db", "db-b", 105.0, "failover from db-a", "w1")
    state = states.get("db")
    assert state is not None
    assert (state.active, state.since, state.reason) == ("db-b", 105.0, "failover from db-a")
    assert state.switching_until is None
    assert [s.service for s in states.all()] == ["db"]


def test_a_second_switcher_cannot_claim_while_the_first_holds_the_claim(states) -> None:
    assert states.claim("db", "db-a", "db-a", 100.0, 130.0, "w1")
    assert not states.claim("db", "db-a", "db-a", 110.0, 140.0, "w2")
    assert not states.switched("db", "db-c", 111.0, "not mine", "w2")
    # Past the first claim's time, it is anyone's (the first switcher died).
    assert states.claim("db", "db-a", "db-a", 131.0, 160.0, "w2")
    assert not states.switched("db", "db-b", 132.0, "too late", "w1")
    assert states.switched("db", "db-c", 132.0, "failover from db-a", "w2")
    assert states.get("db").active == "db-c"


def test_a_claim_on_a_backend_the_service_has_left_is_refused(states) -> None:
    assert states.claim("db", "db-a", "db-a", 100.0, 130.0, "w1")
    assert states.switched("db", "db-b", 101.0, "failover from db-a", "w1")
    # A second replica still thinks the service is on db-a: nothing is switched twice.
    assert not states.claim("db", "db-a", "db-a", 102.0, 130.0, "w2")


def test_a_released_claim_leaves_the_backend_as_it_was(states) -> None:
    assert states.claim("db", "db-a", "db-a", 100.0, 130.0, "w1")
    states.release("db", "w1")
    state = states.get("db")
    assert (state.active, state.switching_until) == ("db-a", None)
    assert states.claim("db", "db-a", "db-a", 101.0, 130.0, "w2")


def test_the_primary_is_healthy_since_its_first_passing_check_until_one_fails(states) -> None:
    assert states.claim("db", "db-a", "db-a", 100.0, 130.0, "w1")
    assert states.switched("db", "db-b", 100.0, "failover from db-a", "w1")
    assert states.primary_health("db", True, 200.0) == 200.0
    assert states.primary_health("db", True, 260.0) == 200.0
    assert states.primary_health("db", False, 270.0) is None
    assert states.primary_health("db", True, 280.0) == 280.0
    # A switch starts the count afresh.
    assert states.claim("db", "db-b", "db-a", 290.0, 300.0, "w1")
    assert states.switched("db", "db-a", 291.0, "switch back", "w1")
    assert states.get("db").primary_healthy_since is None
