"""Task queue depth, from whichever place the queue lives: a JSON field served over
HTTP, a SQL scalar, a Redis list, or a directory of files (one file per task).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, model_validator

from exporters.categories import Category, ProbeFailure, classify_http_status
from exporters.checks import http
from exporters.checks.base import Boundaries, CheckBase, EnvVar, Report, as_number, json_field
from exporters.checks.sql import SqlScalar, scalars
from toolkit.config import Strict


class HttpJsonSource(Strict):
    url: AnyHttpUrl
    field: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    auth: http.HttpAuth | None = None


class RedisSource(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=6379, ge=1, le=65535)
    key: str = Field(min_length=1)
    db: int = Field(default=0, ge=0)
    password_env: EnvVar | None = None


class DirectorySource(Strict):
    path: Path
    pattern: str = "*"


class QueueCheck(CheckBase):
    kind: Literal["queue"]
    http_json: HttpJsonSource | None = None
    sql: SqlScalar | None = None
    redis: RedisSource | None = None
    directory: DirectorySource | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> QueueCheck:
        named = [
            s for s in ("http_json", "sql", "redis", "directory") if getattr(self, s) is not None
        ]
        if len(named) != 1:
            raise ValueError("name exactly one source: http_json, sql, redis or directory")
        return self

    def secret_vars(self) -> list[tuple[str, str]]:
        found = []
        for source in ("sql", "redis"):
            var = getattr(getattr(self, source), "password_env", None)
            if var:
                found.append((f"{source}.password_env", var))
        if self.http_json and self.http_json.auth:
            for key in ("password_env", "bearer_token_env"):
                if var := getattr(self.http_json.auth, key):
                    found.append((f"http_json.auth.{key}", var))
        return found

    def instance(self) -> str:
        if self.http_json is not None:
            return str(self.http_json.url)
        if self.sql is not None:
            return self.sql.dsn
        if self.redis is not None:
            return f"{self.redis.host}:{self.redis.port}"
        assert self.directory is not None
        return str(self.directory.path)


def _http_json(source: HttpJsonSource, report: Report, ctx: Boundaries) -> float:
    request = http.HttpCheck(
        name="queue", kind="http", url=source.url, headers=source.headers, auth=source.auth
    )
    status, body = http.fetch(request, report, ctx)
    if not 200 <= status < 300:
        raise ProbeFailure(classify_http_status(status), f"HTTP status {status}")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProbeFailure(Category.DATA_INTEGRITY, f"invalid JSON: {exc}") from None
    return as_number(json_field(document, source.field), f"JSON field {source.field!r}")


def _redis_command(sock: socket.socket, *args: str) -> bytes:
    """One command in RESP, the Redis protocol; returns the raw first reply line."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    sock.sendall(payload.encode())
    reply = sock.makefile("rb").readline()
    if not reply:
        raise ConnectionResetError("redis closed the connection")
    return reply.rstrip(b"\r\n")


def _redis_error(reply: bytes) -> ProbeFailure:
    message = reply[1:].decode(errors="replace")
    if message.startswith(("NOAUTH", "WRONGPASS")):
        return ProbeFailure(Category.AUTHENTICATION, message)
    if message.startswith("NOPERM"):
        return ProbeFailure(Category.PERMISSION, message)
    if message.startswith("OOM"):
        return ProbeFailure(Category.RESOURCE_EXHAUSTION, message)
    return ProbeFailure(Category.DATA_INTEGRITY, message)


def _redis(source: RedisSource, report: Report, ctx: Boundaries) -> float:
    with ctx.create_connection((source.host, source.port), timeout=report.remaining()) as sock:
        commands = []
        if source.password_env:
            commands.append(("AUTH", ctx.secret(source.password_env)))
        if source.db:
            commands.append(("SELECT", str(source.db)))
        for command in commands:
            if (reply := _redis_command(sock, *command)).startswith(b"-"):
                raise _redis_error(reply)
        reply = _redis_command(sock, "LLEN", source.key)
    if reply.startswith(b"-"):
        raise _redis_error(reply)
    if not reply.startswith(b":"):
        raise ProbeFailure(Category.DATA_INTEGRITY, f"unexpected reply {reply[:40]!r}")
    return float(reply[1:])


def _directory(source: DirectorySource) -> float:
    if not source.path.is_dir():
        raise ProbeFailure(Category.CONNECTION, f"queue directory {source.path} does not exist")
    return float(sum(1 for entry in source.path.glob(source.pattern) if entry.is_file()))


def run(check: QueueCheck, report: Report, ctx: Boundaries) -> None:
    if check.http_json is not None:
        depth = _http_json(check.http_json, report, ctx)
    elif check.sql is not None:
        depth = scalars(check.sql, [check.sql.query], report, ctx)[0]
    elif check.redis is not None:
        depth = _redis(check.redis, report, ctx)
    else:
        assert check.directory is not None
        depth = _directory(check.directory)
    report.add("task_queue_depth", depth, queue=check.name)
