"""`make up`'s launcher: every process up, URLs answer, Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
import yaml
from support.procs import free_port, wait_until

from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries
from alert_webhook.remediation.actions.restart_service import RestartServiceParams
from alert_webhook.remediation.actions.restart_service import run as run_restart
from integration.launcher import Output, launched, launcher
from stack.ports import HOST, SERVICES, port_in_use
from stack.render import REPO

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"
TOKEN = "test-token-for-stack-up"


@pytest.fixture(scope="module")
def stack_up(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, int], subprocess.Popen[str], Output]]:
    with launched(tmp_path_factory.mktemp("stack"), TOKEN) as stack:
        yield stack.root, stack.ports, stack.proc, stack.out


def test_every_printed_url_answers(stack_up) -> None:
    root, ports, _proc, out = stack_up
    for service in SERVICES:
        url = f"http://{HOST}:{ports[service.name]}{service.ready_path}"
        assert url in out.text(), f"{service.name}'s URL is printed"
        assert requests.get(url, timeout=5).ok, url
    # The pages a person opens, each answering with a page.
    for title, service in (
        ("Prometheus UI", "prometheus"),
        ("Alertmanager UI", "alertmanager"),
        ("dashboard", "webhook"),
    ):
        page = f"http://{HOST}:{ports[service]}/"
        assert f"{title} " in out.text() and f" {page}\n" in out.text(), title
        response = requests.get(page, timeout=5)
        assert response.ok and "text/html" in response.headers["Content-Type"], page
    # Where the token is, and it is the token the stack runs with.
    token_file = root / "var" / "run" / "webhook-token"
    assert str(token_file) in out.text()
    assert token_file.read_text() == TOKEN


def test_stack_ctl_runs_supervisorctl_on_this_stack(stack_up) -> None:
    root, _ports, _proc, _out = stack_up
    status = subprocess.run(
        [sys.executable, "-m", "stack", "ctl", f"--root={root}", "status"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",  # found through --root, not the working directory
    )
    assert status.returncode == 0, status.stdout + status.stderr
    states = dict(line.split()[:2] for line in status.stdout.splitlines())
    programs = {service.name for service in SERVICES} | {"backups", "litestream"}
    assert states == dict.fromkeys(programs, "RUNNING")


def test_backups_are_taken_verified_and_published_for_the_rules(stack_up) -> None:
    root, ports, _proc, out = stack_up
    assert str(root / "var" / "backups" / "restic") in out.text(), "make up says where"
    system = f"http://{HOST}:{ports['system_exporter']}/metrics"
    store = (
        'backup_checksum_ok{backup="webhook-store",kind="backup",probe="backup-webhook-store"} 1.0'
    )
    wait_until(lambda: store in requests.get(system, timeout=5).text, 60, "a verified backup")
    # Litestream ships the webhook's store to its replica continuously.
    replica = root / "var" / "backups" / "replica" / "webhook-store"
    wait_until(lambda: any(replica.rglob("*.ltx")), 30, "the Litestream replica")


def _query(prometheus: str, promql: str) -> list[dict]:
    response = requests.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    return response.json()["data"]["result"]


# How long the first probes and scrapes may take: a deadline, not a measure of speed.
# Ten programs start on a machine that may be busy with other tests.
READY_WAIT = 90


def test_start_up_is_never_seen_as_an_outage(stack_up) -> None:
    # Prometheus and the probe exporter start once what they watch answers: no
    # probe and no scrape has failed since (the probe exporter's probes: the
    # backups publish probe_success of their own, through the textfile, once the
    # first backup has run), so ServiceUnavailable and TargetDown
    # have nothing to be pending on.
    _root, ports, _proc, _out = stack_up
    prometheus = f"http://{HOST}:{ports['prometheus']}"
    probes = len(yaml.safe_load((REPO / "exporters" / "probes.yml").read_text())["checks"])
    jobs = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    targets = sum(len(c["targets"]) for job in jobs for c in job["static_configs"])
    wait_until(
        lambda: len(_query(prometheus, 'probe_success{job="probes"}')) == probes,
        READY_WAIT,
        "the first run of each probe",
    )
    wait_until(
        lambda: len(_query(prometheus, "up")) == targets, READY_WAIT, "a scrape of every target"
    )
    assert _query(prometheus, 'min_over_time(probe_success{job="probes"}[1h]) == 0') == []
    assert _query(prometheus, "min_over_time(up[1h]) == 0") == []
    assert _query(prometheus, 'ALERTS{alertname=~"ServiceUnavailable|TargetDown"}') == []


def test_a_real_alertmanager_payload_shows_on_the_api(stack_up) -> None:
    _root, ports, _proc, _out = stack_up
    webhook = f"http://{HOST}:{ports['webhook']}"
    body = (FIXTURES / "firing-single.json").read_bytes()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    response = requests.post(f"{webhook}/alerts", data=body, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    fingerprint = json.loads(body)["alerts"][0]["fingerprint"]
    alerts = requests.get(f"{webhook}/api/alerts", timeout=5).json()["alerts"]
    assert fingerprint in {a["fingerprint"] for a in alerts}


def test_the_printed_login_lets_an_operator_acknowledge(stack_up) -> None:
    root, ports, _proc, out = stack_up
    login_file = root / "var" / "run" / "webhook-login"
    assert str(login_file) in out.text(), "make up says where the login is"
    assert login_file.stat().st_mode & 0o777 == 0o600
    login = yaml.safe_load(login_file.read_text())
    assert login["password"] not in out.text()
    for log in (root / "var" / "log").glob("*.log"):
        assert login["password"] not in log.read_text(errors="replace"), log.name

    webhook = f"http://{HOST}:{ports['webhook']}"
    [incident] = requests.get(f"{webhook}/api/incidents", timeout=5).json()["incidents"]
    ack = f"{webhook}/api/incidents/{incident['alert_id']}/ack"
    assert requests.post(ack, json={"by": "anyone"}, timeout=5).status_code == 401

    browser = requests.Session()
    form = {"name": login["name"], "password": login["password"]}
    form["csrf_token"] = _csrf(browser.get(f"{webhook}/login", timeout=5).text)
    logged_in = browser.post(f"{webhook}/login", data=form, timeout=10, allow_redirects=False)
    assert logged_in.status_code == 303, logged_in.text
    page = browser.get(f"{webhook}/", timeout=5).text
    assert f"Logged in as {login['name']}" in page
    acked = browser.post(ack, data={"csrf_token": _csrf(page)}, timeout=5, allow_redirects=False)
    assert acked.status_code == 303, acked.text
    [incident] = requests.get(f"{webhook}/api/incidents", timeout=5).json()["incidents"]
    assert incident["acked_by"] == login["name"]


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page carries a CSRF token"
    return match[1]


def _webhook_env(root: Path) -> dict[str, str]:
    """The environment the stack's webhook runs with (it holds supervisord's login)."""
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "alert_webhook" in child.cmdline() and str(root) in " ".join(child.cmdline()):
                return child.environ()
    raise AssertionError("no webhook process under this stack")


def test_the_demo_stays_down_until_restart_service_brings_it_back(stack_up) -> None:
    root, ports, _proc, _out = stack_up
    conf = root / "var" / "run" / "supervisord.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600, "it holds the XML-RPC login"
    env = _webhook_env(root)
    options = {
        "url_from_env": "STACK_SUPERVISOR_URL",
        "username_from_env": "STACK_SUPERVISOR_USERNAME",
        "password_from_env": "STACK_SUPERVISOR_PASSWORD",
    }
    restart = RestartServiceParams.model_validate(
        {"backend": "supervisor", "service": "demo", "supervisor": options}
    )
    status = [sys.executable, "-m", "stack", "ctl", f"--root={root}", "status", "demo"]

    def demo_state() -> list[str]:
        return subprocess.run(status, capture_output=True, text=True, timeout=30).stdout.split()

    pid = int(demo_state()[3].rstrip(","))
    # The whole group: a gunicorn worker orphaned by a kill -9 of its master alone
    # keeps the port for its graceful timeout, and no restart could bind it.
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: demo_state()[1] == "EXITED", 30, "supervisord to see the demo die")
    # supervisord does not restart it: only the alert path may.
    time.sleep(3)
    assert demo_state()[1] == "EXITED"
    result = run_restart(restart, 60, Boundaries(env=env))
    assert result.outcome is ActionOutcome.SUCCEEDED, result.detail
    assert result.output.startswith("demo: EXITED -> RUNNING (pid ")
    demo = next(s for s in SERVICES if s.name == "demo")
    ready = f"http://{HOST}:{ports['demo']}{demo.ready_path}"
    wait_until(lambda: requests.get(ready, timeout=2).ok, 30, "the restarted demo to answer")


def test_a_second_run_is_refused_naming_the_reason(stack_up) -> None:
    root, ports, _proc, _out = stack_up
    same_root = launcher(root, {s.name: free_port() for s in SERVICES}, TOKEN)
    output, _ = same_root.communicate(timeout=30)
    assert same_root.returncode == 1
    assert "already running" in output and "Traceback" not in output

    other_root = launcher(root / "elsewhere", ports, TOKEN)
    output, _ = other_root.communicate(timeout=30)
    assert other_root.returncode == 1
    assert f"port {ports['prometheus']} (prometheus) is already in use" in output
    assert "Traceback" not in output


# What the launcher may keep resident while it only waits for Ctrl-C: a bare
# interpreter is ~10 MiB; with the renderer's world still imported it was 78 MiB.
LAUNCHER_RSS_MIB = 30


def test_the_launcher_waits_for_ctrl_c_in_a_small_process(stack_up) -> None:
    _root, _ports, proc, out = stack_up
    launcher_proc = psutil.Process(proc.pid)
    with contextlib.suppress(TimeoutError):  # the hand-over takes a moment
        wait_until(
            lambda: launcher_proc.memory_info().rss < LAUNCHER_RSS_MIB * 2**20, 15, "a small RSS"
        )
    rss = launcher_proc.memory_info().rss / 2**20
    assert rss < LAUNCHER_RSS_MIB, f"the waiting launcher holds {rss:.1f} MiB"
    assert proc.poll() is None, out.text()


def test_ctrl_c_stops_every_process(stack_up) -> None:
    root, ports, proc, out = stack_up
    children = psutil.Process(proc.pid).children(recursive=True)
    # supervisord, its programs and the two that keep the backups; gunicorn adds workers
    assert len(children) >= 1 + len(SERVICES) + 2, "supervisord and its programs"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, out.text()
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert alive == [], f"still running after Ctrl-C: {[p.pid for p in alive]}"
    assert not any(port_in_use(port) for port in ports.values())
    assert "stopped." in out.text()
