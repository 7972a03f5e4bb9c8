"""reports/digest.py on a fake clock: due once per ISO week at its weekday and
hour, never before; a week with no alerts sends nothing; two replicas send
once; a relay that is down is retried with backoff, a refusal is final."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from noise_support import DAY, HOUR, T0, deliver, fire, resolve  # noqa: E402
from webhook_support import FakeClock, concurrently  # noqa: E402

from alert_webhook.reports.digest import (  # noqa: E402
    NOTHING_FIRED,
    Letter,
    NotConfigured,
    Undelivered,
    WeeklyDigest,
    week_of,
)
from alert_webhook.reports.settings import DigestSettings  # noqa: E402

# T0 is Saturday 2026-11-28 09:00 UTC, in ISO week 48; week 49's digest is due
# on Monday 2026-11-30 at 08:00 and reports the 7 days before.
MONDAY_8 = datetime(2026, 11, 30, 8, tzinfo=UTC).timestamp()
PEOPLE = ["alice@example.org", "bob@example.org"]


class Relay:
    """The transport: takes each letter, or raises what it is told to."""

    def __init__(self, *failures: Exception) -> None:
        self.letters: list[Letter] = []
        self.failures = list(failures)

    def __call__(self, letter: Letter) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.letters.append(letter)
        return "relay1"


@pytest.fixture
def store(any_store):
    return any_store


def digest(store, clock, relay, **settings) -> WeeklyDigest:
    cfg = DigestSettings(enabled=True, **settings)
    return WeeklyDigest(
        cfg, cfg.recipients_or(PEOPLE), "http://console.example/", store.digests, store.noise,
        relay,
        backoff=lambda attempt: 10.0 * 2**attempt, clock=clock, lease_seconds=60,
    )  # fmt: skip


def noisy_week(store) -> None:
    """One alert that paged and resolved by itself on Saturday."""
    alert = fire(store, "fp1", 0, alertname="DiskFull", service="db", severity="high")
    deliver(store, alert)
    resolve(store, "fp1", 0, HOUR, alertname="DiskFull", service="db", severity="high")


def test_the_week_and_its_window() -> None:
    week = week_of(T0, "mon", 8)
    assert week.key == "2026-W48"
    assert week.until == MONDAY_8 - 7 * DAY
    assert week.until - week.since == 7 * DAY
    # Sunday night is still week 48; Monday just past midnight is week 49.
    assert week_of(MONDAY_8 - 8 * HOUR - 1, "mon", 8).key == "2026-W48"
    assert week_of(MONDAY_8 - 8 * HOUR, "mon", 8) == week_of(MONDAY_8, "mon", 8)
    friday = week_of(MONDAY_8, "fri", 17)
    assert (friday.key, friday.until) == ("2026-W49", MONDAY_8 + 4 * DAY + 9 * HOUR)


def test_off_by_default() -> None:
    assert DigestSettings().enabled is False


def test_not_before_its_time_then_once_per_week(store) -> None:
    noisy_week(store)
    clock, relay = FakeClock(MONDAY_8 - 1), Relay()
    weekly = digest(store, clock, relay)
    assert weekly.run_once() == 0
    assert relay.letters == [] and store.count("digests") == 0
    clock.now = MONDAY_8
    assert weekly.run_once() == 1
    weekly.run_once()
    assert sorted(letter.recipient for letter in relay.letters) == PEOPLE
    first = relay.letters[0]
    assert first.subject.startswith("[noise report] 2026-W49: 1 fired, 1 never acted on")
    assert first.message_id.startswith("<digest-2026-W49.")
    for _ in range(7 * 24):  # the rest of the week, an hour at a time
        clock.advance(HOUR)
        weekly.run_once()
    assert clock.now >= MONDAY_8 + 7 * DAY
    # Week 50 came round: it is due too, and it is quiet (nothing fired since).
    assert len(relay.letters) == 2
    rows = {(r["week"], r["recipient"]): r for r in store.digests.list()}
    assert {r["status"] for (w, _), r in rows.items() if w == "2026-W49"} == {"sent"}
    assert {r["status"] for (w, _), r in rows.items() if w == "2026-W50"} == {"skipped"}


def test_a_week_with_no_alerts_sends_nothing(store) -> None:
    clock, relay = FakeClock(MONDAY_8 + 5), Relay()
    weekly = digest(store, clock, relay)
    weekly.run_once()
    weekly.run_once()
    assert relay.letters == []
    rows = store.digests.list()
    assert [(r["status"], r["note"]) for r in rows] == [("skipped", NOTHING_FIRED)] * 2


def test_an_alert_before_the_window_does_not_count(store) -> None:
    fire(store, "old", -7 * DAY, alertname="Old")  # Saturday of the week before
    clock, relay = FakeClock(MONDAY_8), Relay()
    digest(store, clock, relay).run_once()
    assert relay.letters == []


def test_the_configured_weekday_and_hour(store) -> None:
    noisy_week(store)
    clock, relay = FakeClock(MONDAY_8), Relay()
    weekly = digest(store, clock, relay, weekday="tue", hour=6)
    weekly.run_once()
    assert relay.letters == []
    clock.now = MONDAY_8 + DAY - 2 * HOUR  # Tuesday 06:00
    weekly.run_once()
    assert len(relay.letters) == 1


def test_two_replicas_send_once(store) -> None:
    noisy_week(store)
    clock = FakeClock(MONDAY_8)
    relays = [Relay(), Relay()]
    a, b = (digest(store, clock, relay) for relay in relays)
    concurrently(lambda: a.plan(clock()), lambda: b.plan(clock()))
    for _ in range(3):
        concurrently(a.send_due, b.send_due)
    letters = relays[0].letters + relays[1].letters
    assert sorted(letter.recipient for letter in letters) == PEOPLE
    assert store.count("digests") == 2


def test_a_replica_that_died_mid_send_is_taken_over_after_its_lease(store) -> None:
    noisy_week(store)
    clock, relay = FakeClock(MONDAY_8), Relay()
    weekly = digest(store, clock, relay)
    weekly.plan(clock())
    store.digests.claim(clock(), "dead-replica", 60, 2)  # claimed both, never sent
    assert weekly.send_due() == 0
    clock.advance(61)
    weekly.run_once()
    weekly.run_once()
    assert len(relay.letters) == 2


def test_an_unavailable_relay_is_retried_with_backoff(store) -> None:
    noisy_week(store)
    down = Undelivered("relay1: SMTP unreachable", retryable=True)
    clock, relay = FakeClock(MONDAY_8), Relay(down, RuntimeError("surprise"))
    weekly = digest(store, clock, relay, recipients=["alice@example.org"])
    weekly.run_once()
    [row] = store.digests.list()
    assert (row["status"], row["next_attempt_at"]) == ("pending", MONDAY_8 + 20)
    assert row["last_error"] == "relay1: SMTP unreachable"
    clock.advance(19)
    assert weekly.run_once() == 0
    clock.advance(1)
    weekly.run_once()  # the unexpected error: retried too, after 40 s
    assert store.digests.list()[0]["last_error"] == "unexpected RuntimeError: surprise"
    clock.advance(40)
    weekly.run_once()
    [row] = store.digests.list()
    assert (row["status"], row["attempts"], row["provider"]) == ("sent", 3, "relay1")


def test_a_refusal_is_final_and_recorded(store) -> None:
    noisy_week(store)
    refused = Undelivered("relay1: recipient refused: [550]", retryable=False)
    clock, relay = FakeClock(MONDAY_8), Relay(refused)
    digest(store, clock, relay).run_once()
    rows = {r["recipient"]: r for r in store.digests.list()}
    assert rows["alice@example.org"]["status"] == "failed"
    assert rows["alice@example.org"]["last_error"] == "relay1: recipient refused: [550]"


def test_it_gives_up_after_its_time(store) -> None:
    noisy_week(store)
    down = Undelivered("relay1: SMTP unreachable", retryable=True)
    clock, relay = FakeClock(MONDAY_8), Relay(*[down] * 50)
    weekly = digest(store, clock, relay, recipients=["alice@example.org"],
                    give_up_after_seconds=HOUR)  # fmt: skip
    for _ in range(30):
        weekly.run_once()
        clock.advance(5 * 60)
    [row] = store.digests.list()
    assert row["status"] == "failed"
    assert MONDAY_8 + HOUR <= row["finished_at"] < MONDAY_8 + HOUR + 5 * 60


def test_without_email_it_is_recorded_skipped(store) -> None:
    noisy_week(store)
    clock = FakeClock(MONDAY_8)
    relay = Relay(*[NotConfigured("not configured: no providers in the webhook config")] * 2)
    digest(store, clock, relay).run_once()
    digest(store, clock, relay).run_once()
    assert {(r["status"], r["note"]) for r in store.digests.list()} == {
        ("skipped", "not configured: no providers in the webhook config")
    }
