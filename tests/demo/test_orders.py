"""demo/orders.py: the orders file the API and the worker share."""

from __future__ import annotations

from pathlib import Path

from demo.orders import DONE, QUEUED, Orders


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
