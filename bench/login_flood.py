"""Benchmark the webhook while it is attacked: a login flood and forged giant forms.

    .venv/bin/python bench/login_flood.py [--duration 15] [--flooders 16] [--giants 4]
                                          [--rate 20] [--label after]

Three phases of `--duration` seconds against one webhook (`python -m
alert_webhook`, real SQLite store and delivery workers, an operator and a Twilio
SMS provider configured): idle; `--flooders` clients posting wrong passwords to
`POST /login` as fast as they are answered (half as the operator `alice`, half
as names that do not exist, each with its form's CSRF token); `--giants` clients
posting a 4.9 MB form of 500,000 fields to `/twilio/inbound` with a forged
`X-Twilio-Signature` (issue 26 items 4 and 3). Throughout, Alertmanager-like
clients post one-alert notifications at `--rate` per second in all and
`/healthz` is probed every 50 ms on a fresh connection. Prints ingest p50/p99,
`/healthz` p50/p99, the attackers' answers and the webhook's peak RSS per phase,
and writes JSON under bench/results/. Never part of the test suite.

A last phase is the reference for what is left once the login flood is answered
429 at once: `--flooders` clients asking for the login page (`GET /login`, the
page a 429 renders too) as fast as it is answered. Figures: docs/webhook.md, "Benchmark".
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import multiprocessing as mp
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from webhook_ingest import ROOT, THREADS, free_port, load, start
from webhook_slowloris import probe_healthz
from werkzeug.security import generate_password_hash

TWILIO_TOKEN = "bench-auth-token"
ENV = {
    "ALERT_WEBHOOK_SECRET_KEY": "bench-signing-key-0123456789",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
}
GIANT = "&".join(f"f{i}=v" for i in range(500_000)).encode()
INGEST_CLIENTS = 2


def _session_token(conn: http.client.HTTPConnection) -> tuple[str, str]:
    """The login form's CSRF token and the session cookie it is bound to."""
    conn.request("GET", "/login")
    resp = conn.getresponse()
    page = resp.read().decode()
    cookie = (resp.getheader("Set-Cookie") or "").split(";")[0]
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return (match[1] if match else ""), cookie


def _flood_login(port: int, name: str, until: float, out: list[tuple[int, float]]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    token, cookie = _session_token(conn)
    form = f"name={name}&password=wrong-guess&csrf_token={token}".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/login", form, headers)
            resp = conn.getresponse()
            resp.read()
            out.append((resp.status, time.perf_counter() - t0))
        except OSError:
            out.append((0, time.perf_counter() - t0))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def _giant_form(port: int, _name: str, until: float, out: list[tuple[int, float]]) -> None:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": "forged",
    }
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            # A fresh connection each time: the webhook may close after a 413.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/twilio/inbound", GIANT, headers)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            out.append((resp.status, time.perf_counter() - t0))
        except OSError:
            out.append((0, time.perf_counter() - t0))


