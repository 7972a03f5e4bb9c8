"""`make chaos` itself: with no stack to break, or one on the plan's windows, it
refuses in one line that says what to do; each scenario is printed as it runs,
then what it measured. Runs the Makefile's real recipe (its set-up skipped with
-o) against a stack root under tmp_path and free ports; nothing is broken."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from support.procs import free_port

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent


def make_chaos(root: Path, ports: dict[str, str], *tests: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAOS_", "MAKE"))}
    env.update(ports, CHAOS_ROOT=str(root))
    argv = ["make", "--no-print-directory", "-o", "setup-test", "chaos", f"VENV={VENV}",
            f"CHAOS_RESULTS={root / 'results.jsonl'}"]  # fmt: skip
    if tests:
        argv.append(f"CHAOS_TESTS={' '.join(tests)}")
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def ours(done: subprocess.CompletedProcess[str]) -> list[str]:
    """Every line printed, but make's own closing `make: *** [...] Error 2`."""
    lines = (done.stdout + done.stderr).splitlines()
    return [line for line in lines if line.strip() and not line.startswith("make: ***")]


def stopped_stack(root: Path, scrape_interval: str) -> Path:
    """What a `make up` leaves under var/run/ (config, token, Prometheus's config)."""
    run = root / "var" / "run"
    run.mkdir(parents=True)
    (run / "supervisord.conf").write_text("[supervisord]\n")
    (run / "webhook-token").write_text("t\n")
    (run / "prometheus.yml").write_text(f"global:\n  scrape_interval: {scrape_interval}\n")
    return root


@contextlib.contextmanager
def answering_webhook() -> Iterator[int]:
    """A webhook that answers /readyz, on a free port."""

    class Ready(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Ready) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
            thread.join(10)


def test_no_stack_is_refused_in_one_line(tmp_path: Path) -> None:
    done = make_chaos(tmp_path, {"WEBHOOK_PORT": str(free_port())})
    assert done.returncode != 0
    [line] = ours(done)
    assert line.startswith("make chaos: ") and "make up FAST=1" in line, line


def test_a_stopped_stack_is_refused_in_one_line(tmp_path: Path) -> None:
    root = stopped_stack(tmp_path, "1s")
    port = free_port()
    done = make_chaos(root, {"WEBHOOK_PORT": str(port)})
    assert done.returncode != 0
    [line] = ours(done)
    assert f"127.0.0.1:{port}" in line and "make up FAST=1" in line, line


def test_the_default_profile_is_refused_in_one_line(tmp_path: Path) -> None:
    root = stopped_stack(tmp_path, "15s")
    with answering_webhook() as port:
        done = make_chaos(root, {"WEBHOOK_PORT": str(port)})
    assert done.returncode != 0
    [line] = ours(done)
    assert "plan's windows" in line and "FAST=1" in line and str(root) in line, line


SCENARIO = '''"""Scenario 9, a made-up fault: what the progress lines print."""
import time
from chaos.results import record

def test_a_fault_is_mended() -> None:
    record("made-up fault", 7.44, 300.0, data_lost=0.3, rpo_seconds=60.0)

def test_a_second_fault_fails() -> None:
    raise AssertionError("it did not come back")
'''


def test_each_scenario_is_printed_as_it_runs_with_what_it_measured(tmp_path: Path) -> None:
    """The recipe's pytest against a scenario file of its own (CHAOS_TESTS)."""
    root = stopped_stack(tmp_path, "1s")
    scenario = tmp_path / "test_made_up.py"
    scenario.write_text(SCENARIO)
    with answering_webhook() as port:
        done = make_chaos(root, {"WEBHOOK_PORT": str(port)}, str(scenario))
    lines = ours(done)
    assert done.returncode != 0, lines  # the second one failed
    [mended] = [line for line in lines if "a fault is mended" in line]
    assert mended.startswith("scenario 9, a made-up fault: a fault is mended ... "), mended
    assert "recovered in 7.4 s (plan RTO 5 min), data lost 0.3 s (plan RPO 1 min)" in mended
    [failed] = [line for line in lines if "a second fault fails" in line]
    assert "FAILED" in failed
    assert not [line for line in lines if set(line.strip()) <= set(".FEsx")], lines  # no dots
