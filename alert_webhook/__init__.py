"""The alert webhook: receives Alertmanager notifications, tells people, heals what
it may, and shows it all on a console.

One folder per feature (`ingest/`, `incidents/`, `delivery/`, `remediation/`,
`failover/`, `reports/`), infrastructure below them (`db/`, `metrics/`,
`clients/`), and the ways in above them (`web/`, `api/`, `dashboard/`, `cli/`,
`app/`); docs/architecture.md draws it. `create_app` is imported on first use,
so importing a small module of the package costs nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alert_webhook.app.factory import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from alert_webhook.app.factory import create_app

        return create_app
    raise AttributeError(f"module 'alert_webhook' has no attribute {name!r}")
