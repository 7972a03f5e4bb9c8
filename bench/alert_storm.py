"""An alert storm through a real Alertmanager into the real webhook (issue 27, part 1).

    PYTHONPATH=. .venv/bin/python bench/alert_storm.py [--fast] [--hosts 1000]
        [--fire-within 10] [--hold 60] [--rss-wait 300] [--resolve-timeout 600]

1,000 hosts × 10 alerts (2 critical, 8 high: a switch died, so every host's
services, probes and scrape targets fail at once) are posted to Alertmanager's
`POST /api/v2/alerts` within `--fire-within` seconds, as Prometheus would send
them; held `--hold` seconds; then resolved (posted again with endsAt=now).
Alertmanager runs the shipped routes as the stack renders them (stack/render.py):
the default profile's group_wait/group_interval, or with `--fast` the fast
profile's (`make up FAST=1`: 0 s / 1 s), so grouping and batching are
Alertmanager's own. The webhook is `python -m alert_webhook` (its waitress
front, its SQLite store) with the shipped webhook.yml as `make up` renders it,
SMS through the real twilio client to the loopback Messages API the tests use,
email to aiosmtpd, the shipped playbooks (all as a dry run: nothing acts on this
machine) and a Prometheus that finds nothing.

Why critical and high only: on the default profile a medium alert waits 2 min and
a low one 5 min before Alertmanager sends it, and an alert resolved before then is
never sent at all; with a one-minute hold they would never reach the webhook.

Measured: state changes in the store (each exactly once), the time from the first
firing POST to the last firing alert recorded with its deliveries, against when
Alertmanager sent its last notification (its `alertmanager_notifications_total`
polled every 0.1 s); console groups (the console's own `service_of`), deliveries by
channel, SMS within the budget plus its digest, remediation runs against the
playbooks' budget; a logged-in `GET /` (the console) and `GET /healthz` polled
through the storm; the webhook's RSS before, at its peak, and `--rss-wait` seconds
after every resolve is recorded; the webhook's CPU time. Prints a table (each
figure beside its goal) and writes JSON under bench/results/. Never part of the
tests.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "alert_webhook")]

import psutil  # noqa: E402
import requests  # noqa: E402
import yaml  # noqa: E402
from _timing import write_result  # noqa: E402
from fakes import TWILIO_ENV, fake_twilio, smtp_provider, smtp_server, twilio_provider  # noqa: E402
from support.loopback import quiet_prometheus  # noqa: E402
from support.procs import find_binary, free_port, python_module, running  # noqa: E402
from webhook_support import OPERATOR_HASH, OPERATOR_PASSWORD, SECRET_KEY  # noqa: E402

from alert_webhook.incidents.grouping import service_of  # noqa: E402
from alert_webhook.remediation.playbooks import DEFAULT_PLAYBOOK_FILE  # noqa: E402
from stack import render  # noqa: E402
from stack.ports import HOST, SERVICES  # noqa: E402
from stack.up import TOKEN_ENV  # noqa: E402

OPERATOR = "alice"
SMS_RECIPIENT = "+15555550100"
EMAIL_RECIPIENT = "oncall@example.org"
START_TIMEOUT = 60.0
# Each host's ten alerts: (alertname, severity, category, extra labels). None of
# them is inhibited by another (the shipped inhibitions need an equal alertname
# or one of ApiResponseTimeHigh|ErrorRateHigh|ErrorBudgetBurn).
HOST_ALERTS: list[tuple[str, str, str, dict[str, str]]] = [
    ("ServiceUnavailable", "critical", "connection", {"service": "web", "job": "probes"}),
    ("ServiceUnavailable", "critical", "connection", {"service": "api", "job": "probes"}),
    (
        "NetworkProbeFailing",
        "high",
        "connection",
        {"probe": "gateway", "service": "network", "job": "probes"},
    ),
    (
        "NetworkProbeFailing",
        "high",
        "connection",
        {"probe": "dns", "service": "network", "job": "probes"},
    ),
    ("TargetDown", "high", "connection", {"job": "node"}),
    ("TargetDown", "high", "connection", {"job": "app"}),
    ("DatabasePoolSaturated", "high", "resource_exhaustion", {"service": "api", "job": "app"}),
    ("TaskQueueDepthHigh", "high", "resource_exhaustion", {"service": "worker", "job": "app"}),
    ("ProcessMemoryHigh", "high", "resource_exhaustion", {"service": "worker", "job": "app"}),
    ("HostMemoryHigh", "high", "resource_exhaustion", {"job": "node"}),
]
GOALS = {
    "firing_recorded": "= alerts",
    "resolved_recorded": "= alerts",
    "lost": 0,
    "duplicated": 0,
    "recorded_after_last_send_s": 10.0,
    "console_first_render_ms": 500.0,
    "healthz_p99_ms": 100.0,
    "rss_back_ratio": 1.10,
}


def storm_alerts(hosts: int) -> list[dict[str, Any]]:
    """Every host's ten alerts as Prometheus posts them (endsAt set on sending)."""
    alerts = []
    for h in range(hosts):
        host = f"host-{h:04d}"
        for name, severity, category, extra in HOST_ALERTS:
            port = {"node": 9100, "app": 8080}.get(extra["job"], 9102)
            labels = {
                "alertname": name,
                "severity": severity,
                "category": category,
                "instance": f"{host}:{port}",
                **extra,
            }
            alerts.append(
                {
                    "labels": labels,
                    "annotations": {
                        "summary": f"{name} on {host}",
                        "runbook_url": f"https://example.org/runbooks/{name}",
                    },
                    "generatorURL": f"http://{HOST}:9090/graph?g0.expr=up",
                }
            )
    return alerts


