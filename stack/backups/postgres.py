"""The webhook's store on PostgreSQL: `pg_dump -Fc` to stage, `pg_restore` to restore.

The password never reaches an argv (where `ps` shows it): it goes to the
subprocess as PGPASSWORD, and the URL on the command line has none.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stack.backups.source import Context, SourceFailed

DUMP = "store.dump"


@dataclass(frozen=True)
class PostgresSource:
    name: str
    # The store's SQLAlchemy URL (postgresql+psycopg://...).
    url: str
    pg_dump: str
    pg_restore: str
    live_while_running: bool = True

    def _libpq(self) -> tuple[str, dict[str, str]]:
        # Imported here: the backup helpers that run all day need it only for PostgreSQL.
        from sqlalchemy.engine import make_url

        url = make_url(self.url).set(drivername="postgresql")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        return url.set(password=None).render_as_string(hide_password=False), env

    def _run(self, what: str, argv: list[str]) -> str:
        dsn, env = self._libpq()
        done = subprocess.run(
            [a.replace("{dsn}", dsn) for a in argv],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        if done.returncode != 0:
            raise SourceFailed(f"{self.name}: {what} failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    def dump(self, path: Path) -> None:
        self._run("pg_dump", [self.pg_dump, "-Fc", "--no-owner", f"--file={path}", "{dsn}"])

    def stage(self, folder: Path, ctx: Context) -> None:
        self.dump(folder / DUMP)

    def check(self, folder: Path) -> list[str]:
        dump = folder / DUMP
        if not dump.is_file():
            return [f"{self.name}: {DUMP} is not in the snapshot"]
        done = subprocess.run(
            [self.pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            return [f"{self.name}: {DUMP} is not a pg_dump archive: {done.stderr.strip()[-200:]}"]
        return []

    def restore(self, folder: Path, ctx: Context) -> list[str]:
        aside = ctx.aside_dir() / f"{self.name}.replaced-{ctx.stamp()}.dump"
        self.dump(aside)
        self._run(
            "pg_restore",
            [
                self.pg_restore,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--dbname={dsn}",
                str(folder / DUMP),
            ],
        )
        return [f"kept the database as it was in {aside}", f"restored {self.name} with pg_restore"]
