"""stack/backups/litestream.py's `follow`: Litestream restarted when a restore
puts another file at a store's path, with fake children and a scripted world."""

from __future__ import annotations

import subprocess
from pathlib import Path

from stack.backups.litestream import KEEP_ASIDE, Identity, follow, identities, new_lineage


class Child:
    def __init__(self, exits: int | None = None, hangs: bool = False) -> None:
        self.exits, self.hangs = exits, hangs
        self.calls: list[str] = []

    def poll(self) -> int | None:
        return self.exits

    def terminate(self) -> None:
        self.calls.append("terminate")

    def kill(self) -> None:
        self.calls.append("kill")
        self.hangs = False

    def wait(self, timeout: float | None = None) -> int:
        if self.hangs:
            raise subprocess.TimeoutExpired("litestream", timeout or 0)
        return 0


class World:
    """Each sleep is one tick: the identity seen at tick N is `identities[N]`."""

    def __init__(self, identities: list[Identity], children: list[Child]) -> None:
        self.ids, self.children, self.tick, self.started = identities, children, 0, []

    def start(self) -> Child:
        child = self.children[len(self.started)]
        self.started.append(child)
        return child

    def identity(self) -> Identity:
        return self.ids[min(self.tick, len(self.ids) - 1)]

    def sleep(self, _seconds: float) -> None:
        self.tick += 1

    def stopping(self) -> bool:
        return self.tick >= len(self.ids)


ORDERS, OTHER = {"/o": (1, 10)}, {"/o": (1, 11)}


def test_a_store_replaced_restarts_litestream_once() -> None:
    first, second = Child(), Child()
    world = World([ORDERS, ORDERS, OTHER, OTHER, OTHER], [first, second])
    assert follow(world.start, world.identity, world.stopping, world.sleep) == 0
    assert world.started == [first, second]
    assert first.calls == ["terminate"]
    assert second.calls == ["terminate"]  # stopped at the end, not restarted again


def test_the_replaced_paths_are_told_between_the_stop_and_the_start() -> None:
    first, second = Child(), Child()
    both, one_replaced = {**ORDERS, "/w": (1, 20)}, {**OTHER, "/w": (1, 20)}
    world = World([both, one_replaced, one_replaced], [first, second])
    told: list[tuple[list[str], list[str], int]] = []

    def replaced(paths: list[str]) -> None:
        told.append((paths, list(first.calls), len(world.started)))

    follow(world.start, world.identity, world.stopping, world.sleep, replaced=replaced)
    assert told == [(["/o"], ["terminate"], 1)]


def test_a_new_lineage_moves_the_replica_aside_and_forgets_the_position(tmp_path: Path) -> None:
    store, replica = tmp_path / "orders.sqlite3", tmp_path / "replica" / "orders"
    (replica / "ltx" / "0").mkdir(parents=True)
    (tmp_path / ".orders.sqlite3-litestream" / "ltx").mkdir(parents=True)
    moved = new_lineage(store, replica, now=lambda: 0.0)
    assert moved == tmp_path / "replica" / "orders.before-19700101T000000Z"
    assert (moved / "ltx" / "0").is_dir()
    assert not replica.exists() and not (tmp_path / ".orders.sqlite3-litestream").exists()
    assert new_lineage(store, replica) is None  # nothing replicated since: nothing to keep


def test_only_the_newest_replicas_aside_are_kept(tmp_path: Path) -> None:
    store, replica = tmp_path / "orders.sqlite3", tmp_path / "replica" / "orders"
    for second in range(KEEP_ASIDE + 2):
        replica.mkdir(parents=True)
        new_lineage(store, replica, now=lambda second=second: float(second))
    kept = sorted(p.name for p in replica.parent.iterdir())
    assert kept == [f"orders.before-19700101T00000{s}Z" for s in range(2, KEEP_ASIDE + 2)]


def test_a_store_missing_for_a_moment_restarts_nothing_until_it_is_back() -> None:
    first, second = Child(), Child()
    world = World([ORDERS, {"/o": None}, {"/o": None}, ORDERS], [first, second])
    follow(world.start, world.identity, world.stopping, world.sleep)
    assert world.started == [first]


def test_litestream_exiting_by_itself_is_its_status_for_supervisord() -> None:
    world = World([ORDERS, ORDERS], [Child(exits=3)])
    assert follow(world.start, world.identity, world.stopping, world.sleep) == 3


def test_a_litestream_that_ignores_sigterm_is_killed() -> None:
    stuck = Child(hangs=True)
    world = World([ORDERS], [stuck])
    follow(world.start, world.identity, world.stopping, world.sleep)
    assert stuck.calls == ["terminate", "kill"]


def test_identities_are_device_and_inode_or_none(tmp_path: Path) -> None:
    there = tmp_path / "orders.sqlite3"
    there.write_bytes(b"x")
    found = identities([there, tmp_path / "gone"])
    assert found == {str(there): (there.stat().st_dev, there.stat().st_ino),
                     str(tmp_path / "gone"): None}  # fmt: skip
    replaced = tmp_path / "new"
    replaced.write_bytes(b"y")
    replaced.replace(there)
    assert identities([there])[str(there)] != found[str(there)]
