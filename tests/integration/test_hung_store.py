"""A hung PostgreSQL (issue 26 item 1): the webhook on its real front, steady
Alertmanager-like traffic, and every process of the database server stopped with
SIGSTOP — alive, its sockets open, answering nothing — for a while.

Meanwhile `/healthz` answers within 1 s, `/readyz` says not ready within its own
timeout, and each `POST /alerts` hears 503 within a bound, so Alertmanager retries;
once the server continues, every alert posted is stored exactly once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text
from support import postgres
from support.procs import free_port, python_module, running
from support.traffic import ALERTNAME, Traffic

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(postgres.unavailable()), reason=str(postgres.unavailable())),
    pytest.mark.timeout(120),
]

FROZEN_SECONDS = 12.0
# Short on purpose, so that the freeze spans several of them (docs/webhook.md).
STORE = {
    "connect_timeout_seconds": 2,
    "statement_timeout_seconds": 2,
    "lock_timeout_seconds": 2,
    "pool_timeout_seconds": 2,
    "response_timeout_seconds": 3,
    "ping_timeout_seconds": 1,
}
HEALTHZ_SECONDS = 1.0
READYZ_SECONDS = STORE["ping_timeout_seconds"] + 1.0
# A writer cut off after response_timeout, a follower that waited for it, slack.
POST_SECONDS = STORE["response_timeout_seconds"] * 2 + STORE["pool_timeout_seconds"] + 1.0


def _stored(url: str) -> list[tuple[str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT fingerprint, count(*) FROM alerts WHERE alertname = :name "
                    "GROUP BY fingerprint"
                ),  # fmt: skip
                {"name": ALERTNAME},
            )
            return [(row[0], row[1]) for row in rows]
    finally:
        engine.dispose()


def test_a_hung_database_leaves_the_front_answering_and_loses_nothing(tmp_path: Path) -> None:
    config = tmp_path / "webhook.yml"
    config.write_text(yaml.safe_dump({"store": STORE}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with postgres.cluster() as pg:
        argv = python_module("alert_webhook", f"--config={config}", f"--bind=127.0.0.1:{port}")
        env = {"ALERT_WEBHOOK_DATABASE_URL": pg.url}
        with running("webhook", argv, tmp_path, f"{base}/readyz", env=env, cwd=tmp_path) as hook:
            traffic = Traffic(base, post_timeout=60.0, probe_timeout=5.0)
            traffic.start()
            try:
                time.sleep(2.0)
                with pg.frozen():
                    frozen_at = time.monotonic()
                    time.sleep(FROZEN_SECONDS)
                    thawed_at = time.monotonic()
                time.sleep(2.0)
            finally:
                drained = traffic.stop(timeout=60.0)
            log = hook.log()
        stored = _stored(pg.url)

    assert drained, "some notification was never stored after the database resumed"
    healthz = traffic.during("/healthz", frozen_at, thawed_at)
    slow = [s for s in healthz if s.status != 200 or s.seconds > HEALTHZ_SECONDS]
    assert healthz and not slow, f"/healthz during the freeze: {slow[:5]}"
    # Those asked (and so answered) while the database was still stopped.
    readyz = traffic.during("/readyz", frozen_at + 0.5, thawed_at - READYZ_SECONDS)
    wrong = [s for s in readyz if s.status != 503 or s.seconds > READYZ_SECONDS]
    assert readyz and not wrong, f"/readyz during the freeze: {wrong[:5]}"
    posts = traffic.during("/alerts", frozen_at, thawed_at)
    unbounded = [s for s in posts if s.status is None or s.seconds > POST_SECONDS]
    assert not unbounded, f"POST /alerts past {POST_SECONDS}s during the freeze: {unbounded[:5]}"
    assert any(s.status == 503 for s in posts), "no 503 while the database was stopped"
    assert len(stored) == traffic.begun == len(set(traffic.stored)), (len(stored), traffic.begun)
    assert all(count == 1 for _, count in stored)
    # Said when the store went away and when it came back, not once per refusal.
    assert 1 <= log.count("store unavailable") <= 2, log[-3000:]
    assert "store available again after" in log, log[-3000:]
