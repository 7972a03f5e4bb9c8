"""Recurring heals, on a fake clock: a target healed (verified) more than
`max_heals` times within the window pages once per window, routed as a high
alert of that target (critical when the alert is), with the runs listed; the
guarded write of the target's row lets one transaction page, across replicas."""

from __future__ import annotations

from resolved_support import Notes, demo_alert, noting
from runs_support import Harness

from alert_webhook.remediation.recurring import Heal, RecurringHealsSettings, page_text
from alert_webhook.remediation.run_notices import claim_page

HOUR = 3600.0
LIMIT = RecurringHealsSettings(max_heals=3, window_seconds=2 * HOUR)


def heal(h: Harness, n: int, severity: str = "medium") -> None:
    """A firing copy of DemoDown on service=demo, fixed and verified."""
    h.record(demo_alert(fingerprint=f"f{n}", severity=severity, instance=f"db{n}:9100"))
    h.runner.run_once()
    h.settle()
    assert max(h.runs(), key=lambda r: r["id"])["status"] == "verified"


def pages(h: Harness) -> list[dict]:
    return h.deliveries("recurring-heals-")


def harness(store, heals: RecurringHealsSettings = LIMIT) -> Harness:
    notes = Notes()
    return Harness(
        store,
        [noting("restart", cooldown="1s", max_attempts=20)],
        actions=notes.actions,
        heals=heals,
    )


def test_the_heal_past_the_limit_pages_once_routed_as_high(store) -> None:
    h = harness(store)
    for n in range(3):
        heal(h, n)
        h.clock.advance(60)
    assert pages(h) == []  # three heals: within the limit
    heal(h, 3)
    runs = sorted(r["id"] for r in h.runs())
    got = pages(h)
    # A medium alert, routed as a high one: email and the dashboard.
    assert sorted((d["channel"], d["recipient"]) for d in got) == [
        ("dashboard", ""), ("email", "oncall@example.org"),
    ]  # fmt: skip
    assert {d["purpose"] for d in got} == {f"recurring-heals-{runs[-1]}"}
    text = got[0]["note"]
    assert text.startswith("service=demo healed 4 times in 2 h: look at the cause")
    assert all(f"run {i} DemoDown for DemoDown at " in text for i in runs)
    h.clock.advance(60)
    heal(h, 4)  # a fifth within the window: no second page
    assert len(pages(h)) == 2


def test_a_critical_alert_pages_as_critical_and_again_a_window_later(store) -> None:
    h = harness(store)
    for n in range(4):
        heal(h, n, "critical")
    assert {d["channel"] for d in pages(h)} == {"sms", "email", "dashboard"}
    first = len(pages(h))
    h.clock.advance(2 * HOUR)  # the earlier heals fall out of the window
    for n in range(4, 8):
        heal(h, n, "critical")
    assert len(pages(h)) == 2 * first


def test_heals_spread_wider_than_the_window_page_nobody(store) -> None:
    h = harness(store)
    for n in range(6):
        heal(h, n)
        h.clock.advance(HOUR)  # three in any two hours at most
    assert pages(h) == []


def test_turned_off_it_pages_nobody(store) -> None:
    h = harness(store, RecurringHealsSettings(enabled=False))
    for n in range(5):
        heal(h, n)
    assert pages(h) == []


def test_of_replicas_paging_at_once_one_wins(any_store) -> None:
    """Two replicas ending heals of one target in the same window: each asks
    for the page in its own transaction; the target's row lets one through."""
    heals = [Heal(n, "restart-demo", "ServiceUnavailable", 100.0 + n) for n in range(4)]
    won = []
    for _replica in range(2):
        with any_store.tx.write() as conn:
            won.append(claim_page(conn, "service=demo", heals, 200.0, 2 * HOUR))
    assert won == [True, False]
    with any_store.tx.write() as conn:
        assert not claim_page(conn, "service=demo", heals, 200.0 + 2 * HOUR - 1, 2 * HOUR)
        assert claim_page(conn, "service=demo", heals, 200.0 + 2 * HOUR, 2 * HOUR)
        assert claim_page(conn, "service=web", heals, 300.0, 2 * HOUR)  # its own target


def test_the_page_is_one_line_whatever_the_labels() -> None:
    heals = [Heal(7, "restart-demo", "Down\nnow <b>", 0.0)]
    text = page_text("service=demo\r\nx", heals, 7200.0)
    assert "\n" not in text and "\r" not in text
    assert text.endswith("Runs: run 7 restart-demo for Down now <b> at 00:00:00 UTC")
