"""demo/__main__.py: the demo's gunicorn worker never outlives its master, so a
`kill -9` of the service leaves its port free for the restart."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from support.procs import free_port, python_module, running, wait_until

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.integration


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_killing_the_master_takes_the_worker_and_frees_the_port(tmp_path) -> None:
    port, pidfile = free_port(), tmp_path / "demo.pid"
    # With its own traffic; the pidfile names the process supervisord would start.
    argv = python_module("demo", "--bind", f"127.0.0.1:{port}", "--pidfile", str(pidfile))
    with running(
        "demo", argv, tmp_path, ready_url=f"http://127.0.0.1:{port}/healthz", cwd=ROOT
    ) as demo:
        assert pidfile.read_text() == f"{demo.popen.pid}\n"
        os.kill(demo.popen.pid, signal.SIGKILL)  # the master only, as a crash would
        demo.popen.wait(5)
        # gunicorn's worker would otherwise finish a 30 s graceful shutdown first.
        wait_until(lambda: _port_free(port), 5, f"port {port} free after the master died")


def test_the_worker_and_a_dependency_instance_run_as_their_own_processes(tmp_path) -> None:
    import requests

    from demo.orders import QUEUED, Orders

    data = tmp_path / "orders.sqlite3"
    Orders(data).create("widget", 1, "none", 1.0)
    worker_port, dep_port = free_port(), free_port()
    pidfiles = {"worker": tmp_path / "worker.pid", "dep": tmp_path / "dep.pid"}
    worker = python_module(
        "demo", "worker", "--bind", f"127.0.0.1:{worker_port}", "--data", str(data),
        "--pidfile", str(pidfiles["worker"]),
    )  # fmt: skip
    dependency = python_module(
        "demo", "dependency", "--name", "tertiary", "--bind", f"127.0.0.1:{dep_port}",
        "--pidfile", str(pidfiles["dep"]),
    )  # fmt: skip
    with (
        running(
            "worker",
            worker,
            tmp_path,
            ready_url=f"http://127.0.0.1:{worker_port}/healthz",
            cwd=ROOT,
        ) as worker_proc,
        running(
            "dep", dependency, tmp_path, ready_url=f"http://127.0.0.1:{dep_port}/healthz", cwd=ROOT
        ) as dep_proc,
    ):
        assert pidfiles["worker"].read_text() == f"{worker_proc.popen.pid}\n"
        assert pidfiles["dep"].read_text() == f"{dep_proc.popen.pid}\n"
        wait_until(lambda: Orders(data).count(QUEUED) == 0, 10, "the worker took the queued order")
        reserved = requests.post(f"http://127.0.0.1:{dep_port}/api/reserve", timeout=5).json()
        assert reserved["instance"] == "tertiary"
        metrics = requests.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=5).text
        assert 'task_queue_depth{queue="orders"} 0.0' in metrics


def test_a_restarted_demo_is_as_slow_as_its_chaos_file_says(tmp_path) -> None:
    import requests

    port, chaos = free_port(), tmp_path / "chaos.json"
    argv = python_module(
        "demo", "--bind", f"127.0.0.1:{port}", "--traffic-per-second", "0",
        "--chaos-file", str(chaos),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running("demo", argv, tmp_path, ready_url=f"{url}/healthz", cwd=ROOT):
        switches = {"latency_seconds": 0.5, "memory_hog_mib": 8}
        requests.post(f"{url}/chaos", json=switches, timeout=5).raise_for_status()
    with running("demo", argv, tmp_path, ready_url=f"{url}/healthz", cwd=ROOT):
        state = requests.get(f"{url}/chaos", timeout=5).json()
    assert (state["latency_seconds"], state["memory_hog_mib"]) == (0.5, 0)
