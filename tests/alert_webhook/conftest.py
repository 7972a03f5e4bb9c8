"""Fixtures for the webhook's tests: a fresh store, settings, an app.

`store` is SQLite. A module that must behave the same on both stores overrides
it with `any_store`, which runs each of its tests on SQLite and on a real
PostgreSQL server (started once per session, emptied between tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import postgres
from webhook_support import FakeClock

from alert_webhook import create_app
from alert_webhook.config.settings import Settings, settings_from_mapping
from alert_webhook.metrics.registry import create_metrics
from alert_webhook.store import SqlStore, open_store

NO_ALERTMANAGER = "http://127.0.0.1:9"  # the discard port: nothing answers there


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_store(f"sqlite:///{tmp_path}/webhook.sqlite3")
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    reason = postgres.unavailable()
    if reason:
        pytest.skip(reason)
    with postgres.server() as url:
        schema = open_store(url)
        schema.create_schema()
        schema.dispose()
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        yield request.getfixturevalue("store")
        return
    store = open_store(request.getfixturevalue("pg_url"))
    try:
        yield store
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {postgres.TABLES} RESTART IDENTITY")
        store.dispose()


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    def build(data: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
        # The reconcile loop asks Alertmanager for its alerts: a test that does
        # not name one must not reach one on the default port by chance (it
        # would resolve the test's alerts, which it never held).
        data = dict(data or {})
        data["links"] = {"alertmanager_url": NO_ALERTMANAGER, **(data.get("links") or {})}
        return settings_from_mapping(data, env or {})

    return build


@pytest.fixture
def app_factory(store: SqlStore, clock: FakeClock, make_settings: Callable[..., Settings]):
    def build(data: dict[str, Any] | None = None, env: dict[str, str] | None = None, **kw: Any):
        return create_app(
            make_settings(data, env), store=store, metrics=create_metrics(), clock=clock, **kw
        )

    return build


@pytest.fixture
def client(app_factory):
    return app_factory().test_client()
