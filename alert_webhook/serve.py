"""Run the webhook under gunicorn after validating its configuration.

`python -m alert_webhook --config FILE --bind HOST:PORT`. Configuration errors
exit with status 2 and one line per problem; there is no traceback.
`python -m alert_webhook user add NAME` makes an operator's login (operator_cli.py).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from alert_webhook.settings import ConfigError, Settings, check_bind, load_settings

EXIT_CONFIG = 2


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: Mapping[str, Any], listen_host: str) -> None:
        self._settings = settings
        self._listen_host = listen_host
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        # gunicorn 27's control socket has one default path per user: two
        # servers (the webhook and the demo) would fight over it.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from alert_webhook import create_app

        # Runs in the gunicorn worker process: the writer and delivery threads start there.
        app = create_app(self._settings, listen_host=self._listen_host)
        app.extensions["alert_webhook"].start()
        # What start-up built (modules, schemas, SQL statements) lives as long as
        # the process: keep it out of the cyclic collector's full passes, which
        # otherwise walk it all again and again under load (~7% of CPU at 100-alert
        # payloads, perf).
        gc.freeze()
        return app


def _parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--bind {bind}", ["must be HOST:PORT with a port from 1 to 65535"])
    return host.strip("[]"), int(port)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alert_webhook", description=__doc__)
    parser.add_argument("--config", type=Path, help="webhook YAML configuration")
    parser.add_argument("--bind", default="127.0.0.1:9095", help="HOST:PORT to listen on")
    parser.add_argument("--threads", type=int, default=8, help="request threads")
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    try:
        settings = load_settings(args.config, env)
        host, _port = _parse_bind(args.bind)
        check_bind(host, settings)
    except ConfigError as exc:
        for line in exc.lines:
            print(f"alert_webhook: {line}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        print("alert_webhook: configuration is valid")
        return 0
    # One worker process with threads: the store serialises writes and the
    # delivery workers live beside the requests.
    _Gunicorn(
        settings,
        {
            "bind": args.bind,
            "workers": 1,
            "worker_class": "gthread",
            "threads": args.threads,
            "accesslog": None,
            "errorlog": "-",
            "graceful_timeout": 10,
        },
        listen_host=host,
    ).run()
    return 0
