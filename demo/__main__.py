"""`python -m demo --bind 127.0.0.1:8081`: the demo service under gunicorn.

It carries its own steady traffic (`--traffic-per-second`, 0 for none): see
demo/traffic.py.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import threading
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
    def __init__(self, bind: str, traffic_per_second: float) -> None:
        self._bind = bind
        self._traffic_per_second = traffic_per_second
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
        from demo.traffic import Traffic

        # load() runs in the worker: /chaos/die must stop the gunicorn master
        # too, or it would just respawn the worker.
        master = os.getppid()
        _die_with(master)
        app = create_app(die=lambda: os.kill(master, signal.SIGTERM))
        # The traffic lives and dies with the worker that serves it, so a dead
        # demo has no traffic either.
        traffic = Traffic.for_bind(self._bind, self._traffic_per_second)
        threading.Thread(
            target=traffic.run, args=(threading.Event().wait,), name="traffic", daemon=True
        ).start()
        return app


def main() -> int:
    parser = argparse.ArgumentParser(prog="demo", description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1:8081", help="HOST:PORT to listen on")
    parser.add_argument(
        "--traffic-per-second",
        type=float,
        default=2.0,
        help="calls a second to its own GET /api/orders, one at a time (0: none)",
    )
    args = parser.parse_args()
    _Server(args.bind, args.traffic_per_second).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
