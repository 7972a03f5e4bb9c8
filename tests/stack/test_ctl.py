"""`python -m stack ctl`: supervisorctl against the run's own configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stack.ctl import ctl, ctl_argv
from stack.ports import StackError
from stack.supervisor import Layout


def test_supervisorctl_reads_the_runs_own_config(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    argv = ctl_argv(layout, ["restart", "demo"], python="/venv/bin/python")
    assert argv == [
        "/venv/bin/python",
        "-m",
        "supervisor.supervisorctl",
        "-c",
        str(tmp_path / "var" / "run" / "supervisord.conf"),
        "restart",
        "demo",
    ]


def test_without_a_stack_it_says_so(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="run `make up` first"):
        ctl(Layout(tmp_path), ["status"])


@pytest.mark.integration
def test_the_command_line_exits_1_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stack", "ctl", f"--root={tmp_path}", "status"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("stack ctl: no stack started from")
    assert "Traceback" not in done.stderr
