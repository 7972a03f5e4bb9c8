"""reports/noise.py on both stores: each column of the noise report from a
hand-built store, the worst-first order, and the window."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from noise_support import (  # noqa: E402
    DAY,
    HOUR,
    T0,
    deliver,
    end_run,
    fire,
    flap,
    resolve,
)

from alert_webhook.remediation.states import RunStatus  # noqa: E402
from alert_webhook.reports.noise import (  # noqa: E402
    BadSince,
    NoiseReport,
    NoiseRow,
    PlaybookRow,
    parse_since,
)


@pytest.fixture
def store(any_store):
    return any_store


def week(store, now: float = 2 * DAY) -> NoiseReport:
    return store.noise.report(T0 + now - 7 * DAY, T0 + now)


def _row(rows: list[NoiseRow], name: str) -> NoiseRow:
    return next(r for r in rows if r.name == name)


def test_an_empty_store_has_an_empty_report(store) -> None:
    report = week(store)
    assert (report.rules, report.services, report.playbooks) == ([], [], [])


def test_each_column_of_a_rule(store) -> None:
    # Paged, nobody answered, cleared by itself after 60 s: never acted on.
    a = fire(store, "a", 0, alertname="DiskFull", service="db")
    deliver(store, a)
    resolve(store, "a", 0, 60, alertname="DiskFull", service="db")
    # Acknowledged before it resolved (120 s): acted on.
    b = fire(store, "b", 1000, alertname="DiskFull", service="db")
    deliver(store, b)
    store.incidents.ack(b, "ops", T0 + 1010)
    resolve(store, "b", 1000, 1120, alertname="DiskFull", service="db")
    # Acknowledged only after it resolved (30 s): resolved unacknowledged.
    c = fire(store, "c", 2000, alertname="DiskFull", service="db")
    deliver(store, c)
    resolve(store, "c", 2000, 2030, alertname="DiskFull", service="db")
    store.incidents.ack(c, "ops", T0 + 2040)
    # Closed by an operator's hand: acted on, not resolved by itself.
    d = fire(store, "d", 3000, alertname="DiskFull", service="db")
    deliver(store, d)
    store.incidents.resolve_handled(d, "ops", "freed space", T0 + 3010)
    resolve(store, "d", 3000, 3100, alertname="DiskFull", service="db")
    # Still firing: no duration yet, not resolved.
    fire(store, "e", 4000, alertname="DiskFull", service="db")
    flap(store, a, 50)

    [rule] = week(store).rules
    assert rule == NoiseRow(
        name="DiskFull", fired=5, flaps=1, resolved_unacknowledged=2,
        median_duration_seconds=pytest.approx(80.0, abs=0.01),  # of 60, 120, 30, 100
        healed=0, messages=rule.messages, never_acted_on=2,
    )  # fmt: skip
    # CONTACTS routes a critical alert to SMS and email (the console's are not sent).
    assert rule.messages == 4 * 2
    assert rule.healed_share == 0.0


def test_a_healed_alert_is_not_noise_and_its_share_is_counted(store) -> None:
    a = fire(store, "a", 0, service="demo")  # DemoServiceDown: restart-demo plans a run
    deliver(store, a)
    end_run(store, 10, RunStatus.VERIFIED)
    resolve(store, "a", 0, 20, service="demo")
    b = fire(store, "b", 100, service="demo")
    deliver(store, b)
    end_run(store, 110, RunStatus.INEFFECTIVE)
    resolve(store, "b", 100, 200, service="demo")
    [rule] = week(store).rules
    assert (rule.fired, rule.healed, rule.resolved_unacknowledged, rule.never_acted_on) == (
        2, 1, 2, 1)  # fmt: skip
    assert rule.healed_share == 0.5
    [book] = week(store).playbooks
    assert book == PlaybookRow("restart-demo", runs=2, verified=1, ineffective=1)


def test_an_alert_that_paged_nobody_is_not_never_acted_on(store) -> None:
    fire(store, "quiet", 0, alertname="Quiet", service="db")  # messages left pending
    resolve(store, "quiet", 0, 30, alertname="Quiet", service="db")
    [rule] = week(store).rules
    assert (rule.messages, rule.resolved_unacknowledged, rule.never_acted_on) == (0, 1, 0)


def test_services_group_their_rules(store) -> None:
    for n, name in enumerate(["DiskFull", "DiskSlow"]):
        fire(store, f"db{n}", n * 10, alertname=name, service="db")
    fire(store, "web", 5, alertname="DiskFull", service="web")
    report = week(store)
    assert [(r.name, r.fired) for r in report.services] == [("db", 2), ("web", 1)]
    assert _row(report.rules, "DiskFull").fired == 2


def test_worst_first_never_acted_on_then_messages_then_fires_then_name(store) -> None:
    # Noisy: never acted on once. Busy: fires three times, each acknowledged.
    n = fire(store, "n", 0, alertname="Noisy", service="s1")
    deliver(store, n)
    resolve(store, "n", 0, 10, alertname="Noisy", service="s1")
    for i in range(3):
        b = fire(store, f"b{i}", 100 + i, alertname="Busy", service="s2")
        store.incidents.ack(b, "ops", T0 + 150)
    fire(store, "z", 200, alertname="Alone", service="s3")
    fire(store, "y", 201, alertname="Also", service="s4")
    report = week(store)
    assert [r.name for r in report.rules] == ["Noisy", "Busy", "Alone", "Also"]
    assert [r.name for r in report.services] == ["s1", "s2", "s3", "s4"]


def test_playbooks_worst_first_by_runs_that_did_not_heal() -> None:
    from alert_webhook.reports.noise import _playbooks

    rows = _playbooks([("good", "verified")] * 3 + [("bad", "failed"), ("bad", "blocked"),
                      ("meh", "ineffective"), ("meh", "skipped")])  # fmt: skip
    assert [p.playbook for p in rows] == ["bad", "meh", "good"]
    assert rows[1].other == 1


def test_the_window_counts_firings_and_flaps_within_it_only(store) -> None:
    old = fire(store, "old", 0, alertname="Old")
    flap(store, old, 0)
    fire(store, "new", 8 * DAY, alertname="New")
    # A week ending at day 9 holds the new one only; one ending at day 2 the old.
    assert [r.name for r in week(store, 9 * DAY).rules] == ["New"]
    report = week(store, 2 * DAY)
    assert [(r.name, r.flaps) for r in report.rules] == [("Old", 1)]
    # The end is open: what fires at `until` is the next window's.
    assert store.noise.report(T0, T0 + 8 * DAY + 5).rules[0].name == "Old"
    assert len(store.noise.report(T0, T0 + 8 * DAY + 5.001).rules) == 2


def test_the_report_round_trips_through_json(store) -> None:
    a = fire(store, "a", 0, service="demo")
    deliver(store, a)
    end_run(store, 10, RunStatus.FAILED)
    resolve(store, "a", 0, HOUR, service="demo")
    report = week(store)
    again = NoiseReport.from_json(report.to_json())
    assert again == report
    assert report.to_json()["rules"][0]["healed_share"] == 0.0


@pytest.mark.parametrize(
    "text, seconds",
    [("7d", 7 * DAY), ("24h", DAY), ("30m", 1800.0), ("2w", 14 * DAY), (" 90s ", 90.0)],
)
def test_since_takes_one_number_and_a_unit(text: str, seconds: float) -> None:
    assert parse_since(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "7", "d", "-1d", "1.5d", "7d1h", "0d", "400d", "7 d", "x" * 99]
)
def test_a_bad_since_names_the_parameter(text: str) -> None:
    with pytest.raises(BadSince, match=r"^since: "):
        parse_since(text)
