"""The integrity check on real SQLite files: sound, a garbage page, not a database,
missing, locked."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


def _filled(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
        conn.execute("CREATE INDEX ix_item ON orders (item)")
        conn.executemany("INSERT INTO orders (item) VALUES (?)", [("x" * 50,)] * 200)
    conn.close()
    return path


def integrity(check, path: Path):
    return check(kind="integrity", sqlite=str(path))


def test_a_sound_file_passes_with_no_problems(check, run, tmp_path) -> None:
    outcome = run(integrity(check, _filled(tmp_path / "orders.sqlite3")))
    assert outcome.category is None, outcome.message
    assert outcome.value("integrity_check_problems") == 0


def test_a_garbage_page_is_a_data_integrity_failure_naming_the_file(check, run, tmp_path) -> None:
    path = _filled(tmp_path / "orders.sqlite3")
    raw = bytearray(path.read_bytes())
    raw[4096:8192] = b"\xff" * 4096  # page 2: the orders table's root
    path.write_bytes(bytes(raw))
    outcome = run(integrity(check, path))
    assert outcome.category == "data_integrity"
    assert str(path) in outcome.message


def test_a_damaged_index_is_found_too(check, run, tmp_path) -> None:
    path = _filled(tmp_path / "orders.sqlite3")
    with sqlite3.connect(path) as conn:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'ix_item'"
        ).fetchone()
    conn.close()
    raw = bytearray(path.read_bytes())
    start = (root - 1) * 4096
    raw[start + 8 : start + 4096] = bytes(4088)  # the index page's cells, zeroed
    path.write_bytes(bytes(raw))
    outcome = run(integrity(check, path))
    assert outcome.category == "data_integrity"
    assert "ix_item" in outcome.message or "malformed" in outcome.message, outcome.message


def test_garbage_instead_of_a_database(check, run, tmp_path) -> None:
    path = tmp_path / "orders.sqlite3"
    path.write_bytes(b"this is not a database" * 300)
    outcome = run(integrity(check, path))
    assert outcome.category == "data_integrity"
    assert "not a database" in outcome.message


def test_a_missing_file_fails_and_is_not_created(check, run, tmp_path) -> None:
    path = tmp_path / "gone.sqlite3"
    outcome = run(integrity(check, path))
    assert (outcome.category, outcome.message) == (
        "data_integrity",
        f"{path}: no such database file",
    )
    assert not path.exists()


def test_a_file_locked_past_the_timeout_is_a_timeout(check, run, tmp_path) -> None:
    path = _filled(tmp_path / "orders.sqlite3")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        outcome = run(integrity(check, path), timeout=0.3)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert outcome.category == "timeout", outcome.message


def test_the_check_needs_a_file(check) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="sqlite"):
        check(kind="integrity")
