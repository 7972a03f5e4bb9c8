"""Benchmark: how long does a critical alert's e-mail wait behind a backlog of highs?
The webhook app in-process with its delivery lanes running, and a real SMTP server
(aiosmtpd) on loopback taking every message as fast as it can.

    .venv/bin/python bench/severity_order.py [--backlogs 200,1000,3000]

For each backlog: a fresh SQLite store, that many `high` alerts recorded (one
e-mail each), the workers started; once the first e-mail is being accepted, one
`critical` alert is posted, and the time from its POST to its e-mail being
accepted is measured, with how many e-mails went before it. Before issue 26 the
e-mail lane sent in id order, so the critical waited for the whole backlog; now it
is claimed in the lane's next batch. Prints a table, writes JSON under
bench/results/. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The test suite's real peers; the project's packages stay first on the path.
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
sys.path += [str(ROOT / "tests"), str(ROOT / "tests" / "alert_webhook")]

from _timing import write_result  # noqa: E402
from fakes import MailBox, smtp_provider, smtp_server  # noqa: E402
from webhook_support import make_alert, make_notification  # noqa: E402

from alert_webhook import create_app  # noqa: E402
from alert_webhook.config.settings import settings_from_mapping  # noqa: E402
from alert_webhook.metrics.registry import create_metrics  # noqa: E402

PER_NOTIFICATION = 100
CRITICAL = "[CRITICAL]"


def _position(box: MailBox) -> int | None:
    for n, message in enumerate(list(box.messages)):
        if message["Subject"].startswith(CRITICAL):
            return n
    return None


def behind(backlog: int, limit_s: float) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="bench-severity-")
    with smtp_server() as box:
        started = threading.Event()
        box.on_data = started.set
        config = {
            "store": {"url": f"sqlite:///{folder}/webhook.sqlite3"},
            "channels": {
                "email": {"providers": [smtp_provider(box)], "recipients": ["oncall@example.org"]}
            },
        }
        app = create_app(settings_from_mapping(config, {}), metrics=create_metrics())
        client = app.test_client()
        for start in range(0, backlog, PER_NOTIFICATION):
            alerts = [make_alert(f"h{i}", severity="high", instance=f"h{i}:9100")
                      for i in range(start, min(start + PER_NOTIFICATION, backlog))]  # fmt: skip
            if client.post("/alerts", json=make_notification(*alerts)).status_code != 200:
                raise SystemExit("recording the backlog failed")
        workers = app.extensions["alert_webhook"].workers
        workers.start()
        try:
            if not started.wait(30):
                raise SystemExit("the e-mail lane never began")
            crit = make_alert("crit", severity="critical", instance="db1:9100")
            posted = time.perf_counter()
            if client.post("/alerts", json=make_notification(crit)).status_code != 200:
                raise SystemExit("recording the critical failed")
            position = None
            while position is None and time.perf_counter() - posted < limit_s:
                time.sleep(0.005)
                position = _position(box)
            waited = time.perf_counter() - posted
            sent = len(box.messages)
        finally:
            workers.stop()
    return {
        "backlog": backlog,
        "critical_after_s": round(waited, 3) if position is not None else None,
        "sent_before_it": position,
        "sent_by_then": sent,
        "emails_per_s": round(sent / waited, 1) if waited else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backlogs", default="200,1000,3000", help="comma-separated sizes")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds to wait at most")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    rows = [behind(int(size), args.limit) for size in args.backlogs.split(",")]
    print(f"{'highs':>7}{'critical after s':>18}{'e-mails before it':>19}{'e-mails/s':>11}")
    for row in rows:
        after = row["critical_after_s"]
        shown = f"{after:.2f}" if after is not None else f"> {args.limit:.0f}"
        print(f"{row['backlog']:>7}{shown:>18}{row['sent_before_it']!s:>19}"
              f"{row['emails_per_s']!s:>11}")  # fmt: skip
    out = write_result("severity_order", {"rows": rows, "cpus": os.cpu_count()})
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
