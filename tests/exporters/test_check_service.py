"""Service checks: real processes, pidfiles and supervisord; systemd and Docker where
the host has them, and their answers replayed where it does not."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from exporters.checks.base import Boundaries


@pytest.fixture
def sleeper(tmp_path):
    """A process with a name no other process has."""
    binary = tmp_path / "rsprobesleep"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    proc = subprocess.Popen([str(binary), "300"])
    yield proc
    proc.kill()
    proc.wait(timeout=10)


@pytest.mark.integration
def test_process_by_name(check, run, sleeper):
    outcome = run(check(kind="service", process_name="rsprobesleep"))
    assert outcome.category is None, outcome.message
    assert outcome.value("probe_service_processes") == 1
    sleeper.kill()
    sleeper.wait(timeout=10)
    outcome = run(check(kind="service", process_name="rsprobesleep"))
    assert outcome.category == "connection"
    assert outcome.value("probe_service_processes") == 0


@pytest.mark.integration
def test_pidfile(check, run, sleeper, tmp_path):
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(f"{sleeper.pid}\n")
    assert run(check(kind="service", pidfile=str(pidfile))).category is None
    sleeper.kill()
    sleeper.wait(timeout=10)
    assert run(check(kind="service", pidfile=str(pidfile))).category == "connection"  # stale


def test_pidfile_missing_or_garbage(check, run, tmp_path):
    assert run(check(kind="service", pidfile=str(tmp_path / "none.pid"))).category == "connection"
    garbage = tmp_path / "garbage.pid"
    garbage.write_text("not-a-pid")
    assert run(check(kind="service", pidfile=str(garbage))).category == "data_integrity"


@pytest.mark.integration
def test_supervisor_program(check, run, supervisord):
    running = check(kind="service", supervisor_program="worker", supervisor_config=str(supervisord))
    stopped = check(
        kind="service", supervisor_program="stopped", supervisor_config=str(supervisord)
    )
    unknown = check(kind="service", supervisor_program="nosuch", supervisor_config=str(supervisord))
    assert run(running, timeout=20).category is None
    assert run(stopped, timeout=20).category == "connection"
    assert run(unknown, timeout=20).category == "connection"


@pytest.mark.integration
def test_supervisor_not_running(check, run, tmp_path):
    conf = tmp_path / "s.conf"
    conf.write_text(f"[supervisorctl]\nserverurl = unix://{tmp_path}/none.sock\n")
    probe = check(kind="service", supervisor_program="worker", supervisor_config=str(conf))
    assert run(probe, timeout=20).category == "connection"


class Replay:
    """A subprocess runner that answers as the real tool did, and records what it ran."""

    def __init__(self, returncode: int, stdout: str = "", stderr: str = "") -> None:
        self.answer = (returncode, stdout, stderr)
        self.argv: list[str] = []

    def __call__(self, argv, timeout):
        self.argv = list(argv)
        code, out, err = self.answer
        return subprocess.CompletedProcess(argv, code, out, err)


@pytest.mark.parametrize(
    ("answer", "category"),
    [
        ((0, "active\n"), None),
        ((3, "inactive\n"), "connection"),
        ((3, "failed\n"), "connection"),
        ((1, "", "Failed to connect to bus: Permission denied\n"), "permission"),
    ],
)
def test_systemd_unit(check, run, answer, category):
    runner = Replay(*answer)
    outcome = run(check(kind="service", systemd_unit="app.service"), ctx=Boundaries(run=runner))
    assert outcome.category == category, outcome.message
    assert runner.argv == ["systemctl", "is-active", "app.service"]


@pytest.mark.integration
def test_systemd_on_this_host(check, run):
    if shutil.which("systemctl") is None:
        pytest.skip("no systemctl here")
    outcome = run(check(kind="service", systemd_unit="recovery-stack-no-such.service"), timeout=20)
    assert outcome.category == "connection"


@pytest.mark.parametrize(
    ("answer", "category"),
    [
        ((0, '{"Status":"running","Running":true}'), None),
        ((0, '{"Status":"running","Running":true,"Health":{"Status":"healthy"}}'), None),
        ((0, '{"Status":"running","Running":true,"Health":{"Status":"unhealthy"}}'), "connection"),
        ((0, '{"Status":"exited","Running":false}'), "connection"),
        ((1, "", "Error: No such object: app\n"), "connection"),
        (
            (1, "", "permission denied while trying to connect to the Docker daemon socket\n"),
            "permission",
        ),
        ((0, "{not json"), "data_integrity"),
    ],
)
def test_docker_container(check, run, answer, category):
    runner = Replay(*answer)
    outcome = run(check(kind="service", docker_container="app"), ctx=Boundaries(run=runner))
    assert outcome.category == category, outcome.message
    assert runner.argv[:2] == ["docker", "inspect"]


def test_missing_tool_is_a_classified_failure(check, run):
    def absent(argv, timeout):
        raise FileNotFoundError(2, "No such file", argv[0])

    outcome = run(check(kind="service", docker_container="app"), ctx=Boundaries(run=absent))
    assert outcome.category == "connection"
    assert "not installed" in outcome.message


def test_hanging_tool_is_a_timeout(check, run):
    def hangs(argv, timeout):
        raise subprocess.TimeoutExpired(argv, timeout)

    outcome = run(check(kind="service", systemd_unit="app.service"), ctx=Boundaries(run=hangs))
    assert outcome.category == "timeout"


def test_exactly_one_target(check):
    with pytest.raises(ValueError, match="exactly one"):
        check(kind="service", process_name="a", systemd_unit="b")
