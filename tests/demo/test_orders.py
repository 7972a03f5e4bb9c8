"""demo/orders.py: the orders file the API and the worker share."""

from __future__ import annotations

from pathlib import Path

from demo.orders import DONE, QUEUED, Orders, integrity_problems


def test_orders_placed_by_the_api_are_worked_off_by_the_worker_through_the_file(
    tmp_path: Path,
) -> None:
    api, worker = Orders(tmp_path / "orders.sqlite3"), Orders(tmp_path / "orders.sqlite3")
    placed = [api.create(f"item-{i}", i + 1, "primary", 100.0 + i) for i in range(7)]
    assert [o.id for o in api.recent(3)] == [p.id for p in placed[-1:-4:-1]]
    assert worker.count(QUEUED) == 7
    assert worker.work_off(5, now=200.0) == 5
    assert api.count(QUEUED) == 2 and api.count(DONE) == 5
    oldest = sorted(api.recent(10), key=lambda o: o.id)
    assert [o.status for o in oldest] == [DONE] * 5 + [QUEUED] * 2
    assert oldest[0].done_at == 200.0 and oldest[-1].done_at is None


def test_a_sound_file_has_no_integrity_problems(tmp_path: Path) -> None:
    orders = Orders(tmp_path / "orders.sqlite3")
    orders.create("widget", 1, "none", 1.0)
    assert orders.integrity_problems() == []


def _filled(path: Path) -> Path:
    orders = Orders(path)
    for i in range(200):
        orders.create("x" * 50, 1, "none", float(i))
    orders.close()
    return path


def test_a_damaged_page_is_reported_not_raised(tmp_path: Path) -> None:
    path = _filled(tmp_path / "orders.sqlite3")
    raw = bytearray(path.read_bytes())
    raw[4096:8192] = b"\xff" * 4096  # page 2, the orders table's root
    path.write_bytes(bytes(raw))
    assert integrity_problems(path), "a garbage page must be found"


def test_garbage_instead_of_a_database_is_a_problem(tmp_path: Path) -> None:
    path = _filled(tmp_path / "orders.sqlite3")
    path.write_bytes(b"this is not a database" * 300)
    (problem,) = integrity_problems(path)
    assert str(path) in problem and "not a database" in problem


def test_a_missing_file_is_a_problem_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "gone.sqlite3"
    assert integrity_problems(path)
    assert not path.exists()
