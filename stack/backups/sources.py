"""The list of what the stack backs up, and where its backups live under var/.

One entry per source: the webhook's store (SQLite or PostgreSQL, as the
webhook is configured), the demo's orders database, the stack's configs,
Alertmanager's silences. A new store is one more entry in `sources()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import yaml

from alert_webhook.config.environment import DATABASE_URL_ENV
from stack.backups.files import FilesSource
from stack.backups.postgres import PostgresSource
from stack.backups.silences import SilencesSource
from stack.backups.source import Source
from stack.backups.sqlite import SqliteSource
from stack.ports import HOST, ports_from_env
from stack.repo import REPO
from stack.supervisor import Layout
from toolkit.programs import find_postgresql_program

DEFAULT_STORE_URL = "sqlite:///var/webhook.sqlite3"

# The stack's configs: what `make up` rendered for this run, and what it renders
# from (the playbooks, the webhook's settings, rules, routes, probes).
CONFIG_PATTERNS = (
    "var/run/*.yml",
    "var/run/rules/*.yml",
    "alert_webhook/*.yml",
    "alertmanager/*.yml",
    "prometheus/*.yml",
    "rules/*.yml",
    "rules/src/*.yml",
    "exporters/*.yml",
)
# Secrets `make up` makes anew each run: restoring an old one would only break the run.
CONFIG_SECRETS = ("webhook-token", "webhook-login", "supervisord.conf")


@dataclass(frozen=True)
class BackupLayout:
    """Where backups live: all under var/backups/ of the stack's root."""

    root: Path

    @property
    def base(self) -> Path:
        return self.root / "var" / "backups"

    @property
    def repository(self) -> Path:
        return self.base / "restic"

    @property
    def password_file(self) -> Path:
        return self.base / "restic-password"

    @property
    def cache(self) -> Path:
        return self.base / "cache"

    @property
    def staging(self) -> Path:
        return self.base / "staging"

    @property
    def scratch(self) -> Path:
        return self.base / "scratch"

    @property
    def status(self) -> Path:
        return self.base / "status.json"

    @property
    def lock(self) -> Path:
        return self.base / "lock"

    @property
    def replicas(self) -> Path:
        """Litestream's file replicas, one folder per SQLite source."""
        return self.base / "replica"

    @property
    def textfile(self) -> Path:
        """The system exporter's textfile directory: `backup.prom` goes there."""
        return self.root / "var" / "textfile"

    @property
    def stack_lock(self) -> Path:
        """Held by `make up` for the life of a run."""
        return self.root / "var" / "run" / "stack.lock"


def store_url(root: Path, env: Mapping[str, str]) -> str:
    """The webhook's store URL, as the webhook itself reads it: the variable, else
    the run's rendered settings, else the committed ones."""
    if env.get(DATABASE_URL_ENV):
        return env[DATABASE_URL_ENV]
    for path in (root / "var" / "run" / "webhook.yml", REPO / "alert_webhook" / "webhook.yml"):
        if path.is_file():
            config = yaml.safe_load(path.read_text()) or {}
            return str((config.get("store") or {}).get("url") or DEFAULT_STORE_URL)
    return DEFAULT_STORE_URL


# An SQLite URL without a host (the only kind SQLite takes): its database is what
# follows the third slash, up to a query, %-decoded, as SQLAlchemy reads it.
_SQLITE_URL = re.compile(r"sqlite(?:\+\w+)?://(?:/(?P<database>[^?]*))?(?:\?.*)?")


def webhook_store(root: Path, env: Mapping[str, str]) -> Source:
    url = store_url(root, env)
    if sqlite := _SQLITE_URL.fullmatch(url):
        # Read here, not with SQLAlchemy: the backup helpers that run all day
        # (the schedule, Litestream's follower) then do not hold it in memory.
        database = unquote(sqlite["database"] or "")
    else:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql":
            return PostgresSource(
                "webhook-store",
                url,
                find_postgresql_program("pg_dump", env),
                find_postgresql_program("pg_restore", env),
            )
        database = parsed.database or ""
    path = Path(database or "var/webhook.sqlite3")
    return SqliteSource("webhook-store", path if path.is_absolute() else root / path)


def sources(root: Path, env: Mapping[str, str]) -> list[Source]:
    """Everything one backup run snapshots, in order."""
    ports = ports_from_env(env)
    return [
        webhook_store(root, env),
        # The demo's business data; it reopens the file when a restore replaces it.
        SqliteSource("orders", Layout(root).orders),
        FilesSource("configs", root, CONFIG_PATTERNS, exclude=CONFIG_SECRETS),
        SilencesSource("silences", f"http://{HOST}:{ports['alertmanager']}"),
    ]


def sqlite_sources(all_sources: list[Source]) -> list[SqliteSource]:
    """The ones Litestream replicates continuously."""
    return [s for s in all_sources if isinstance(s, SqliteSource)]
