"""Finding Litestream and PostgreSQL's programs: what is named first, then the
usual places, each one a parameter here so the tests build their own."""

from __future__ import annotations

from pathlib import Path

from toolkit.programs import find_litestream, find_postgresql_program, newest_postgresql_bin


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_a_named_litestream_wins_as_written(tmp_path: Path) -> None:
    _executable(tmp_path / "venv" / "litestream")
    assert find_litestream("/opt/ls/litestream", tmp_path / "venv") == "/opt/ls/litestream"


def test_litestream_beside_python_comes_before_path(tmp_path: Path) -> None:
    beside = _executable(tmp_path / "venv" / "litestream")
    _executable(tmp_path / "bin" / "litestream")
    assert find_litestream(None, tmp_path / "venv", str(tmp_path / "bin")) == str(beside)


def test_litestream_on_path_else_none(tmp_path: Path) -> None:
    on_path = _executable(tmp_path / "bin" / "litestream")
    assert find_litestream("", tmp_path / "venv", str(tmp_path / "bin")) == str(on_path)
    assert find_litestream(None, tmp_path / "venv", str(tmp_path / "empty")) is None


def test_the_newest_version_by_number_not_by_name(tmp_path: Path) -> None:
    for version in ("9", "15", "16", "main"):
        _executable(tmp_path / version / "bin" / "pg_dump")
    _executable(tmp_path / "17" / "bin" / "psql")  # no pg_dump in 17
    assert newest_postgresql_bin("pg_dump", tmp_path) == tmp_path / "16" / "bin"
    assert newest_postgresql_bin("pg_restore", tmp_path) is None


def test_pg_bin_then_the_newest_version_then_the_bare_name(tmp_path: Path) -> None:
    _executable(tmp_path / "15" / "bin" / "pg_restore")
    named = {"PG_BIN": "/opt/pg/bin"}
    assert find_postgresql_program("pg_restore", named, tmp_path) == "/opt/pg/bin/pg_restore"
    assert find_postgresql_program("pg_restore", {}, tmp_path) == str(
        tmp_path / "15" / "bin" / "pg_restore"
    )
    nowhere = "pg_restore-that-is-nowhere"
    assert find_postgresql_program(nowhere, {}, tmp_path / "none") == nowhere
