"""Real peers on loopback for the exporter tests, and a fake clock for the scheduler."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.procs import wait_until

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "exporters"


class FakeClock:
    """monotonic() and wall() that move only when a test says so."""

    def __init__(self, start: float = 1000.0, wall_start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall_start - start

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class TargetHandler(http.server.BaseHTTPRequestHandler):
    """Answers by path: the shapes of trouble an HTTP probe must classify."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in ("/ok", "/healthz"):
            self._send(200, json.dumps({"status": "ok", "queue": {"depth": 7}}).encode())
        elif path == "/auth":
            if self.headers.get("Authorization") == "Bearer s3cret":
                self._send(200, b'{"status": "ok"}')
            else:
                self._send(401, b'{"error": "unauthorized"}')
        elif path.strip("/").isdigit():
            self._send(int(path.strip("/")), b'{"status": "error"}')
        elif path == "/slow":
            time.sleep(2)
            self._send(200, b'{"status": "ok"}')
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/loop":
            self.send_response(301)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/badjson":
            self._send(200, b'{"status": "ok"', "application/json")
        elif path == "/degraded":
            self._send(200, b'{"status": "degraded", "queue": {"depth": "many"}}')
        elif path == "/close":  # promises 100 bytes, sends 3, hangs up
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif path == "/hangup":  # closes without a word
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif path == "/garbage":
            self.wfile.write(b"this is not HTTP\r\n\r\n")
            self.close_connection = True
        else:
            self._send(404, b"{}")


@dataclass
class Target:
    host: str
    port: int
    scheme: str = "http"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # probes hang up on slow answers on purpose


def _serve(context: ssl.SSLContext | None = None) -> Iterator[Target]:
    server = _Server(("127.0.0.1", 0), TargetHandler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Target("127.0.0.1", server.server_address[1], "https" if context else "http")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def http_target() -> Iterator[Target]:
    yield from _serve()


@dataclass
class Certs:
    ca_file: Path
    valid: ssl.SSLContext
    expired: ssl.SSLContext
    valid_not_after: float
    expired_not_after: float


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    not_after: dt.datetime,
    ca: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - dt.timedelta(days=400))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


def _server_context(
    tmp: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> ssl.SSLContext:
    cert_file, key_file = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A test CA, a valid server certificate it signed, and one that expired yesterday."""
    tmp = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recovery-stack test CA")])
    ca = _certificate(
        "recovery-stack test CA", ca_key, ca_name, ca_key, now + dt.timedelta(days=365), ca=True
    )
    (tmp / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    valid_after = now + dt.timedelta(days=90)
    expired_after = now - dt.timedelta(days=1)
    server_key = ec.generate_private_key(ec.SECP256R1())
    valid = _certificate("127.0.0.1", server_key, ca_name, ca_key, valid_after)
    expired = _certificate("127.0.0.1", server_key, ca_name, ca_key, expired_after)
    return Certs(
        tmp / "ca.crt",
        _server_context(tmp, "valid", valid, server_key),
        _server_context(tmp, "expired", expired, server_key),
        valid_after.timestamp(),
        expired_after.timestamp(),
    )


@pytest.fixture(scope="session")
def tls_target(certs: Certs) -> Iterator[Target]:
    yield from _serve(certs.valid)


@pytest.fixture(scope="session")
def expired_tls_target(certs: Certs) -> Iterator[Target]:
    yield from _serve(certs.expired)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Outcome:
    category: str | None
    message: str
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, tuple(sorted(labels.items()))))


def run_check(check: object, timeout: float = 2.0, ctx: object | None = None) -> Outcome:
    """One run of `check` the way the scheduler runs it: failures come back classified."""
    from exporters.categories import classify
    from exporters.checks import default_runners
    from exporters.checks.base import Boundaries, Report

    ctx = ctx or Boundaries()
    report = Report(timeout, ctx.monotonic)  # type: ignore[attr-defined]
    category, message = None, ""
    try:
        default_runners()[check.kind](check, report, ctx)  # type: ignore[attr-defined]
    except Exception as exc:
        category, message = classify(exc).value, str(exc)
    return Outcome(category, message, {(s.name, s.labels): s.value for s in report.samples})


@pytest.fixture
def run() -> object:
    return run_check


def make_check(**fields: object) -> object:
    """A check model from probe-file fields, validated like the file is."""
    from pydantic import TypeAdapter

    from exporters.probe_config import Check

    return TypeAdapter(Check).validate_python({"name": "t", **fields})


@pytest.fixture
def check() -> object:
    return make_check


PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


@dataclass
class Postgres:
    port: int
    socket_dir: Path
    password: str = "monitor-pw"

    def dsn(self, user: str = "monitor") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/app"

    def admin(self) -> object:
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname="app",
            autocommit=True,
        )


def _as_postgres(argv: list[str]) -> list[str]:
    return argv if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL on a free loopback port; skipped only where it is not installed.

    It runs as the `postgres` user when the tests run as root (postgres refuses root).
    max_connections is tiny so a test can exhaust it.
    """
    import pwd

    from support.procs import free_port, wait_until

    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} (set PG_BIN)")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL")
    # Not under pytest's tmp dir: that is private to root, and postgres must reach it.
    base = Path(tempfile.mkdtemp(prefix="recovery-stack-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        os.chmod(base, 0o755)
        for path in (base, sock):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=6 -c fsync=off"
    log = base / "pg.log"
    if os.geteuid() == 0:
        log.touch()
        os.chown(log, owner.pw_uid, owner.pw_gid)
    ctl = str(PG_BIN / "pg_ctl")
    subprocess.run(
        _as_postgres([ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    pg = Postgres(port, sock)
    try:
        import psycopg

        wait_until(
            lambda: bool(
                psycopg.connect(host=str(sock), port=port, user="postgres").close() or True
            ),
            30,
            "PostgreSQL",
        )
        with psycopg.connect(host=str(sock), port=port, user="postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE app")
        with pg.admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{pg.password}'")
            conn.execute("GRANT pg_monitor TO monitor")
            conn.execute("CREATE TABLE jobs (id serial primary key, state text)")
            conn.execute("INSERT INTO jobs (state) VALUES ('queued'), ('queued'), ('done')")
            conn.execute("CREATE TABLE secrets (x int)")
            conn.execute("GRANT SELECT ON jobs TO monitor")
        yield pg
    finally:
        subprocess.run(
            _as_postgres([ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def supervisord(tmp_path):
    """A real supervisord with `worker` running and `stopped` not; yields its config,
    whose socket is `supervisor.sock` beside it."""
    sock = tmp_path / "supervisor.sock"
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        textwrap.dedent(
            f"""
            [unix_http_server]
            file = {sock}
            [supervisord]
            logfile = {tmp_path}/supervisord.log
            pidfile = {tmp_path}/supervisord.pid
            nodaemon = true
            [rpcinterface:supervisor]
            supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
            [supervisorctl]
            serverurl = unix://{sock}
            [program:worker]
            command = sleep 300
            startsecs = 0
            [program:stopped]
            command = sleep 300
            autostart = false
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status = [
            sys.executable,
            "-m",
            "supervisor.supervisorctl",
            "-c",
            str(conf),
            "status",
            "worker",
        ]
        wait_until(
            lambda: "RUNNING" in subprocess.run(status, capture_output=True, text=True).stdout,
            30,
            "supervisord to start worker",
        )
        yield conf
    finally:
        proc.terminate()
        proc.wait(timeout=20)
