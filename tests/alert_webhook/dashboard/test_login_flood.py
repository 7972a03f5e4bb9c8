"""A flood of wrong passwords against the served webhook (`python -m alert_webhook`,
waitress in front): it is answered 429 with Retry-After, the right password works
once the back-off passes, and Alertmanager's `POST /alerts` keeps being answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from support.procs import free_port, python_module, running
from webhook_support import (
    OPERATOR_HASH,
    OPERATOR_PASSWORD,
    SECRET_KEY,
    csrf_token,
    make_alert,
    make_notification,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
# Short waits so the test is quick; the defaults are longer (docs/webhook.md).
LIMITS = {"free_failures": 3, "first_backoff_seconds": 0.5, "max_backoff_seconds": 2}
FLOODERS = 6  # more than the two cores, fewer than the 8 request threads
FLOOD_SECONDS = 5.0
TIMEOUT = 15.0


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "webhook.yml"
    data = {
        "store": {"url": f"sqlite:///{tmp_path}/webhook.sqlite3"},
        "auth": {"operators": {"alice": OPERATOR_HASH}, "login_limits": LIMITS},
    }
    config.write_text(yaml.safe_dump(data))
    port = free_port()
    argv = python_module("alert_webhook", "--config", str(config), "--bind", f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}"
    with running("webhook", argv, tmp_path, ready_url=f"{url}/healthz", env=SECRET_KEY, cwd=ROOT):
        yield url


def attempt(session: requests.Session, url: str, name: str, password: str) -> requests.Response:
    token = csrf_token(session.get(f"{url}/login", timeout=TIMEOUT).text)
    form = {"name": name, "password": password, "csrf_token": token}
    return session.post(f"{url}/login", data=form, timeout=TIMEOUT, allow_redirects=False)


def flood(url: str, name: str, stop: threading.Event, out: list[requests.Response]) -> None:
    with requests.Session() as session:
        while not stop.is_set():
            out.append(attempt(session, url, name, "a wrong guess"))


def ingest(url: str, stop: threading.Event, out: list[tuple[int, float]]) -> None:
    n = 0
    while not stop.wait(0.1):
        body = make_notification(make_alert(f"flood{n}", severity="medium"))
        t0 = time.perf_counter()
        status = requests.post(f"{url}/alerts", json=body, timeout=TIMEOUT).status_code
        out.append((status, time.perf_counter() - t0))
        n += 1


def test_a_login_flood_is_backed_off_and_ingest_keeps_answering(webhook: str) -> None:
    answers: list[requests.Response] = []
    stored: list[tuple[int, float]] = []
    stop = threading.Event()
    # Half guess alice's password, half guess names that do not exist.
    names = ["alice" if i % 2 else f"mallory{i}" for i in range(FLOODERS)]
    threads = [threading.Thread(target=flood, args=(webhook, n, stop, answers)) for n in names]
    threads.append(threading.Thread(target=ingest, args=(webhook, stop, stored)))
    for thread in threads:
        thread.start()
    try:
        time.sleep(FLOOD_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(TIMEOUT + 5)
    statuses = {r.status_code for r in answers}
    limited = [r for r in answers if r.status_code == 429]
    assert limited, f"no 429 among {len(answers)} answers: {sorted(statuses)}"
    assert statuses <= {401, 429}, sorted(statuses)
    assert all(int(r.headers["Retry-After"]) >= 1 for r in limited)
    assert "try again" in limited[0].text
    assert len(stored) >= 10 and {status for status, _ in stored} == {200}, stored

    with requests.Session() as session:
        resp = attempt(session, webhook, "alice", OPERATOR_PASSWORD)
        if resp.status_code == 429:  # still backed off: wait as told, once
            time.sleep(int(resp.headers["Retry-After"]))
            resp = attempt(session, webhook, "alice", OPERATOR_PASSWORD)
        assert resp.status_code == 303, resp.text
        assert "Logged in as alice" in session.get(f"{webhook}/login", timeout=TIMEOUT).text
