"""The chaos results file and the table `make chaos` prints from it."""

from __future__ import annotations

from pathlib import Path

from chaos.results import RESULTS_ENV, Result, read, record
from chaos.table import format_table, main


def test_a_result_goes_to_the_file_the_variable_names(tmp_path: Path) -> None:
    path = tmp_path / "chaos" / "results.jsonl"
    env = {RESULTS_ENV: str(path)}
    first = record("single service kill (demo)", 7.4321, 300.0, env=env, clock=100.0)
    second = record("data corruption", 21.0, 300.0, 0.8, 60.0, env=env, clock=200.0)
    assert first == Result("single service kill (demo)", 7.432, 300.0, None, None, 100.0)
    assert read(path) == [first, second]


def test_without_the_variable_nothing_is_written(tmp_path: Path) -> None:
    result = record("single service kill (demo)", 7.0, 300.0, env={}, clock=1.0)
    assert result.recovery_seconds == 7.0
    assert list(tmp_path.iterdir()) == []
    assert read(tmp_path / "absent.jsonl") == []


def test_the_table_shows_each_result_against_the_plan() -> None:
    table = format_table(
        [
            Result("single service kill (demo)", 7.432, 300.0),
            Result("data corruption", 21.0, 900.0, 0.8, 60.0),
        ]
    )
    assert table.splitlines() == [
        "scenario                    recovery time  plan RTO  data lost  plan RPO",
        "--------------------------  -------------  --------  ---------  --------",
        "single service kill (demo)  7.4 s          5 min     -          -",
        "data corruption             21.0 s         15 min    0.8 s      1 min",
    ]


def test_the_script_says_when_there_is_nothing_to_show(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "absent.jsonl")]) == 1
    assert "no chaos results" in capsys.readouterr().err
    assert main([]) == 2
