"""stack.grafana builds the committed dashboards; a stale file fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from boards import DASHBOARD_DIR, ROOT

from stack.grafana.build import main, render, stale, write
from stack.grafana.panels import load_params


def test_the_committed_dashboards_are_what_the_code_builds() -> None:
    outdated = stale(DASHBOARD_DIR, render(load_params()))
    assert outdated == [], f"out of date: {outdated}; run python -m stack.grafana"


def test_a_changed_missing_or_extra_file_is_stale(tmp_path: Path) -> None:
    rendered = render(load_params())
    write(tmp_path, rendered)
    assert stale(tmp_path, rendered) == []
    (tmp_path / "host.json").write_text("{}\n")
    (tmp_path / "alerts.json").unlink()
    (tmp_path / "old.json").write_text("{}\n")
    assert stale(tmp_path, rendered) == ["alerts.json", "host.json", "old.json"]
    write(tmp_path, rendered)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(rendered)


def test_a_threshold_moved_in_params_moves_the_line(tmp_path: Path) -> None:
    params = load_params()
    moved = render({**params, "cpu_busy_threshold": 0.5})
    assert moved["host.json"] != render(params)["host.json"]
    assert '"value": 0.5' in moved["host.json"]


def test_check_exits_1_naming_the_stale_file(tmp_path: Path, capsys) -> None:
    assert main(["--dest", str(tmp_path)]) == 0
    assert main(["--dest", str(tmp_path), "--check"]) == 0
    (tmp_path / "services.json").write_text("{}\n")
    assert main(["--dest", str(tmp_path), "--check"]) == 1
    assert "services.json: out of date" in capsys.readouterr().err


@pytest.mark.integration
def test_python_dash_m_runs_the_builder(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stack.grafana", "--dest", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "alerts.json",
        "host.json",
        "services.json",
    ]
