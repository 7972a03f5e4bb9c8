"""Benchmark: with the SMS provider hanging, how long do e-mails for the same alerts
wait? The real webhook process, a real SMTP server (aiosmtpd) and the twilio client
against a loopback Messages API that never answers within the client's timeout.

    .venv/bin/python bench/hanging_provider.py [--alerts 20] [--timeout 10]

Posts `--alerts` critical alerts (SMS + e-mail + dashboard each), one notification
each, waits for every e-mail, then reads received → handed-to-SMTP from the
webhook's /api/deliveries. Goal: p99 ≤ 1 s. Prints a table, writes JSON under
bench/results/. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The test suite's real peers; the project's packages stay first on the path.
sys.path[:0] = [str(ROOT)]
sys.path += [str(ROOT / "tests"), str(ROOT / "tests" / "alert_webhook")]

from fakes import TWILIO_ENV, fake_twilio, smtp_provider, smtp_server, twilio_provider  # noqa: E402
from support.procs import free_port  # noqa: E402
from webhook_support import make_alert, make_notification  # noqa: E402

GOAL_P99_S = 1.0


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the webhook exited with {proc.returncode}")
        try:
            if request(port, "GET", "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the webhook did not become ready")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=10.0, help="the SMS provider's timeout")
    args = parser.parse_args()
    with fake_twilio() as twilio, smtp_server() as box, tempfile.TemporaryDirectory() as tmp:
        twilio.mode = "hang"
        done = threading.Event()
        box.on_data = lambda: done.set() if len(box.messages) == args.alerts - 1 else None
        config = {
            "store": {"url": f"sqlite:///{tmp}/webhook.sqlite3"},
            "channels": {
                "email": {"providers": [smtp_provider(box)], "recipients": ["oncall@example.org"]},
                "sms": {
                    "providers": [twilio_provider(twilio, timeout_seconds=args.timeout)],
                    "recipients": ["+15555550100"],
                    "budget": {"max_messages": 1000},
                },
            },
        }
        (Path(tmp) / "webhook.yml").write_text(json.dumps(config))
        port = free_port()
        env = {**os.environ, **TWILIO_ENV}
        env.pop("ALERT_WEBHOOK_TOKEN", None)
        log = (Path(tmp) / "webhook.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "alert_webhook", "--config", f"{tmp}/webhook.yml",
             "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_ready(port, proc)
            for i in range(args.alerts):
                alert = make_alert(f"bench-{i}", instance=f"h{i}:9100")
                status, _ = request(
                    port, "POST", "/alerts", json.dumps(make_notification(alert)).encode()
                )
                assert status == 200, status
            arrived = done.wait(args.timeout * args.alerts + 30)
            time.sleep(0.5)  # the last outcome is recorded right after SMTP's answer
            _, raw = request(port, "GET", "/api/deliveries?limit=1000")
        finally:
            twilio.release.set()
            proc.terminate()
            proc.wait(30)
            log.close()
    deliveries = json.loads(raw)["deliveries"]
    emails = [d for d in deliveries if d["channel"] == "email" and d["finished_at"]]
    waits = sorted(d["finished_at"] - d["received_at"] for d in emails)
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))] if waits else float("nan")
    row = {
        "alerts": args.alerts, "emails": len(emails), "all_arrived": arrived,
        "p50_s": statistics.median(waits) if waits else float("nan"), "p99_s": p99,
        "max_s": waits[-1] if waits else float("nan"), "sms_timeout_s": args.timeout,
    }  # fmt: skip
    verdict = "met" if p99 <= GOAL_P99_S and arrived else "MISSED"
    print(f"{'alerts':>6} {'emails':>6} {'p50 s':>7} {'p99 s':>7} {'max s':>7}  goal")
    print(
        f"{row['alerts']:>6} {row['emails']:>6} {row['p50_s']:>7.3f} {row['p99_s']:>7.3f} "
        f"{row['max_s']:>7.3f}  p99 <= {GOAL_P99_S} s: {verdict}"
    )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"hanging_provider-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps({"result": row, "goal_p99_s": GOAL_P99_S}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0 if arrived else 1


if __name__ == "__main__":
    raise SystemExit(main())
