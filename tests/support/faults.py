"""Real faults for the chaos tests: a host behind a link that can be cut, and a small
filesystem that can be filled.

`isolated_host()` makes a network namespace joined to this one by a veth pair: a
host of its own at `address`, where a test starts a server with `host.argv(...)`.
`cut()` takes the link down inside the namespace; the address keeps a permanent
neighbour entry, so packets to it are sent into the dead link and lost — a
client's connection attempt hangs until its own timeout, as across a real
partition, rather than being refused. `mend()` brings the link back.

`small_filesystem()` loop-mounts a fresh ext4 image of a few MiB; filling it
drives a real filesystem past the disk threshold without touching the machine's.

Both need root (or the capabilities): where the kernel refuses, they raise
`FaultUnavailable` with the reason, for the test to skip with it. Everything
made is removed on the way out, whatever the test did.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

_names = itertools.count()


class FaultUnavailable(Exception):
    """This machine cannot make the fault (no root, no netns, no loop devices)."""


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)


def _must(argv: Sequence[str]) -> str:
    done = _run(argv)
    if done.returncode != 0:
        raise FaultUnavailable(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


@dataclass(frozen=True)
class IsolatedHost:
    namespace: str
    host_link: str  # this side of the veth pair
    inner_link: str  # the namespace's side
    address: str  # the namespace's address, reachable from here while the link is up

    def argv(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def cut(self) -> None:
        _must(self.argv(["ip", "link", "set", self.inner_link, "down"]))

    def mend(self) -> None:
        _must(self.argv(["ip", "link", "set", self.inner_link, "up"]))


def _free_subnet() -> int:
    """A 10.213.N.0/30 no interface here uses yet."""
    taken = _run(["ip", "-o", "-4", "addr", "show"]).stdout
    for n in range(256):
        if f"10.213.{n}." not in taken:
            return n
    raise FaultUnavailable("no free 10.213.N.0/30 subnet for a veth pair")


@contextlib.contextmanager
def isolated_host() -> Iterator[IsolatedHost]:
    if shutil.which("ip") is None:
        raise FaultUnavailable("no `ip` command (Debian: iproute2)")
    tag = f"{os.getpid() % 100000}{next(_names)}"
    host = IsolatedHost(f"rs-chaos-{tag}", f"rsh{tag}", f"rsn{tag}", "")
    _must(["ip", "netns", "add", host.namespace])
    try:
        _must(
            ["ip", "link", "add", host.host_link, "type", "veth", "peer", "name", host.inner_link]
        )
        _must(["ip", "link", "set", host.inner_link, "netns", host.namespace])
        net = _free_subnet()
        outer, inner = f"10.213.{net}.1", f"10.213.{net}.2"
        _must(["ip", "addr", "add", f"{outer}/30", "dev", host.host_link])
        _must(["ip", "link", "set", host.host_link, "up"])
        _must(host.argv(["ip", "addr", "add", f"{inner}/30", "dev", host.inner_link]))
        _must(host.argv(["ip", "link", "set", host.inner_link, "up"]))
        _must(host.argv(["ip", "link", "set", "lo", "up"]))
        mac = _must(host.argv(["cat", f"/sys/class/net/{host.inner_link}/address"])).strip()
        # Known for good: with the link cut, packets go into it and are lost, rather
        # than failing fast once the address stops answering ARP.
        _must(["ip", "neigh", "replace", inner, "lladdr", mac, "dev", host.host_link,
               "nud", "permanent"])  # fmt: skip
        yield IsolatedHost(host.namespace, host.host_link, host.inner_link, inner)
    finally:
        for pid in _run(["ip", "netns", "pids", host.namespace]).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
        _run(["ip", "netns", "del", host.namespace])
        _run(["ip", "link", "del", host.host_link])  # gone with the namespace, usually


@contextlib.contextmanager
def small_filesystem(size_mib: int = 16) -> Iterator[Path]:
    """A fresh ext4 filesystem of `size_mib` MiB, mounted; yields its mount point."""
    if shutil.which("mkfs.ext4") is None:
        raise FaultUnavailable("no mkfs.ext4 (Debian: e2fsprogs)")
    with tempfile.TemporaryDirectory(prefix="rs-fs-") as scratch:
        image, mount = Path(scratch) / "disk.img", Path(scratch) / "mnt"
        mount.mkdir()
        with image.open("wb") as handle:
            handle.truncate(size_mib * 1024 * 1024)
        _must(["mkfs.ext4", "-q", "-m", "0", str(image)])
        _must(["mount", "-o", "loop", str(image), str(mount)])
        try:
            yield mount
        finally:
            _run(["umount", "-l", str(mount)])


def fill(mount: Path, leave_free: float, name: str = "filler.bin") -> Path:
    """Write one file until `leave_free` (0..1) of the filesystem is free."""
    usage = shutil.disk_usage(mount)
    size = max(0, usage.free - int(usage.total * leave_free))
    path = mount / name
    with path.open("wb") as handle:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            written = handle.write(chunk[: min(size, len(chunk))])
            size -= written
        handle.flush()
        os.fsync(handle.fileno())
    return path
