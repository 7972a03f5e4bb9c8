"""Probe checks: one module per kind, each a typed model and a `run` function."""

from __future__ import annotations

from collections.abc import Callable


def default_runners() -> dict[str, Callable[..., None]]:
    """kind → run(check, report, boundaries); the probe exporter's registry of checks."""
    from exporters.checks import backup, http, integrity, net, queue, service, sql

    return {
        "http": http.run,
        "tcp": net.run_tcp,
        "dns": net.run_dns,
        "service": service.run,
        "queue": queue.run,
        "db_pool": sql.run_db_pool,
        "backup": backup.run,
        "integrity": integrity.run,
    }


__all__ = ["default_runners"]
