"""stack/backups/litestream.py's `follow`: Litestream restarted when a restore
puts another file at a store's path, with fake children and a scripted world."""

from __future__ import annotations

import subprocess
from pathlib import Path

from stack.backups.litestream import Identity, follow, identities


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
