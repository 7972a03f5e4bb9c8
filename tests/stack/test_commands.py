"""`python -m stack`: one command line; its --help names every command it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stack.backups.cli import COMMANDS

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.integration


def run_stack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", *args],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_help_lists_every_command() -> None:
    done = run_stack("--help")
    assert done.returncode == 0, done.stderr
    listed = done.stdout
    for command in ("up", "ctl", *COMMANDS):
        assert f"\n    {command} " in listed or f"\n    {command}\n" in listed, (command, listed)
    assert "python -m stack.grafana" in listed  # the dashboards' generator, a module of its own


def test_a_backup_command_still_takes_its_own_arguments() -> None:
    done = run_stack("restore", "--help")
    assert done.returncode == 0, done.stderr
    assert "--to-time" in done.stdout and "--source" in done.stdout


def test_an_unknown_command_is_one_usage_error_naming_the_commands() -> None:
    done = run_stack("frobnicate")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "verify-backups" in done.stderr
