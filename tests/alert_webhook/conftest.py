"""Fixtures for the webhook's tests: a fresh store, settings, an app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webhook_support import FakeClock

from alert_webhook import create_app
from alert_webhook.metrics import create_metrics
from alert_webhook.settings import Settings, settings_from_mapping
from alert_webhook.store import SqlStore, open_store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_store(f"sqlite:///{tmp_path}/webhook.sqlite3")
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    def build(data: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
        return settings_from_mapping(data or {}, env or {})

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
