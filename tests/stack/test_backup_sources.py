"""stack/backups/sources.py: the webhook's store read from its URL as the webhook
(SQLAlchemy) reads it, without importing SQLAlchemy for an SQLite URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from alert_webhook.config.environment import DATABASE_URL_ENV
from stack.backups.postgres import PostgresSource
from stack.backups.sources import webhook_store
from stack.backups.sqlite import SqliteSource


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///var/webhook.sqlite3",
        "sqlite:////srv/state/webhook.sqlite3",
        "sqlite+pysqlite:///var/store.db?timeout=5",
        "sqlite:///var/with%20space.sqlite3",
        "sqlite:///",
        "sqlite://",
    ],
)
def test_an_sqlite_store_is_the_file_sqlalchemy_opens(tmp_path: Path, url: str) -> None:
    source = webhook_store(tmp_path, {DATABASE_URL_ENV: url})
    assert isinstance(source, SqliteSource)
    expected = Path(make_url(url).database or "var/webhook.sqlite3")
    assert source.path == (expected if expected.is_absolute() else tmp_path / expected)


def test_a_postgresql_store_is_dumped_with_pg_dump(tmp_path: Path) -> None:
    url = "postgresql+psycopg://alerts@db.example.org:5432/alerts"
    source = webhook_store(tmp_path, {DATABASE_URL_ENV: url})
    assert isinstance(source, PostgresSource)
