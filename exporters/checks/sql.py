"""SQL scalars, and the database connection-pool check built on them.

SQLAlchemy Core gives one code path for SQLite and PostgreSQL. Every run opens a
fresh connection (NullPool): the probe tests that the database accepts one now.
The password never sits in the probe file; `password_env` names the variable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from exporters.checks.base import Boundaries, CheckBase, EnvVar, Report, as_number
from toolkit.config import Strict

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# SQLAlchemy is imported where a check uses it: the probe exporter runs all day, and
# with no SQL check configured it need not hold SQLAlchemy in memory (~15 MiB).

# Queries for a PostgreSQL server's own connection limit, as seen by the probe.
POSTGRESQL_POOL = {
    "in_use": "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
    "AND state IS DISTINCT FROM 'idle'",
    "idle": "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
    "AND state = 'idle'",
    "max": "SELECT setting::int FROM pg_settings WHERE name = 'max_connections'",
}


def _valid_dsn(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(
            "not a database URL (e.g. sqlite:///path or postgresql://user@host/db)"
        ) from None
    if url.password:
        raise ValueError(
            "must not contain a password; name an environment variable in password_env"
        )
    return value


class SqlSource(Strict):
    dsn: Annotated[str, AfterValidator(_valid_dsn)]
    password_env: EnvVar | None = None


class SqlScalar(SqlSource):
    query: str = Field(min_length=1)


class PoolQueries(Strict):
    in_use: str
    idle: str
    max: str


class DbPoolCheck(CheckBase, SqlSource):
    kind: Literal["db_pool"]
    preset: Literal["postgresql"] | None = None
    queries: PoolQueries | None = None

    @model_validator(mode="after")
    def _queries_or_preset(self) -> DbPoolCheck:
        if (self.preset is None) == (self.queries is None):
            raise ValueError("give exactly one of preset or queries")
        return self

    def instance(self) -> str:
        return self.dsn  # never holds a password: _valid_dsn refuses one


def engine_url(source: SqlSource, ctx: Boundaries) -> URL:
    from sqlalchemy.engine import make_url

    url = make_url(source.dsn)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if source.password_env:
        url = url.set(password=ctx.secret(source.password_env))
    return url


def scalars(
    source: SqlSource, queries: Sequence[str], report: Report, ctx: Boundaries
) -> list[float]:
    """Run each query on one fresh connection; each must return one number."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    url = engine_url(source, ctx)
    timeout = report.remaining()
    if url.get_backend_name() == "postgresql":
        connect_args = {
            "connect_timeout": max(1, int(timeout)),
            "options": f"-c statement_timeout={int(timeout * 1000)}",
        }
    elif url.get_backend_name() == "sqlite":
        connect_args = {"timeout": timeout}
        # Read-only, and never create a missing database file by probing it.
        if url.database and url.database != ":memory:":
            url = url.set(database=f"file:{url.database}", query={"mode": "ro", "uri": "true"})
    else:
        connect_args = {}
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            return [as_number(conn.execute(text(q)).scalar(), f"result of {q!r}") for q in queries]
    finally:
        engine.dispose()


def run_db_pool(check: DbPoolCheck, report: Report, ctx: Boundaries) -> None:
    queries = check.queries.model_dump() if check.queries else POSTGRESQL_POOL
    in_use, idle, maximum = scalars(
        check, [queries["in_use"], queries["idle"], queries["max"]], report, ctx
    )
    report.add("db_pool_connections", in_use, state="in_use")
    report.add("db_pool_connections", idle, state="idle")
    report.add("db_pool_max_connections", maximum)
