"""SQLite's integrity check and online backup on real files: sound, a garbage
page, not a database, missing; never creating or writing the file checked."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from toolkit.sqlite import integrity_check, online_backup


def _filled(path: Path, rows: int = 200) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
        db.executemany("INSERT INTO orders (item) VALUES (?)", [(f"item{i}",) for i in range(rows)])
        db.execute("CREATE INDEX ix_item ON orders (item)")
    return path


def _count(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT count(*) FROM orders").fetchone()[0])


def test_a_sound_database_has_no_problems(tmp_path: Path) -> None:
    assert integrity_check(_filled(tmp_path / "orders.sqlite3")) == []


def test_a_garbled_index_page_is_reported_in_sqlites_words(tmp_path: Path) -> None:
    path = _filled(tmp_path / "orders.sqlite3")
    with contextlib.closing(sqlite3.connect(path)) as db:
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ix_item'").fetchone()
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    raw = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    raw[start + 100 : start + page_size] = bytes(page_size - 100)  # the index's cells
    path.write_bytes(bytes(raw))
    problems = integrity_check(path)
    assert problems and f"On tree page {root} " in problems[0]


def test_a_file_that_is_not_a_database_raises(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(b"not a database, just some text " * 200)
    with pytest.raises(sqlite3.DatabaseError):
        integrity_check(path)


def test_a_missing_file_raises_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.sqlite3"
    with pytest.raises(sqlite3.OperationalError):
        integrity_check(path)
    assert not path.exists()


def test_the_checked_file_is_left_byte_for_byte(tmp_path: Path) -> None:
    path = _filled(tmp_path / "orders.sqlite3")
    before = path.read_bytes()
    integrity_check(path)
    assert path.read_bytes() == before


def test_online_backup_copies_a_sound_database_while_its_source_is_open(tmp_path: Path) -> None:
    source = _filled(tmp_path / "orders.sqlite3", rows=50)
    with contextlib.closing(sqlite3.connect(source)) as writer:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("INSERT INTO orders (item) VALUES ('in the WAL')")
        writer.commit()
        online_backup(source, tmp_path / "copy.sqlite3")
    assert _count(tmp_path / "copy.sqlite3") == 51
    assert integrity_check(tmp_path / "copy.sqlite3") == []


def test_online_backup_of_a_missing_source_raises_and_creates_no_source(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.Error):
        online_backup(tmp_path / "missing.sqlite3", tmp_path / "copy.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()
