"""failover/switch.py against a real HTTP server on loopback, real symlinks
and a real store: the next healthy backend is chosen, switched to through the
mechanism and recorded; nothing healthy fails naming every check."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from failover_support import Backends
from prometheus_client import CollectorRegistry
from webhook_support import FakeClock

from alert_webhook.failover.config import (
    Backend,
    FailoverSettings,
    ServiceFailover,
    SymlinkMechanism,
)
from alert_webhook.failover.state import FailoverStates
from alert_webhook.failover.switch import (
    Failover,
    FailoverCollector,
    candidates,
    check_health,
    swap_symlink,
)
from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries


def failover_of(store, clock, **services: dict[str, Any]) -> Failover:
    settings = FailoverSettings.model_validate({"services": services})
    return Failover(settings, FailoverStates(store.tx, store.engine.dialect), clock)


def test_the_candidates_are_the_backends_after_the_active_one_then_round() -> None:
    service = ServiceFailover.model_validate(
        {
            "backends": [{"name": n, "health": {"url": f"http://{n}/h"}} for n in ("a", "b", "c")],
            "http": {"url": "http://lb/{backend}"},
        }
    )
    assert [b.name for b in candidates(service, "a")] == ["b", "c"]
    assert [b.name for b in candidates(service, "b")] == ["c", "a"]
    assert [b.name for b in candidates(service, "c")] == ["a", "b"]
    assert [b.name for b in candidates(service, "gone")] == ["a", "b", "c"]


def test_a_health_check_passes_on_2xx_only(lb: Backends) -> None:
    lb.health = {"down": 503, "moved": 302}
    backend = Backend.model_validate
    ctx = Boundaries()
    up = check_health(backend({"name": "up", "health": {"url": lb.url("/health/up")}}), ctx, 5)
    down = check_health(
        backend({"name": "down", "health": {"url": lb.url("/health/down")}}), ctx, 5
    )
    moved = check_health(
        backend({"name": "moved", "health": {"url": lb.url("/health/moved")}}), ctx, 5
    )
    assert (up.healthy, up.detail) == (True, "HTTP 200")
    assert (down.healthy, down.detail) == (False, "HTTP 503")
    assert (moved.healthy, moved.detail) == (False, "HTTP 302")  # redirects not followed


def test_a_health_check_that_does_not_answer_in_time_fails(lb: Backends) -> None:
    lb.slow = {"hung"}
    hung = Backend.model_validate(
        {"name": "hung", "health": {"url": lb.url("/health/hung"), "timeout": "200ms"}}
    )
    assert str(check_health(hung, Boundaries(), 5)) == "hung: unhealthy (no answer within 0.2s)"
    nobody = Backend.model_validate({"name": "x", "health": {"url": "http://127.0.0.1:1/"}})
    assert "ConnectionError" in check_health(nobody, Boundaries(), 5).detail


def test_the_first_healthy_backend_after_the_active_one_is_switched_to_and_recorded(
    lb: Backends, store, clock: FakeClock
) -> None:
    lb.health = {"db-a": 503, "db-b": 503}
    failover = failover_of(store, clock, orders=lb.service("db-a", "db-b", "db-c"))
    done = failover.fail_over("orders", 10, Boundaries())
    assert done.outcome is ActionOutcome.SUCCEEDED, done.detail
    assert lb.switched == ["db-c"]
    assert lb.checked == ["db-a", "db-b", "db-c"]  # the active one first, not as a candidate
    assert "db-b: unhealthy (HTTP 503)" in done.output
    assert "orders: db-a -> db-c (failover from db-a)" in done.output
    state = failover.states.get("orders")
    assert (state.active, state.since, state.reason) == ("db-c", clock.now, "failover from db-a")


def test_a_healthy_active_backend_is_not_switched_away_from(lb: Backends, store, clock) -> None:
    # The alert was about another backend (a standby down): moving traffic off a
    # backend that passes its health check would make things worse.
    failover = failover_of(store, clock, orders=lb.service("db-a", "db-b"))
    done = failover.fail_over("orders", 10, Boundaries())
    assert (done.outcome, done.detail) == (
        ActionOutcome.FAILED,
        "orders's active backend db-a: healthy (HTTP 200): nothing to fail over; not switched",
    )
    assert (lb.checked, lb.switched) == (["db-a"], [])
    assert failover.states.get("orders") is None


def test_no_healthy_backend_fails_naming_each_check(lb: Backends, store, clock) -> None:
    lb.health = {"db-a": 503, "db-b": 500, "db-c": 404}
    failover = failover_of(store, clock, orders=lb.service("db-a", "db-b", "db-c"))
    done = failover.fail_over("orders", 10, Boundaries())
    assert done.outcome is ActionOutcome.FAILED
    assert done.detail == (
        "no healthy backend for orders to fail over to from db-a: "
        "db-a: unhealthy (HTTP 503); db-b: unhealthy (HTTP 500); db-c: unhealthy (HTTP 404)"
    )
    assert lb.switched == []
    assert failover.states.get("orders") is None


def test_a_mechanism_that_fails_leaves_the_record_and_frees_the_claim(lb, store, clock) -> None:
    lb.switch_status, lb.health = 502, {"db-a": 503}
    failover = failover_of(store, clock, orders=lb.service("db-a", "db-b"))
    done = failover.fail_over("orders", 10, Boundaries())
    assert done.outcome is ActionOutcome.FAILED
    assert done.detail == "switching orders from db-a to db-b: HTTP status 502"
    state = failover.states.get("orders")
    assert (state.active, state.switching_until) == ("db-a", None)
    lb.switch_status = 200
    assert failover.fail_over("orders", 10, Boundaries()).outcome is ActionOutcome.SUCCEEDED


def test_a_service_switched_by_someone_else_is_not_switched_again(lb, store, clock) -> None:
    failover = failover_of(store, clock, orders=lb.service("db-a", "db-b"))
    lb.health = {"db-a": 503}
    assert failover.states.claim("orders", "db-a", "db-a", clock.now, clock.now + 60, "other")
    done = failover.fail_over("orders", 10, Boundaries())
    assert done.outcome is ActionOutcome.FAILED
    assert "being switched by another run" in done.detail
    assert lb.switched == []


def test_an_unknown_service_fails_naming_the_configured_ones(lb, store, clock) -> None:
    failover = failover_of(store, clock, orders=lb.service("db-a", "db-b"))
    done = failover.fail_over("billing", 10, Boundaries())
    assert (done.outcome, done.detail) == (
        ActionOutcome.FAILED,
        "no failover configured for service billing (configured: orders)",
    )


@pytest.mark.integration
def test_a_command_mechanism_gets_the_backend_as_an_argument(lb, store, clock, tmp_path) -> None:
    record = tmp_path / "switched"
    script = f"import sys; open({str(record)!r}, 'w').write(' '.join(sys.argv[1:]))"
    argv = [sys.executable, "-c", script, "--to", "{backend}"]
    service = {**lb.service("db-a", "db-b"), "http": None, "command": {"argv": argv}}
    failover = failover_of(store, clock, orders=service)
    lb.health = {"db-a": 503}
    done = failover.fail_over("orders", 10, Boundaries())
    assert done.outcome is ActionOutcome.SUCCEEDED, done.detail
    assert record.read_text() == "--to db-b"


def symlinked(tmp_path: Path) -> tuple[SymlinkMechanism, Path, Path, Path]:
    root = tmp_path / "app"
    (root / "releases" / "a").mkdir(parents=True)
    (root / "releases" / "b").mkdir()
    link = root / "current"
    link.symlink_to(root / "releases" / "a")
    return SymlinkMechanism(link=str(link), roots=[str(root)]), link, root / "releases", root


def test_the_symlink_swap_points_the_link_at_the_new_backend(tmp_path: Path) -> None:
    mechanism, link, releases, root = symlinked(tmp_path)
    outcome, output, detail = swap_symlink(mechanism, str(releases / "b"))
    assert (outcome, detail) == (ActionOutcome.SUCCEEDED, "")
    assert os.readlink(link) == str(releases / "b")
    assert output == f"{link} -> {releases / 'b'} (was {releases / 'a'})\n"
    assert sorted(p.name for p in root.iterdir()) == ["current", "releases"]  # no leftovers


def test_the_symlink_swap_never_replaces_a_real_file_or_folder(tmp_path: Path) -> None:
    mechanism, link, releases, _ = symlinked(tmp_path)
    link.unlink()
    link.mkdir()
    (link / "data").write_text("keep me")
    outcome, _, detail = swap_symlink(mechanism, str(releases / "b"))
    assert (outcome, detail) == (
        ActionOutcome.FAILED, "current is not a symbolic link; refusing to replace it",
    )  # fmt: skip
    assert (link / "data").read_text() == "keep me"


def test_the_symlink_swap_does_not_follow_links_out_of_its_roots(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "b").mkdir(parents=True)
    root = tmp_path / "app"
    root.mkdir()
    # The link's folder is itself a link leading out of the root.
    (root / "live").symlink_to(outside)
    escape = SymlinkMechanism(link=str(root / "live" / "current"), roots=[str(root)])
    (root / "b").mkdir()
    outcome, _, detail = swap_symlink(escape, str(root / "b"))
    assert outcome is ActionOutcome.FAILED
    assert not (outside / "current").exists()
    # A backend path that resolves outside the roots is not linked either.
    (root / "sneaky").symlink_to(outside / "b")
    inside = SymlinkMechanism(link=str(root / "current"), roots=[str(root)])
    outcome, _, detail = swap_symlink(inside, str(root / "sneaky"))
    assert (outcome, detail) == (
        ActionOutcome.FAILED,
        f"{root / 'sneaky'} leads outside the roots; not linked",
    )
    assert not (root / "current").exists()


def test_the_active_backend_gauge_is_read_from_the_store(lb, store, clock) -> None:
    failover = failover_of(
        store, clock, orders=lb.service("db-a", "db-b"), web=lb.service("w1", "w2")
    )
    registry = CollectorRegistry()
    registry.register(FailoverCollector(failover.settings, failover.states))
    value = registry.get_sample_value
    name = "alert_webhook_failover_active"
    assert value(name, {"service": "orders", "backend": "db-a"}) == 1.0
    assert value(name, {"service": "orders", "backend": "db-b"}) == 0.0
    lb.health = {"db-a": 503}
    assert failover.fail_over("orders", 10, Boundaries()).outcome is ActionOutcome.SUCCEEDED
    assert value(name, {"service": "orders", "backend": "db-a"}) == 0.0
    assert value(name, {"service": "orders", "backend": "db-b"}) == 1.0
    assert value(name, {"service": "web", "backend": "w1"}) == 1.0


def test_health_checks_that_use_up_the_timeout_switch_nothing(lb, store, clock) -> None:
    ticks = iter(range(0, 100, 6))  # each reading of the clock is 6 s later
    failover = failover_of(store, clock, orders=lb.service("db-a", "db-b", "db-c", "db-d"))
    lb.health = {"db-a": 503, "db-b": 503}
    done = failover.fail_over("orders", 10, Boundaries(monotonic=lambda: float(next(ticks))))
    assert done.outcome is ActionOutcome.TIMED_OUT
    assert done.detail == "out of time after 10s of health checks; orders not switched"
    assert done.output == "db-a: unhealthy (HTTP 503)\ndb-b: unhealthy (HTTP 503)\n"
    assert lb.switched == []
