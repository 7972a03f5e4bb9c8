"""The database halves of restore_from_backup: checking a SQLite backup and
copying it with sqlite3's online backup API; checking a PostgreSQL custom-format
dump and restoring it with pg_restore.

PostgreSQL's damaged database is kept aside by **dumping it first** (`pg_dump
-Fc` into `keep_aside_in`), then restoring over it with `pg_restore --clean
--if-exists --single-transaction --exit-on-error`: the restore happens whole or
not at all, the database keeps its name, owner, grants and settings (which a
restore into a new database and a rename would lose), and nobody's connection
string changes. A damaged database that pg_dump cannot read is therefore not
restored over: the action fails and a person decides. The password reaches the
client programs only as PGPASSWORD, read from the variable the playbook names;
it is never in an argument or the output.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from alert_webhook.remediation.actions import run_command
from alert_webhook.remediation.actions.backup_source import Unverified
from alert_webhook.remediation.actions.base import ActionOutcome, ActionResult, Boundaries, EnvVar
from alert_webhook.remediation.actions.contained import absolute_clean, open_folder
from toolkit.config import Strict
from toolkit.sqlite import integrity_check, online_backup

# A database, role or host name written in the playbook: never an option.
PgWord = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,62}$")]
_SHOWN_PROBLEMS = 3


class RestoreFailed(Exception):
    """The restore did not happen (or did not finish); `detail` says what stands."""

    def __init__(self, detail: str, outcome: ActionOutcome = ActionOutcome.FAILED) -> None:
        super().__init__(detail)
        self.detail, self.outcome = detail, outcome


class PostgresTarget(Strict):
    database: PgWord
    host: PgWord = "127.0.0.1"
    port: int = Field(default=5432, ge=1, le=65535)
    user: PgWord = "postgres"
    # The variable holding the password, passed to pg_dump/pg_restore as PGPASSWORD.
    password_from_env: EnvVar | None = None
    # The folder holding pg_dump and pg_restore (their versions must read the dumps).
    bin_dir: str = "/usr/bin"
    # Where the damaged database's dump is written (under the roots).
    keep_aside_in: str

    _clean_bin_dir = field_validator("bin_dir")(absolute_clean)
    _clean_keep_aside = field_validator("keep_aside_in")(absolute_clean)

    def connection(self) -> list[str]:
        return [f"--host={self.host}", f"--port={self.port}", f"--username={self.user}",
                "--no-password"]  # fmt: skip


def check_sqlite(copy: str) -> None:
    """`PRAGMA integrity_check` on the copy, read-only; Unverified unless "ok"."""
    try:
        problems = integrity_check(copy)
    except sqlite3.DatabaseError as exc:
        raise Unverified(f"not a usable SQLite database: {exc}") from None
    if problems:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        raise Unverified(f"integrity_check found {len(problems)} problems: {shown}")


def sqlite_backup(copy: str, into: str) -> None:
    """Copy the verified database into the new file page by page with SQLite's
    online backup API: a consistent database, whatever state the copy's file was
    left in, and never a torn one."""
    try:
        online_backup(copy, into)
    except sqlite3.Error as exc:
        raise RestoreFailed(f"copying the backup into {into}: {exc}; left as it was") from None


def _pg(
    target: PostgresTarget, program: str, args: list[str], ctx: Boundaries, deadline: float
) -> ActionResult:
    """pg_dump or pg_restore as an argument list, seeing only PGPASSWORD."""
    env = {}
    if target.password_from_env is not None:
        password = ctx.env.get(target.password_from_env)
        if not password:
            raise RestoreFailed(f"environment variable {target.password_from_env} is not set")
        env["PGPASSWORD"] = password
    params = run_command.RunCommandParams(
        argv=[os.path.join(target.bin_dir, program), *args], env=list(env)
    )
    left = deadline - ctx.monotonic()
    if left <= 0:
        raise RestoreFailed(f"out of time before {program}", ActionOutcome.TIMED_OUT)
    return run_command.run(params, left, dataclasses.replace(ctx, env=env))


def check_dump(target: PostgresTarget, copy: str, ctx: Boundaries, deadline: float) -> None:
    """pg_restore can read the dump's table of contents."""
    listed = _pg(target, "pg_restore", ["--list", copy], ctx, deadline)
    if listed.outcome is not ActionOutcome.SUCCEEDED:
        raise Unverified(f"pg_restore --list: {listed.detail}: {listed.output.strip()[-200:]}")


def restore_postgres(
    target: PostgresTarget, copy: str, roots: list[str], stamp: str, ctx: Boundaries,
    deadline: float,
) -> str:  # fmt: skip
    """Dump the damaged database aside, then restore the dump over it in one
    transaction; the path of the damaged database's dump."""
    aside = str(PurePosixPath(target.keep_aside_in) / f"{target.database}.damaged-{stamp}.dump")
    try:
        with open_folder(target.keep_aside_in, roots):
            pass  # there, and reached without following a link
    except (OSError, ValueError) as exc:
        raise RestoreFailed(f"{target.keep_aside_in}: {exc}; nothing restored") from None
    db = f"--dbname={target.database}"
    dumped = _pg(target, "pg_dump", [*target.connection(), "--format=custom",
                                     f"--file={aside}", db], ctx, deadline)  # fmt: skip
    if dumped.outcome is not ActionOutcome.SUCCEEDED:
        raise RestoreFailed(
            f"pg_dump of the damaged {target.database} failed ({dumped.detail}): "
            f"{dumped.output.strip()[-300:]}; nothing restored",
            dumped.outcome,
        )
    restored = _pg(target, "pg_restore", [*target.connection(), "--clean", "--if-exists",
                   "--single-transaction", "--exit-on-error", db, copy], ctx, deadline)  # fmt: skip
    if restored.outcome is not ActionOutcome.SUCCEEDED:
        raise RestoreFailed(
            f"pg_restore into {target.database} failed ({restored.detail}), rolled back; the "
            f"damaged database is as it was, its dump at {aside}: {restored.output.strip()[-300:]}",
            restored.outcome,
        )
    return aside