def post_alerts(
    am: str, alerts: list[dict[str, Any]], within: float, ends: str, starts: str
) -> list[float]:
    """`alerts` to Alertmanager in 100 batches spread over `within` seconds; how
    long each POST took (ms). A POST that fails is sent again, as Prometheus does."""
    batches = 100
    size = -(-len(alerts) // batches)
    begin = time.monotonic()
    session = requests.Session()
    took = []
    for i in range(batches):
        chunk = [
            {**a, "startsAt": starts, "endsAt": ends} for a in alerts[i * size : (i + 1) * size]
        ]
        for attempt in range(5):
            t0 = time.perf_counter()
            try:
                session.post(f"{am}/api/v2/alerts", json=chunk, timeout=120).raise_for_status()
                break
            except requests.RequestException as exc:
                print(f"POST /api/v2/alerts batch {i} attempt {attempt}: {exc}", file=sys.stderr)
            finally:
                took.append((time.perf_counter() - t0) * 1000)
        time.sleep(max(0.0, begin + within * (i + 1) / batches - time.monotonic()))
    return took


class Poller(threading.Thread):
    """Calls `probe` every `every` seconds until stopped; keeps (time, result)."""

    def __init__(self, probe: Any, every: float) -> None:
        super().__init__(daemon=True)
        self.probe, self.every = probe, every
        self.samples: list[tuple[float, Any]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            at = time.time()
            try:
                self.samples.append((at, self.probe()))
            except Exception as exc:  # a failed probe is a sample too
                self.samples.append((at, exc))
            self.halt.wait(self.every)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)


def timed_get(session: requests.Session, url: str) -> tuple[int, float]:
    start = time.perf_counter()
    resp = session.get(url, timeout=30)
    return resp.status_code, (time.perf_counter() - start) * 1000


def logged_in(base: str) -> requests.Session:
    """A session logged in through the login form, as a browser does."""
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10).text
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, "the login page carries a CSRF token"
    form = {"name": OPERATOR, "password": OPERATOR_PASSWORD, "csrf_token": match[1]}
    resp = session.post(f"{base}/login", data=form, timeout=10, allow_redirects=False)
    assert resp.status_code in (302, 303), f"login answered {resp.status_code}"
    return session