def _flood_page(port: int, _name: str, until: float, out: list[tuple[int, float]]) -> None:
    """The reference: as many clients asking for the login page, which a 429
    answer renders too, as fast as it is answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.monotonic() < until:
        t0 = time.perf_counter()
        conn.request("GET", "/login")
        resp = conn.getresponse()
        resp.read()
        out.append((resp.status, time.perf_counter() - t0))


ATTACKS = {"login": _flood_login, "giant": _giant_form, "page": _flood_page}


def attacker(kind: str, port: int, clients: int, until: float, queue: Any) -> None:
    """One process of `clients` threads, each attacking until `until`."""
    out: list[tuple[int, float]] = []
    names = ["alice" if i % 2 else f"mallory{i}" for i in range(clients)]
    threads = [
        threading.Thread(target=ATTACKS[kind], args=(port, name, until, out)) for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(out)


def peak_rss(proc: psutil.Process, until: float, out: list[int]) -> None:
    while time.monotonic() < until:
        out.append(proc.memory_info().rss)
        time.sleep(0.2)


def _ms(ordered: list[float], q: float) -> float:
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def phase(
    port: int, server: psutil.Process, args: Any, kind: str | None, clients: int, tag: str
) -> dict[str, Any]:
    until = time.monotonic() + args.duration
    queue: Any = mp.Queue()
    attack = None
    if kind:
        attack = mp.Process(target=attacker, args=(kind, port, clients, until, queue))
        attack.start()
    health: list[float] = []
    failures: list[str] = []
    rss: list[int] = []
    side = [
        threading.Thread(target=probe_healthz, args=(port, until, health, failures)),
        threading.Thread(target=peak_rss, args=(server, until, rss)),
    ]
    for thread in side:
        thread.start()
    ingest = load(port, 1, args.duration, INGEST_CLIENTS, args.rate, tag, None)
    for thread in side:
        thread.join()
    answers: list[tuple[int, float]] = []
    if attack is not None:
        answers = queue.get()
        attack.join()
    health.sort()
    statuses = collections.Counter(str(status) for status, _ in answers)
    return {
        "attack": kind or "none",
        "attack_clients": clients if kind else 0,
        "ingest_requests": ingest["requests"],
        "ingest_errors": ingest["errors"],
        "ingest_p50_ms": ingest["p50_ms"],
        "ingest_p99_ms": ingest["p99_ms"],
        "healthz_probes": len(health),
        "healthz_failures": len(failures),
        "healthz_p50_ms": _ms(health, 0.5),
        "healthz_p99_ms": _ms(health, 0.99),
        "attack_requests": len(answers),
        "attack_statuses": dict(sorted(statuses.items())),
        "attack_p50_ms": _ms(sorted(t for _, t in answers), 0.5),
        "webhook_peak_rss_mb": max(rss, default=0) / 2**20,
    }


def start_webhook(tmp: Path) -> tuple[Any, int]:
    config = {
        "store": {"url": f"sqlite:///{tmp / 'webhook.sqlite3'}"},
        "links": {"alertmanager_url": "http://127.0.0.1:9"},  # the discard port
        "auth": {"operators": {"alice": generate_password_hash("correct horse battery")}},
        "channels": {
            "sms": {
                "providers": [{"name": "twilio1", "from_number": "+15555550000"}],
                "recipients": ["+15555550100"],
            }
        },
    }
    (tmp / "webhook.yml").write_text(json.dumps(config))
    port = free_port()
    argv = [sys.executable, "-m", "alert_webhook", "--config", str(tmp / "webhook.yml"),
            "--bind", f"127.0.0.1:{port}", "--threads", str(THREADS)]  # fmt: skip
    os.environ.update(ENV)  # the webhook inherits them; only this bench's process
    return start(argv, port, tmp / "webhook.log", None), port


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--flooders", type=int, default=16, help="login-flooding clients")
    parser.add_argument("--giants", type=int, default=4, help="giant-form clients")
    parser.add_argument("--rate", type=float, default=20.0, help="notifications per second")
    parser.add_argument("--label", default="", help="a name for this run in the JSON")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-login-flood-"))
    hook, port = start_webhook(tmp)
    server = psutil.Process(hook.pid)
    try:
        rows = {
            "idle": phase(port, server, args, None, 0, "i"),
            "login_flood": phase(port, server, args, "login", args.flooders, "l"),
            "giant_forms": phase(port, server, args, "giant", args.giants, "g"),
            "page_flood": phase(port, server, args, "page", args.flooders, "p"),
        }
    finally:
        hook.terminate()
        hook.wait(15)
    print(f"{'phase':<14}{'ingest p50':>11}{'p99 ms':>9}{'errors':>7}{'healthz p50':>12}"
          f"{'p99 ms':>9}{'failed':>7}{'attack req':>11}  {'answers':<20}"
          f"{'RSS MB':>7}")  # fmt: skip
    for name, r in rows.items():
        answers = " ".join(f"{k}:{v}" for k, v in r["attack_statuses"].items()) or "-"
        print(f"{name:<14}{r['ingest_p50_ms']:>11.1f}{r['ingest_p99_ms']:>9.1f}"
              f"{r['ingest_errors']:>7}{r['healthz_p50_ms']:>12.1f}{r['healthz_p99_ms']:>9.1f}"
              f"{r['healthz_failures']:>7}{r['attack_requests']:>11}  {answers:<20}"
              f"{r['webhook_peak_rss_mb']:>7.0f}")  # fmt: skip
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = results / f"login_flood-{args.label + '-' if args.label else ''}{stamp}.json"
    settings = {k: getattr(args, k) for k in ("duration", "flooders", "giants", "rate")}
    out.write_text(
        json.dumps({"label": args.label, "phases": rows, "settings": settings}, indent=2)
    )
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
