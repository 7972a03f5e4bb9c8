"""Every component stops on bad configuration with exit 2 and one clear message.

Run as the user would run them: a subprocess, its exit status and its stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.procs import free_port

from stack.ports import SERVICES


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def _assert_clean_exit_2(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("yaml_text", "needles"),
    [
        ("stor:\n  url: sqlite:///x\n", ["stor: unknown key"]),
        ("max_body_bytes: lots\n", ["max_body_bytes", "integer"]),
        ("store: [1, 2\n", ["line 2, column 1: invalid YAML"]),
        ("token: hunter2\n", ["token", "ALERT_WEBHOOK_TOKEN"]),
        ("store:\n  url: mysql://u:hunter2@127.0.0.1/x\n", ["store.url", "sqlite:///"]),
        ("store:\n  url: not a url\n", ["store.url", "postgresql"]),
    ],
)
def test_webhook_bad_config(tmp_path: Path, yaml_text: str, needles: list[str]) -> None:
    config = tmp_path / "webhook.yml"
    config.write_text(yaml_text)
    result = _run("alert_webhook", f"--config={config}", "--check")
    _assert_clean_exit_2(result, str(config), *needles)
    assert "hunter2" not in result.stderr, "a secret never reaches a message"


def test_webhook_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    _assert_clean_exit_2(
        _run("alert_webhook", f"--config={missing}", "--check"), str(missing), "file not found"
    )


def test_webhook_refuses_an_all_whitespace_token() -> None:
    result = _run("alert_webhook", "--check", env={"ALERT_WEBHOOK_TOKEN": "   "})
    _assert_clean_exit_2(result, "ALERT_WEBHOOK_TOKEN", "whitespace")
    assert len(result.stderr.strip().splitlines()) == 1


def test_webhook_with_an_unreachable_store_exits_3_naming_it_in_one_line() -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://alert:hunter2@127.0.0.1:{port}/webhook"
    result = _run(
        "alert_webhook", f"--bind=127.0.0.1:{free_port()}", env={"ALERT_WEBHOOK_DATABASE_URL": url}
    )
    assert result.returncode == 3, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("alert_webhook: store ")
    assert f"127.0.0.1:{port}" in line and "unreachable" in line
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_webhook_refuses_public_bind_without_token() -> None:
    result = _run("alert_webhook", "--bind=0.0.0.0:9", "--check", env={"ALERT_WEBHOOK_TOKEN": ""})
    _assert_clean_exit_2(result, "0.0.0.0", "ALERT_WEBHOOK_TOKEN")
    with_token = _run(
        "alert_webhook", "--bind=0.0.0.0:9", "--check", env={"ALERT_WEBHOOK_TOKEN": "t0ken"}
    )
    assert with_token.returncode == 0, with_token.stderr


def test_stack_bad_port_variable() -> None:
    result = _run("stack", "up", env={"PROMETHEUS_PORT": "ninety"})
    _assert_clean_exit_2(result, "PROMETHEUS_PORT=ninety")


@pytest.mark.parametrize("profile", [[], ["--fast"]])
def test_stack_bad_playbook_file_stops_before_starting(tmp_path: Path, profile: list[str]) -> None:
    playbooks = tmp_path / "playbooks.yml"
    playbooks.write_text("playbooks:\n  - name: x\n    match: {a: b}\n    window: soon\n")
    ports = {service.env_var: str(free_port()) for service in SERVICES}
    result = _run(
        "stack", "up", f"--root={tmp_path}", *profile, f"--playbooks={playbooks}", env=ports
    )
    _assert_clean_exit_2(result, f"make up: {playbooks}: playbooks[0].window:")
    assert not (tmp_path / "var" / "run" / "supervisord.conf").exists(), "nothing started"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (None, "file not found"),
        ("[web]\nmail ansible_host=10.0.0.7 recovery_stack_exporter_port=x\n", "host mail: "),
    ],
)
def test_stack_bad_inventory_stops_before_starting(
    tmp_path: Path, text: str | None, needle: str
) -> None:
    inventory = tmp_path / "hosts"
    if text is not None:
        inventory.write_text(text)
    ports = {service.env_var: str(free_port()) for service in SERVICES}
    result = _run("stack", "up", f"--root={tmp_path}", f"--inventory={inventory}", env=ports)
    _assert_clean_exit_2(result, f"make up: {inventory}: {needle}")
    assert not (tmp_path / "var" / "run" / "supervisord.conf").exists(), "nothing started"


def test_probe_exporter_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "probes.yml"
    config.write_text(
        "checks:\n  - name: x\n    kind: http\n    url: http://127.0.0.1:1/\n"
        "    timeout: -3s\n    colour: red\n"
    )
    result = _run("exporters.probe", "--listen=127.0.0.1:1", f"--config={config}")
    _assert_clean_exit_2(result, str(config), "checks[0]")


def test_system_exporter_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "system.yml"
    config.write_text("colour: red\n")
    result = _run("exporters.system", "--listen=127.0.0.1:1", f"--config={config}")
    _assert_clean_exit_2(result, str(config), "colour")
