"""demo/__main__.py: the demo's gunicorn worker never outlives its master, so a
`kill -9` of the service leaves its port free for the restart."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from support.procs import free_port, python_module, running, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_killing_the_master_takes_the_worker_and_frees_the_port(tmp_path) -> None:
    port = free_port()
    argv = python_module("demo", "--bind", f"127.0.0.1:{port}")  # with its own traffic
    with running(
        "demo", argv, tmp_path, ready_url=f"http://127.0.0.1:{port}/healthz", cwd=ROOT
    ) as demo:
        os.kill(demo.popen.pid, signal.SIGKILL)  # the master only, as a crash would
        demo.popen.wait(5)
        # gunicorn's worker would otherwise finish a 30 s graceful shutdown first.
        wait_until(lambda: _port_free(port), 5, f"port {port} free after the master died")
