"""delivery/worker.py with real peers (aiosmtpd, the twilio client vs a loopback API)
and a fake clock: retries, breakers, failover, escalation, storm control."""

from __future__ import annotations

import json
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fakes import TWILIO_ENV, fake_twilio, smtp_provider, smtp_server, twilio_provider
from webhook_support import FakeClock, make_alert, make_notification, recording_for, worker_for

from alert_webhook.app.channels import Transports
from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.db.engine import StoreLimits
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.metrics.registry import BacklogCollector, create_metrics
from alert_webhook.store import SqlStore, open_store


@pytest.fixture
def twilio():
    with fake_twilio() as fake:
        yield fake


@pytest.fixture
def box():
    with smtp_server() as box:
        yield box


class Harness:
    def __init__(
        self, store: SqlStore, clock: FakeClock, config: dict[str, Any], env: dict[str, str]
    ):
        self.store, self.clock = store, clock
        self.settings = settings_from_mapping(config, env)
        self.metrics = create_metrics()
        self.worker = worker_for(store, self.settings, self.metrics, clock, worker_id="w1")
        self.metrics.registry.register(BacklogCollector(store.outbox.backlog, clock))
        self.recording = recording_from(self.settings, ["dashboard"])

    def receive(self, *alerts: dict[str, Any]) -> None:
        body = json.dumps(make_notification(*alerts)).encode()
        self.store.record_notification(parse_notification(body), body, self.clock(), self.recording)

    def run(self) -> int:
        return self.worker.run_once()

    def deliveries(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        return {
            (d["event_status"], d["channel"], d["purpose"]): d for d in self.store.outbox.list()
        }

    def status(self) -> dict[tuple[str, str, str], str]:
        return {k: d["status"] for k, d in self.deliveries().items()}

    def metric(self, name: str, **labels: str) -> float | None:
        """The sample's value; None when the series does not exist."""
        return self.metrics.registry.get_sample_value(name, labels)


def config(box=None, twilio=None, sms_providers=None, **extra: Any) -> dict[str, Any]:
    channels: dict[str, Any] = {
        "email": {"recipients": ["oncall@example.org"]},
        "sms": {"recipients": ["+15555550100"]},
    }
    if box is not None:
        channels["email"]["providers"] = [smtp_provider(box)]
    if sms_providers is not None:
        channels["sms"]["providers"] = sms_providers
    elif twilio is not None:
        channels["sms"]["providers"] = [twilio_provider(twilio)]
    return {"channels": channels, **extra}


def test_critical_alert_reaches_sms_email_and_dashboard_once(store, clock, box, twilio) -> None:
    h = Harness(store, clock, config(box, twilio), TWILIO_ENV)
    h.receive(make_alert("a"))
    assert h.metric("alert_webhook_deliveries_pending") == 2  # sms and email
    clock.advance(0.02)
    assert h.run() == 2  # the dashboard's was delivered when stored
    h.receive(make_alert("a"))  # repeat_interval / HA copy
    assert h.run() == 0
    assert set(h.status().values()) == {"delivered"}
    assert len(twilio.received) == 1 and len(box.messages) == 1
    assert (
        h.metric(
            "alert_webhook_deliveries_total", channel="sms", provider="twilio1", outcome="delivered"
        )
        == 1
    )
    assert h.metric("alert_webhook_delivery_latency_seconds_count", channel="email") == 1
    assert h.metric("alert_webhook_delivery_latency_seconds_sum", channel="email") == pytest.approx(
        0.02
    )
    assert h.metric("alert_webhook_deliveries_pending") == 0


def test_resolved_goes_where_the_firing_went(store, clock, box, twilio) -> None:
    h = Harness(store, clock, config(box, twilio), TWILIO_ENV)
    h.receive(make_alert("a"))
    h.run()
    h.receive(make_alert("a", status="resolved"))
    h.run()
    assert twilio.received[1]["Body"].startswith("RESOLVED DemoServiceDown")
    assert box.messages[1]["Subject"].startswith("[RESOLVED]")


def test_resolved_waits_for_a_firing_message_still_being_retried(store, clock, box, twilio) -> None:
    h = Harness(store, clock, config(box, twilio), TWILIO_ENV)
    twilio.mode = "server_error"
    h.receive(make_alert("a"))
    h.run()
    h.receive(make_alert("a", status="resolved"))
    h.run()
    assert h.status()[("resolved", "sms", "notify")] == "pending"
    twilio.mode = "ok"
    clock.advance(5)
    h.run()
    h.run()
    assert [m["Body"].split()[0] for m in twilio.received] == ["CRITICAL", "RESOLVED"]


def test_channel_without_credentials_is_skipped_and_says_why(store, clock, box, twilio) -> None:
    h = Harness(store, clock, config(box, twilio), {})  # no TWILIO_* in the environment
    h.receive(make_alert("a"))
    h.run()
    sms = h.deliveries()[("firing", "sms", "notify")]
    assert sms["status"] == "skipped"
    assert "TWILIO_ACCOUNT_SID" in sms["note"] and "TWILIO_AUTH_TOKEN" in sms["note"]
    assert h.status()[("firing", "email", "notify")] == "delivered"


def test_retryable_failure_is_retried_after_backoff(store, clock, box, twilio) -> None:
    h = Harness(store, clock, config(box, twilio), TWILIO_ENV)
    twilio.queue = ["rate_limited", "server_error", "ok"]
    h.receive(make_alert("a"))
    h.run()
    sms = h.deliveries()[("firing", "sms", "notify")]
    assert (sms["status"], sms["attempts"]) == ("pending", 1)
    assert sms["next_attempt_at"] == clock.now + 4  # 2^1 × 2 s, jitter centred
    clock.advance(3.9)
    h.run()
    assert h.deliveries()[("firing", "sms", "notify")]["attempts"] == 1  # not due yet
    clock.advance(0.1)
    h.run()
    assert h.deliveries()[("firing", "sms", "notify")]["next_attempt_at"] == clock.now + 8
    clock.advance(8)
    h.run()
    assert h.status()[("firing", "sms", "notify")] == "delivered"
    assert len(twilio.received) == 1


def test_permanent_failure_escalates_at_once_to_the_other_channels(
    store, clock, box, twilio
) -> None:
    h = Harness(store, clock, config(box, twilio), TWILIO_ENV)
    twilio.mode = "invalid_number"
    h.receive(make_alert("a"))
    h.run()
    h.run()
    status = h.status()
    assert status[("firing", "sms", "notify")] == "escalated"
    assert status[("firing", "email", "failover:sms")] == "delivered"
    assert status[("firing", "dashboard", "failover:sms")] == "delivered"
    assert any("sms delivery failed" in m["Subject"] for m in box.messages)
    with store.engine.connect() as conn:
        flag = conn.exec_driver_sql("select flag from incidents").scalar()
    assert flag.startswith("sms delivery failed") and "21211" in flag
    assert h.metric("alert_webhook_escalations_total", reason="channel_failed") == 1


def test_failover_to_the_secondary_account(store, clock, box, twilio) -> None:
    providers = [twilio_provider(twilio, "primary"), twilio_provider(twilio, "secondary")]
    h = Harness(store, clock, config(box, sms_providers=providers), TWILIO_ENV)
    twilio.queue = ["server_error"]
    h.receive(make_alert("a"))
    h.run()
    sms = h.deliveries()[("firing", "sms", "notify")]
    assert (sms["status"], sms["provider"]) == ("delivered", "secondary")


def test_email_failover_to_the_second_relay(store, clock, box) -> None:
    with smtp_server() as dead:
        dead_port = dead.port
    relays = [{**smtp_provider(box, "relay1"), "port": dead_port}, smtp_provider(box, "relay2")]
    cfg = config(box)
    cfg["channels"]["email"]["providers"] = relays
    h = Harness(store, clock, cfg, {})
    h.receive(make_alert("a", severity="high"))
    h.run()
    assert h.deliveries()[("firing", "email", "notify")]["provider"] == "relay2"
    assert len(box.messages) == 1


def test_outage_opens_the_breaker_deliveries_wait_then_drain_when_it_closes(
    store, clock, box, twilio
) -> None:
    cfg = config(box, twilio, delivery={
        "breaker": {"failure_threshold": 2, "window_seconds": 60, "open_seconds": 30},
        "retry": {"max_attempts": 3, "base_delay_seconds": 1, "give_up_after_seconds": 120},
    })  # fmt: skip
    h = Harness(store, clock, cfg, TWILIO_ENV)
    twilio.mode = "server_error"
    h.receive(make_alert("a"))
    h.run()  # try 1 fails
    clock.advance(2)
    h.run()  # try 2 fails → breaker opens
    assert h.metric("alert_webhook_circuit_breaker_state", provider="sms:twilio1") == 1
    h.receive(make_alert("b"))  # a new alert waits for the breaker instead of burning tries
    h.run()
    b = [d for d in store.outbox.list() if d["channel"] == "sms" and d["alert_id"] == 2][0]
    assert (b["status"], b["attempts"]) == ("pending", 0)
    assert h.metric("alert_webhook_deliveries_pending") == 2  # a's SMS (retry) and b's (breaker)
    clock.advance(30)  # half-open: a's third try is the trial; it fails → open again
    h.run()
    assert h.metric("alert_webhook_circuit_breaker_state", provider="sms:twilio1") == 1
    a = [d for d in store.outbox.list() if d["channel"] == "sms" and d["alert_id"] == 1][0]
    assert (a["status"], a["attempts"]) == ("pending", 3)  # waits: the outage is not its fault
    clock.advance(40)
    twilio.mode = "ok"  # provider back before give_up_after_seconds
    for _ in range(4):
        h.run()
        clock.advance(16)
    assert h.metric("alert_webhook_circuit_breaker_state", provider="sms:twilio1") == 0
    sms = {d["alert_id"]: d["status"] for d in store.outbox.list() if d["channel"] == "sms"}
    assert sms == {1: "delivered", 2: "delivered"} and len(twilio.received) == 2
    assert h.metric("alert_webhook_deliveries_pending") == 0
    assert h.metric("alert_webhook_escalations_total", reason="channel_failed") is None


def test_sms_budget_sends_one_digest_then_holds_back(store, clock, box, twilio) -> None:
    cfg = config(box, twilio)
    cfg["channels"]["sms"]["budget"] = {"max_messages": 2, "window_seconds": 600}
    h = Harness(store, clock, cfg, TWILIO_ENV)
    for fp in ("a", "b", "c", "d"):
        h.receive(make_alert(fp))
        h.run()
        clock.advance(1)
    bodies = [m["Body"] for m in twilio.received]
    assert len(bodies) == 3 and bodies[2].startswith("STORM: 2 SMS sent")
    assert len(box.messages) == 4  # email still carries everything
    held = [d for d in store.outbox.list() if d["channel"] == "sms" and d["status"] == "skipped"]
    assert len(held) == 1 and "SMS budget" in held[0]["note"]
    clock.advance(600)
    h.receive(make_alert("e"))
    h.run()
    assert twilio.received[-1]["Body"].startswith("CRITICAL")


class CountingOutbox:
    """The store's outbox, counting the reads the SMS budget makes (`sent_*`)."""

    def __init__(self, outbox: Any) -> None:
        self._outbox, self.budget_reads = outbox, 0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("sent_"):
            self.budget_reads += 1
        return getattr(self._outbox, name)


def test_a_spent_sms_budget_holds_back_without_asking_the_store_each_time(
    store, clock, box, twilio
) -> None:
    # In the alert storm (issue 27) every held-back SMS scanned the deliveries
    # twice: a fifth of the webhook's CPU. Spent stays spent until the window
    # lets a message out, so the store is asked again only then.
    cfg = config(box, twilio)
    cfg["channels"]["sms"]["budget"] = {"max_messages": 2, "window_seconds": 600}
    h = Harness(store, clock, cfg, TWILIO_ENV)
    outbox = h.worker.outbox = CountingOutbox(h.worker.outbox)  # type: ignore[assignment]
    for fp in ("a", "b", "c"):  # sent at 0 and 1 s, the digest at 2 s
        h.receive(make_alert(fp))
        h.run()
        clock.advance(1)
    reads = outbox.budget_reads
    for n in range(20):
        h.receive(make_alert(f"held{n}"))
        h.run()
    assert len(twilio.received) == 3 and outbox.budget_reads <= reads + 1
    clock.advance(600 - 3 + 0.5)  # "a" has left the window; "b" and the digest count
    h.receive(make_alert("still-held"))
    h.run()
    assert len(twilio.received) == 3
    clock.advance(1)  # "b" has left too: the digest alone counts
    h.receive(make_alert("free"))
    h.run()
    assert len(twilio.received) == 4 and twilio.received[-1]["Body"].startswith("CRITICAL")


# --- One bad message never blocks the rest ----------------------------------


def test_a_label_with_cr_lf_cannot_inject_a_header_nor_stall_its_batch(store, clock, box) -> None:
    h = Harness(store, clock, config(box), {})
    poison = make_alert("p", severity="high", instance="db1\r\nBcc: evil@example.org")
    h.receive(poison, make_alert("q", severity="high", instance="db2:9100"))
    assert h.run() == 2
    assert {d["status"] for d in store.outbox.list()} == {"delivered"}
    subjects = sorted(m["Subject"] for m in box.messages)
    assert len(subjects) == 2 and not any("\r" in s or "\n" in s for s in subjects)
    assert all(m["Bcc"] is None for m in box.messages)
    assert [to for _, to in box.envelopes] == [["oncall@example.org"]] * 2


def test_a_gateway_answering_200_with_html_is_a_provider_failure(store, clock, box, twilio) -> None:
    providers = [twilio_provider(twilio, "primary"), twilio_provider(twilio, "secondary")]
    h = Harness(store, clock, config(box, sms_providers=providers), TWILIO_ENV)
    twilio.queue = ["html"]  # the primary's answer; the secondary's is the real API
    h.receive(make_alert("a"), make_alert("b"))
    assert h.run() == 4
    sms = [d for d in store.outbox.list() if d["channel"] == "sms"]
    assert sorted(d["provider"] for d in sms) == ["primary", "secondary"]
    assert {d["status"] for d in sms} == {"delivered"}
    assert h.metric("alert_webhook_deliveries_total", channel="sms", provider="primary",
                    outcome="error") == 1  # fmt: skip


class _Exploding:
    """An SMTP connection factory whose connection fails in a way no one foresaw."""

    def __init__(self, box) -> None:
        self.box, self.calls = box, 0

    def __call__(self, settings):
        self.calls += 1
        raise RuntimeError("the relay's TLS library crashed")


def test_an_unexpected_error_is_that_deliverys_failure_alone(store, clock, box, twilio, caplog):
    settings = settings_from_mapping(
        config(box, twilio, delivery={"retry": {"max_attempts": 2, "give_up_after_seconds": 60}}),
        TWILIO_ENV,
    )
    metrics = create_metrics()
    exploding = _Exploding(box)
    worker = worker_for(store, settings, metrics, clock, "w1", Transports(smtp=exploding))
    body = json.dumps(make_notification(make_alert("a"), make_alert("b"))).encode()
    store.record_notification(parse_notification(body), body, clock(), recording_for(settings))
    with caplog.at_level(logging.ERROR, logger="alert_webhook.delivery"):
        assert worker.run_once() == 4
    assert len(twilio.received) == 2  # its siblings went out in the same pass
    emails = [d for d in store.outbox.list() if d["channel"] == "email"]
    assert {(d["status"], d["attempts"]) for d in emails} == {("pending", 1)}
    assert all("RuntimeError" in d["last_error"] for d in emails)
    assert any(f"delivery {emails[0]['id']}" in r.getMessage() for r in caplog.records)
    clock.advance(61)  # past give_up_after_seconds and max_attempts: escalated, not stuck
    worker.run_once()
    worker.run_once()
    states = {(d["channel"], d["purpose"], d["status"]) for d in store.outbox.list()}
    assert ("email", "notify", "escalated") in states
    assert ("sms", "failover:email", "delivered") in states


def test_a_message_sent_during_a_store_blip_is_recorded_once_the_store_is_back(
    tmp_path, clock, box
) -> None:
    """The relay accepted the mail while another process held the database's write
    lock: the outcome waits in memory and is recorded at the next pass, before the
    lease runs out, so the mail is not sent again."""
    store = open_store(f"sqlite:///{tmp_path}/blip.sqlite3", StoreLimits(busy_timeout=0.05))
    store.create_schema()
    blocker = sqlite3.connect(
        tmp_path / "blip.sqlite3", isolation_level=None, check_same_thread=False
    )
    box.on_data = lambda: blocker.execute("BEGIN EXCLUSIVE")  # while the mail is accepted
    h = Harness(store, clock, config(box), {})
    h.receive(make_alert("a", severity="high"))
    h.run()  # sent; recording it meets the lock
    assert len(box.messages) == 1
    box.on_data = None
    blocker.execute("ROLLBACK")  # the store is back
    h.run()
    assert h.deliveries()[("firing", "email", "notify")]["status"] == "delivered"
    clock.advance(31)  # past the lease: nothing left to take over
    h.run()
    assert len(box.messages) == 1
    blocker.close()
    store.dispose()


# --- An outage shorter than the retry window loses nothing --------------------


def _outage(store, clock, box, twilio, seconds: float, give_up: float) -> Harness:
    cfg = config(box, twilio, delivery={
        "retry": {"max_attempts": 3, "base_delay_seconds": 2, "give_up_after_seconds": give_up},
    })  # fmt: skip
    h = Harness(store, clock, cfg, TWILIO_ENV)
    twilio.mode = "server_error"
    h.receive(make_alert("a"))
    start = clock.now
    while clock.now < start + seconds:
        h.run()
        clock.advance(1)
    twilio.mode = "ok"
    for _ in range(120):
        h.run()
        clock.advance(1)
    return h


def test_a_lone_sms_waits_out_a_60_second_outage(store, clock, box, twilio) -> None:
    h = _outage(store, clock, box, twilio, seconds=60, give_up=900)
    sms = h.deliveries()[("firing", "sms", "notify")]
    assert sms["status"] == "delivered" and len(twilio.received) == 1
    assert sms["attempts"] > 3  # every try was real: Twilio answered 500
    assert h.metric("alert_webhook_escalations_total", reason="channel_failed") is None


def test_an_outage_past_give_up_escalates_at_give_up_not_before(store, clock, box, twilio):
    h = _outage(store, clock, box, twilio, seconds=200, give_up=100)
    sms = h.deliveries()[("firing", "sms", "notify")]
    assert sms["status"] == "escalated" and twilio.received == []
    assert 100 <= sms["finished_at"] - sms["received_at"] < 100 + 64  # the last try's backoff
    assert h.deliveries()[("firing", "email", "failover:sms")]["status"] == "delivered"


# --- A hanging provider delays no one else ------------------------------------


def test_a_half_open_trial_runs_off_the_lane_while_the_next_provider_carries_the_rest(
    store, clock, box, twilio
) -> None:
    providers = [twilio_provider(twilio, "primary"), twilio_provider(twilio, "secondary")]
    cfg = config(box, sms_providers=providers,
                 delivery={"breaker": {"failure_threshold": 1, "open_seconds": 30}})  # fmt: skip
    trials = ThreadPoolExecutor(1)
    settings = settings_from_mapping(cfg, TWILIO_ENV)
    worker = worker_for(store, settings, create_metrics(), clock, "w1", trials=trials)
    recording = recording_for(settings)

    def receive(*alerts) -> None:
        body = json.dumps(make_notification(*alerts)).encode()
        store.record_notification(parse_notification(body), body, clock(), recording)

    twilio.queue = ["server_error"]  # the primary fails once: its breaker opens
    receive(make_alert("a"))
    worker.run_once()
    clock.advance(30)  # half-open: the next delivery on the primary is its trial
    twilio.queue = ["hang"]
    receive(make_alert("b"), make_alert("c"), make_alert("d"))
    worker.run_once()
    sms = {d["alert_id"]: d for d in store.outbox.list() if d["channel"] == "sms"}
    # While the trial hangs on its own thread, the lane's other SMS went out.
    assert sorted(d["status"] for d in sms.values()) == ["delivered"] * 3 + ["in_flight"]
    assert {d["provider"] for d in sms.values() if d["status"] == "delivered"} == {"secondary"}
    twilio.release.set()  # the hanging request ends without an answer: the trial failed
    trials.shutdown(wait=True)
    sms = {d["alert_id"]: d for d in store.outbox.list() if d["channel"] == "sms"}
    assert {d["status"] for d in sms.values()} == {"delivered"}  # the trial's went on
    assert worker.breakers["sms:primary"].state == "open"
