"""Run the webhook under waitress after validating its configuration.

`python -m alert_webhook --config FILE --bind HOST:PORT`. Configuration errors
exit with status 2 and one line per problem; there is no traceback.
`python -m alert_webhook user add NAME` makes an operator's login (operators.py).
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from alert_webhook.app.wiring import Fleet, fleet_from, load_remediation_playbooks
from alert_webhook.cli import allocator
from alert_webhook.cli.startup import redacted, store_problem
from alert_webhook.config.settings import ConfigError, Settings, check_bind, load_settings
from alert_webhook.db.bulk import forget_kept_maps, kept_maps_used
from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.db.upgrade import StoreOutdated
from alert_webhook.loops import Loop
from alert_webhook.remediation.actions.base import Boundaries
from alert_webhook.remediation.playbooks import Playbooks
from toolkit.config import report_config_error

# Status 2 is a configuration error (toolkit.config.EXIT_CONFIG_ERROR).
EXIT_STORE = 3
EXIT_STORE_OUTDATED = 4
# How often free heap pages go back to the system (malloc_trim: ~1 ms when there
# is nothing to give back). A storm's memory returns within this after it drains.
TRIM_INTERVAL = 30.0


def _parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--bind {bind}", ["must be HOST:PORT with a port from 1 to 65535"])
    return host.strip("[]"), int(port)


def _stop(_signum: int, _frame: object) -> NoReturn:
    # waitress ends its loop on SystemExit: open requests finish, then we return.
    raise SystemExit(0)


def _serve(
    settings: Settings,
    host: str,
    port: int,
    threads: int,
    playbooks: Playbooks | None,
    env: Mapping[str, str],
    fleet: Fleet | None = None,
) -> int:
    from alert_webhook import create_app
    from alert_webhook.cli.front import create_server
    from alert_webhook.cli.front_limits import raise_open_files_limit

    # Before any thread exists: glibc's arenas are fixed as threads first use them.
    allocator.limit_arenas(env=env)
    # One process: the request threads, the group commit's writer and the
    # delivery workers live side by side and share the store. Remediation
    # actions may pass on only the variables a playbook names, from here.
    boundaries = Boundaries(env=dict(env))
    try:
        app = create_app(
            settings,
            listen_host=host,
            playbooks=playbooks,
            action_boundaries=boundaries,
            fleet=fleet,
            request_threads=threads,
        )
    except (StoreUnavailable, OSError) as exc:
        print(f"alert_webhook: {store_problem(settings.store.url, exc)}", file=sys.stderr)
        return EXIT_STORE
    except StoreOutdated as exc:
        url = redacted(settings.store.url)
        print(f"alert_webhook: store {url} cannot be brought up to date: {exc}", file=sys.stderr)
        return EXIT_STORE_OUTDATED
    ctx = app.extensions["alert_webhook"]
    # Each connection is a descriptor: up to the front's connection limit, on
    # top of the store's files, is past a soft limit of 1,024.
    raise_open_files_limit()
    try:
        server = create_server(
            app,
            host,
            port,
            threads=threads,
            max_body_bytes=settings.max_body_bytes,
            limits=settings.front,
        )
    except OSError as exc:
        print(f"alert_webhook: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    # Once a burst has drained, the label maps it kept and the heap's free pages go.
    trim = allocator.trimmer(allocator.glibc(), kept_maps_used, forget_kept_maps)
    ctx.workers.add(Loop("allocator-trim", trim, TRIM_INTERVAL))
    ctx.start()
    # What start-up built (modules, schemas, SQL statements) lives as long as
    # the process: keep it out of the cyclic collector's full passes, which
    # otherwise walk it all again and again under load (~7% of CPU at 100-alert
    # payloads, perf).
    gc.freeze()
    signal.signal(signal.SIGTERM, _stop)
    print(f"alert_webhook: listening on http://{host}:{port}", file=sys.stderr, flush=True)
    server.run()
    ctx.workers.stop()
    return 0


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
        host, port = _parse_bind(args.bind)
        check_bind(host, settings)
        playbooks = load_remediation_playbooks(settings)
        # The inventory is read once, here: a bad one (or a key others may read)
        # stops start-up and `--check` alike, naming the problem.
        fleet = fleet_from(settings, playbooks, env)
    except ConfigError as exc:
        return report_config_error(exc, "alert_webhook")
    if args.check:
        print("alert_webhook: configuration is valid")
        return 0
    return _serve(settings, host, port, args.threads, playbooks, env, fleet)
