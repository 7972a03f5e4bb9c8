"""The Makefile's set-up: `make up` installs what the stack runs on, `make test`
and `make lint` the dev extras too, each only when it has not been done since
pyproject.toml changed. Read from make's dry run (-n) against a throwaway
virtualenv path, so nothing is installed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME = "pip install --quiet -e '.'"
DEV = "pip install --quiet -e '.[dev]'"


pytestmark = pytest.mark.integration


def planned(target: str, venv: Path) -> str:
    # --no-print-directory: under `make test` this make is a sub-make.
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"VENV={venv}"],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def installed(venv: Path, *stamps: str) -> None:
    """The stamps a finished install leaves, newer than pyproject.toml."""
    venv.mkdir(exist_ok=True)
    newer = (REPO / "pyproject.toml").stat().st_mtime + 10
    for stamp in stamps:
        (venv / stamp).touch()
        os.utime(venv / stamp, (newer, newer))


def test_make_up_installs_only_what_the_stack_needs(tmp_path: Path) -> None:
    plan = planned("up", tmp_path / "venv")
    assert RUNTIME in plan and "[dev]" not in plan


@pytest.mark.parametrize("target", ["test", "check", "lint"])
def test_make_test_and_lint_install_the_dev_extras(tmp_path: Path, target: str) -> None:
    assert DEV in planned(target, tmp_path / "venv")


def test_make_test_after_make_up_still_installs_the_dev_extras(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    installed(venv, ".installed")  # what `make up` left
    assert RUNTIME not in planned("up", venv)
    assert DEV in planned("test", venv)


def test_make_up_after_make_test_installs_nothing_again(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    installed(venv, ".installed", ".installed-dev")  # what `make test` left
    for target in ("up", "test", "lint"):
        assert "pip install" not in planned(target, venv), target


def test_make_up_hands_the_inventory_to_the_stack(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    installed(venv, ".installed")
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "up", f"VENV={venv}", "INVENTORY=var/hosts.yml"],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "--inventory 'var/hosts.yml'" in done.stdout, done.stdout + done.stderr
    assert "--inventory" not in planned("up", venv)


def test_make_up_hosts_passes_the_demo_fleet_to_the_launcher(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "up", "HOSTS=3", "FAST=1", f"VENV={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "-m stack up --fast --hosts 3" in done.stdout


def test_make_up_drills_turns_the_drill_schedule_on(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "up", "DRILLS=plan", f"VENV={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "STACK_DRILL_SCHEDULE='plan' " in done.stdout
    assert "STACK_DRILL_SCHEDULE" not in planned("up", tmp_path)