def am_sent(am: str) -> float:
    """Alertmanager's count of HTTP requests it made to the webhook (every attempt,
    retries too): when it last changes, Alertmanager sent its last notification."""
    text = requests.get(f"{am}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("alertmanager_notification_requests_total{") and "webhook" in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def last_change(samples: list[tuple[float, Any]], until: float | None = None) -> float | None:
    """When a polled counter last changed (before `until`)."""
    changed, previous = None, None
    for at, value in samples:
        if isinstance(value, Exception) or (until is not None and at > until):
            continue
        if previous is not None and value != previous:
            changed = at
        previous = value
    return changed


def webhook_config(
    folder: Path,
    ports: dict[str, int],
    db: Path,
    twilio: Any,
    mail: Any,
    prometheus: str,
    fast: bool,
) -> Path:
    """The shipped webhook.yml as `make up` renders it (its playbooks, on this
    profile), a file store, both person channels on loopback sinks, every
    playbook a dry run."""
    playbooks = render.render_playbooks(folder, DEFAULT_PLAYBOOK_FILE, root=folder, fast=fast)
    remediation = {
        "enabled": True,
        "playbooks_file": str(playbooks),
        "dry_run": True,
        "prometheus_url": prometheus,
    }
    path = render.render_webhook(folder, ports, {OPERATOR: OPERATOR_HASH}, remediation, fast=fast)
    config = yaml.safe_load(path.read_text())
    config["store"]["url"] = f"sqlite:///{db}"
    config["channels"]["sms"].update(
        providers=[twilio_provider(twilio)], recipients=[SMS_RECIPIENT]
    )
    config["channels"]["email"].update(
        providers=[smtp_provider(mail, sender="alerts@example.org")], recipients=[EMAIL_RECIPIENT]
    )
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def storm_stack(home: Path, fast: bool) -> Iterator[dict[str, Any]]:
    ports = {s.name: s.default_port for s in SERVICES}
    ports.update(webhook=free_port(), alertmanager=free_port())
    token = "storm-" + "t" * 20
    db = home / "webhook.sqlite3"
    with ExitStack() as stack:
        twilio = stack.enter_context(fake_twilio())
        mail = stack.enter_context(smtp_server())
        prometheus = stack.enter_context(quiet_prometheus())
        config = webhook_config(home / "webhook", ports, db, twilio, mail, prometheus, fast)
        base = f"http://{HOST}:{ports['webhook']}"
        argv = python_module(
            "alert_webhook", f"--config={config}", f"--bind={HOST}:{ports['webhook']}"
        )
        env = {TOKEN_ENV: token, **SECRET_KEY, **TWILIO_ENV, "PYTHONPATH": str(ROOT)}
        hook = stack.enter_context(
            running(
                "webhook",
                argv,
                home,
                f"{base}/readyz",
                env=env,
                cwd=config.parent,
                timeout=START_TIMEOUT,
            )
        )
        (home / "alertmanager").mkdir()
        am_config = render.render_alertmanager(home / "alertmanager", ports, token, fast=fast)
        am = f"http://{HOST}:{ports['alertmanager']}"
        am_argv = [
            find_binary("ALERTMANAGER_BIN"),
            f"--config.file={am_config}",
            f"--storage.path={home / 'alertmanager' / 'data'}",
            f"--web.listen-address={HOST}:{ports['alertmanager']}",
            "--cluster.listen-address=",
        ]
        stack.enter_context(
            running("alertmanager", am_argv, home, f"{am}/-/ready", timeout=START_TIMEOUT)
        )
        routes = yaml.safe_load(am_config.read_text())["route"]
        timings = {
            r.get("receiver"): (r.get("group_wait"), r.get("group_interval"))
            for r in [routes, *routes.get("routes", [])]
        }
        sms_budget = yaml.safe_load(config.read_text())["channels"]["sms"]["budget"]
        yield {
            "webhook": base,
            "am": am,
            "db": db,
            "proc": psutil.Process(hook.popen.pid),
            "twilio": twilio,
            "mail": mail,
            "timings": timings,
            "sms_budget": sms_budget,
            "playbooks": Path(config.parent / "playbooks.yml"),
            "log": hook.log_path,
        }


def count(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_for_events(db: Path, status: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n = count(db, "SELECT count(*) FROM alert_events WHERE status = ?", status)[0][0]
        if n >= expected:
            break
        time.sleep(1.0)
    return n


def pctl(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def store_figures(db: Path, alerts: int) -> dict[str, Any]:
    q = lambda sql, *p: count(db, sql, *p)  # noqa: E731
    events = dict(q("SELECT status, count(*) FROM alert_events GROUP BY status"))
    per_fp = q(
        "SELECT a.fingerprint, e.status, count(*) FROM alert_events e "
        "JOIN alerts a ON a.id = e.alert_id GROUP BY a.fingerprint, e.status"
    )
    duplicated = sum(n - 1 for _, _, n in per_fp if n > 1)
    seen = Counter(status for _, status, _ in per_fp)
    labels = [json.loads(r[0]) for r in q("SELECT labels FROM alerts")]
    groups = Counter(service_of(lb) for lb in labels)
    deliveries = q(
        "SELECT channel, purpose, event_status, status, count(*) FROM deliveries "
        "GROUP BY channel, purpose, event_status, status"
    )
    by_channel: dict[str, dict[str, int]] = {}
    for channel, purpose, event_status, status, n in deliveries:
        # remediation-<run id>: what a run's ending told, one kind for all runs
        kind = re.sub(r"-\d+$", "", purpose)
        key = f"{event_status}/{status}" if kind == "notify" else f"{kind}:{event_status}/{status}"
        by_channel.setdefault(channel, Counter())[key] += n
    digests = q(
        "SELECT channel, count(*) FROM deliveries WHERE note = 'storm digest' GROUP BY channel"
    )
    runs = q(
        "SELECT playbook, target, status, coalesce(guardrail, ''), count(*) "
        "FROM remediation_runs GROUP BY playbook, target, status, guardrail"
    )
    return {
        "events": events,
        "lost": {s: alerts - seen.get(s, 0) for s in ("firing", "resolved")},
        "duplicated": duplicated,
        "incident_rows": q("SELECT count(*) FROM incidents")[0][0],
        "console_groups": dict(groups),
        "deliveries": by_channel,
        "digests": dict(digests),
        "runs": [list(r) for r in runs],
        "notifications": dict(q("SELECT status, count(*) FROM notifications GROUP BY status")),
    }


def run_budget(playbooks: Path, runs: list[list[Any]]) -> tuple[int, int]:
    """Runs that started (not blocked by a guardrail), and the playbooks' budget
    for the (playbook, target) pairs planned: max_attempts each per window."""
    books = {b["name"]: b for b in yaml.safe_load(playbooks.read_text())["playbooks"]}
    started = sum(n for book, target, status, guardrail, n in runs if status != "blocked")
    pairs = {(book, target) for book, target, *_ in runs}
    budget = sum(int(books.get(book, {}).get("max_attempts", 3)) for book, _ in pairs)
    return started, budget


def storm(args: argparse.Namespace) -> dict[str, Any]:
    alerts = storm_alerts(args.hosts)
    n = len(alerts)
    home = tempfile.mkdtemp(prefix="alert-storm-")
    print(f"home (logs, store): {home}", file=sys.stderr)
    with storm_stack(Path(home), args.fast) as s:
        proc, base, am = s["proc"], s["webhook"], s["am"]
        time.sleep(args.settle)
        rss_before = proc.memory_info().rss
        cpu_before = cpu_seconds(proc)
        health = requests.Session()
        console = logged_in(base)
        healthz = Poller(lambda: timed_get(health, f"{base}/healthz"), 0.05)
        pages = Poller(lambda: timed_get(console, f"{base}/"), args.console_every)
        sent = Poller(lambda: am_sent(am), 0.1)
        rss = Poller(lambda: proc.memory_info().rss, 0.5)
        for p in (healthz, pages, sent, rss):
            p.start()
        fire_at = time.time()
        starts = datetime.now(UTC).isoformat()
        ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        fire_posts = post_alerts(am, alerts, args.fire_within, ends, starts)
        posted_at = time.time()
        fired = wait_for_events(s["db"], "firing", n, args.fire_timeout)
        fired_seen_at = time.time()
        hold_left = args.hold - (time.time() - posted_at)
        time.sleep(max(0.0, hold_left))
        resolve_at = time.time()
        resolve_posts = post_alerts(
            am, alerts, args.fire_within, datetime.now(UTC).isoformat(), starts
        )
        resolved = wait_for_events(s["db"], "resolved", n, args.resolve_timeout)
        resolved_seen_at = time.time()
        for p in (healthz, pages, sent):
            p.stop()
        cpu_storm = cpu_seconds(proc) - cpu_before
        time.sleep(args.rss_wait)
        rss.stop()
        try:
            rss_after: int | None = proc.memory_info().rss
        except psutil.Error:  # the webhook died: the figures so far still count
            rss_after = None
        fig = store_figures(s["db"], n)
        last = count(
            s["db"],
            "SELECT max(e.received_at), (SELECT max(d.received_at) FROM deliveries d "
            "WHERE d.event_status = 'firing' AND d.purpose = 'notify') "
            "FROM alert_events e WHERE e.status = 'firing'",
        )[0]
        last_resolved = count(
            s["db"], "SELECT max(received_at) FROM alert_events WHERE status = 'resolved'"
        )[0][0]
        first_resolved = count(
            s["db"], "SELECT min(received_at) FROM alert_events WHERE status = 'resolved'"
        )[0][0]
        last_send = last_change(sent.samples, until=resolve_at)
        started, budget = run_budget(s["playbooks"], fig["runs"])
        twilio, mail = s["twilio"], s["mail"]
        health_ms = [v[1] for at, v in healthz.samples if not isinstance(v, Exception)]
        health_bad = sum(1 for _, v in healthz.samples if isinstance(v, Exception) or v[0] != 200)
        # The storm reaches the webhook when Alertmanager first sends (group_wait).
        arrived = next((at for at, v in sent.samples if isinstance(v, float) and v > 0), fire_at)
        storm_pages = [(at, v) for at, v in pages.samples if arrived <= at <= fired_seen_at]
        page_ms = [v[1] for _, v in storm_pages if not isinstance(v, Exception)]
        recorded = max(x for x in last if x is not None) if fired else None
        result = {
            "profile": "fast" if args.fast else "default",
            "timings": s["timings"],
            "hosts": args.hosts,
            "alerts": n,
            "hold_s": args.hold,
            "rss_wait_s": args.rss_wait,
            "load_before": psutil.getloadavg(),
            "firing_recorded": fired,
            "resolved_recorded": resolved,
            **fig,
            "first_post_to_recorded_s": (recorded - fire_at) if recorded else None,
            "am_last_send_after_first_post_s": (last_send - fire_at) if last_send else None,
            "recorded_after_last_send_s": (recorded - last_send)
            if recorded and last_send
            else None,
            "resolve_post_to_first_resolved_s": (first_resolved - resolve_at)
            if first_resolved
            else None,
            "resolve_post_to_all_resolved_s": (last_resolved - resolve_at)
            if last_resolved
            else None,
            "sms_sent": len(twilio.received),
            "sms_budget": s["sms_budget"],
            "emails_sent": len(mail.messages),
            "runs_started": started,
            "runs_budget": budget,
            "console_first_render_ms": page_ms[0] if page_ms else None,
            "console_render_ms": {
                "n": len(page_ms),
                "median": statistics.median(page_ms) if page_ms else None,
                "max": max(page_ms) if page_ms else None,
            },
            "healthz_p99_ms": pctl(health_ms, 0.99),
            "healthz_p50_ms": pctl(health_ms, 0.5),
            "healthz_max_ms": max(health_ms) if health_ms else None,
            "healthz_n": len(health_ms),
            "healthz_failed": health_bad,
            "rss_before_mib": rss_before / 2**20,
            "rss_peak_mib": max(v for _, v in rss.samples) / 2**20,
            "rss_after_mib": rss_after / 2**20 if rss_after else None,
            "rss_back_ratio": rss_after / rss_before if rss_after else None,
            "webhook_cpu_s_storm": cpu_storm,
            "am_post_ms": {
                "firing_max": max(fire_posts),
                "firing_total_s": sum(fire_posts) / 1000,
                "resolve_max": max(resolve_posts),
            },
            "storm_wall_s": resolved_seen_at - fire_at,
            "load_after": psutil.getloadavg(),
            "goals": GOALS,
            "home": home,
        }
    return result


def table(r: dict[str, Any]) -> str:
    n = r["alerts"]
    sms = r["deliveries"].get("sms", {})
    email = r["deliveries"].get("email", {})
    fmt = lambda v, spec=".2f": "n/a" if v is None else format(v, spec)  # noqa: E731
    budget = r["sms_budget"]
    rows = [
        (
            "firing recorded / lost / dup",
            f"{n} / 0 / 0",
            f"{r['firing_recorded']} / {r['lost']['firing']} / {r['duplicated']}",
        ),
        (
            "resolved recorded / lost",
            f"{n} / 0",
            f"{r['resolved_recorded']} / {r['lost']['resolved']}",
        ),
        ("recorded after AM's last send", "<= 10 s", f"{fmt(r['recorded_after_last_send_s'])} s"),
        (
            "  first POST -> AM last send",
            "(info)",
            f"{fmt(r['am_last_send_after_first_post_s'])} s",
        ),
        ("  first POST -> all recorded", "(info)", f"{fmt(r['first_post_to_recorded_s'])} s"),
        (
            "  resolve POST -> all resolved",
            "(info)",
            f"{fmt(r['resolve_post_to_all_resolved_s'])} s",
        ),
        (
            "console groups (incident rows)",
            "not 10,000",
            f"{len(r['console_groups'])} ({r['incident_rows']} rows)",
        ),
        (
            "SMS sent (digest deliveries)",
            f"<= {budget['max_messages']}+1 per {budget['window_seconds']}s",
            f"{r['sms_sent']} ({r['digests'].get('sms', 0)})",
        ),
        ("  sms deliveries", "(info)", json.dumps(dict(sorted(sms.items())))),
        ("email sent", "per routes", f"{r['emails_sent']}"),
        ("  email deliveries", "(info)", json.dumps(dict(sorted(email.items())))),
        (
            "console first render",
            "<= 500 ms",
            f"{fmt(r['console_first_render_ms'], '.0f')} ms"
            f" (median {fmt(r['console_render_ms']['median'], '.0f')}, max "
            f"{fmt(r['console_render_ms']['max'], '.0f')}, n={r['console_render_ms']['n']})",
        ),
        (
            "/healthz p99",
            "<= 100 ms",
            f"{fmt(r['healthz_p99_ms'], '.1f')} ms (p50 "
            f"{fmt(r['healthz_p50_ms'], '.1f')}, max {fmt(r['healthz_max_ms'], '.0f')}, "
            f"n={r['healthz_n']}, failed {r['healthz_failed']})",
        ),
        ("remediation runs started", f"<= budget {r['runs_budget']}", f"{r['runs_started']}"),
        (
            "webhook RSS after/before",
            "<= 1.10",
            f"{fmt(r['rss_back_ratio'], '.3f')} ({r['rss_before_mib']:.0f} -> peak "
            f"{r['rss_peak_mib']:.0f} -> {fmt(r['rss_after_mib'], '.0f')} MiB, "
            f"{r['rss_wait_s']:g} s after)",
        ),
        ("webhook CPU during storm", "(info)", f"{r['webhook_cpu_s_storm']:.1f} s"),
        (
            "POST /api/v2/alerts max",
            "(info)",
            f"{r['am_post_ms']['firing_max']:.0f} ms firing, "
            f"{r['am_post_ms']['resolve_max']:.0f} ms resolving",
        ),
    ]
    head = (
        f"alert storm: {r['hosts']} hosts x {len(HOST_ALERTS)} alerts, profile {r['profile']} "
        f"(routes: {r['timings']}), load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}"
    )
    lines = [head, f"{'measure':34} {'goal':26} measured"]
    lines += [f"{a:34} {b:26} {c}" for a, b, c in rows]
    return "\n".join(lines)


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt  # so every process the bench started is stopped


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupted)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast", action="store_true", help="the fast profile's routes (make up FAST=1)"
    )
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--fire-within", type=float, default=10.0)
    parser.add_argument(
        "--hold", type=float, default=60.0, help="seconds firing before the resolve"
    )
    parser.add_argument("--rss-wait", type=float, default=300.0, help="seconds after the resolve")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after start before RSS")
    parser.add_argument("--console-every", type=float, default=2.0)
    parser.add_argument("--fire-timeout", type=float, default=600.0)
    parser.add_argument("--resolve-timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="keep the store and logs")
    args = parser.parse_args()
    result = storm(args)
    if not args.keep:
        shutil.rmtree(result["home"], ignore_errors=True)
    print(table(result))
    out = write_result("alert_storm", result)
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
