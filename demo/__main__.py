"""The demo system's processes.

- `python -m demo --bind 127.0.0.1:8081 [--data orders.sqlite3] [--dependency DIR]
  [--chaos-file chaos.json]`: the orders API under gunicorn, with its own steady
  traffic (`--traffic-per-second`, 0 for none: see demo/traffic.py);
- `python -m demo worker --bind 127.0.0.1:8082 --data orders.sqlite3`: the worker
  that works off the queued orders (demo/worker.py);
- `python -m demo dependency --name primary --bind 127.0.0.1:8083`: one instance of
  the dependency the API calls (demo/dependency.py).

Each takes `--pidfile PATH`: its pid written there at start, so the system
exporter can count the program's processes (and their children) as one group.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with(master: int) -> None:
    """Have the kernel kill this worker when its master dies. A master killed with
    SIGKILL cannot stop its worker, which would then finish gunicorn's graceful
    shutdown (30 s, while its own traffic keeps a connection busy) still holding
    the port, and a restarted demo could not bind it. Linux only; elsewhere the
    worker notices the new parent on its own, later."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != master:  # it died before the call: nothing will signal us
        os.kill(os.getpid(), signal.SIGKILL)


class _Server(BaseApplication):
    def __init__(self, args: argparse.Namespace) -> None:
        self._bind = args.bind
        self._traffic_per_second = args.traffic_per_second
        self._data, self._dependency = args.data, args.dependency
        self._chaos_file = args.chaos_file
        super().__init__()

    def load_config(self) -> None:
        # gunicorn 27's control socket has one default path per user: two
        # servers (the webhook and the demo) would fight over it.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)
        # One process keeps the demo's state (chaos switches, queue) in one place.
        for key, value in {
            "bind": self._bind,
            "workers": 1,
            "worker_class": "gthread",
            "threads": 8,
            "accesslog": None,
            "errorlog": "-",
        }.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from demo.app import create_app
        from demo.chaos import Chaos
        from demo.dependency import ActiveInstance
        from demo.orders import Orders
        from demo.traffic import Traffic

        # load() runs in the worker: /chaos/die must stop the gunicorn master
        # too, or it would just respawn the worker.
        master = os.getppid()
        _die_with(master)
        app = create_app(
            orders=Orders(self._data),
            dependency=ActiveInstance(self._dependency) if self._dependency else None,
            chaos=Chaos(self._chaos_file),
            die=lambda: os.kill(master, signal.SIGTERM),
        )
        # The traffic lives and dies with the worker that serves it, so a dead
        # demo has no traffic either.
        traffic = Traffic.for_bind(self._bind, self._traffic_per_second)
        threading.Thread(
            target=traffic.run, args=(threading.Event().wait,), name="traffic", daemon=True
        ).start()
        return app


def _write_pidfile(path: Path | None) -> None:
    """This process's pid in `path` (replaced whole, so a reader never sees half)."""
    if path is None:
        return
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(f"{os.getpid()}\n")
    partial.replace(path)


def _serve_dependency(name: str, bind: str) -> None:
    import waitress

    from demo.dependency import create_dependency_app

    host, _, port = bind.rpartition(":")
    waitress.serve(create_dependency_app(name), host=host, port=int(port), threads=4, _quiet=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        from demo.worker import serve

        worker = argparse.ArgumentParser(prog="demo worker", description="the orders worker")
        worker.add_argument("--bind", default="127.0.0.1:8082", help="HOST:PORT to listen on")
        worker.add_argument("--data", required=True, help="the orders file the API writes")
        worker.add_argument("--pidfile", type=Path, help="file to write this process's pid to")
        args = worker.parse_args(argv[1:])
        _write_pidfile(args.pidfile)
        serve(args.bind, args.data)
        return 0
    if argv[:1] == ["dependency"]:
        dep = argparse.ArgumentParser(prog="demo dependency", description="a dependency instance")
        dep.add_argument("--name", required=True, help="primary, secondary, tertiary ...")
        dep.add_argument("--bind", default="127.0.0.1:8083", help="HOST:PORT to listen on")
        dep.add_argument("--pidfile", type=Path, help="file to write this process's pid to")
        args = dep.parse_args(argv[1:])
        _write_pidfile(args.pidfile)
        _serve_dependency(args.name, args.bind)
        return 0
    parser = argparse.ArgumentParser(prog="demo", description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1:8081", help="HOST:PORT to listen on")
    parser.add_argument(
        "--traffic-per-second",
        type=float,
        default=2.0,
        help="calls a second to its own orders endpoints, one at a time (0: none)",
    )
    parser.add_argument(
        "--data", default=":memory:", help="the orders file, shared with the worker (default: none)"
    )
    parser.add_argument(
        "--dependency", type=Path, help="folder whose `active` link names the dependency instance"
    )
    parser.add_argument(
        "--chaos-file",
        type=Path,
        help="file that keeps the slowness and failure switches across restarts (default: none)",
    )
    parser.add_argument(
        "--pidfile", type=Path, help="file to write the gunicorn master's pid to (this process)"
    )
    args = parser.parse_args(argv)
    _write_pidfile(args.pidfile)
    _Server(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
