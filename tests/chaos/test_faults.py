"""The fault injectors themselves: a cut link hangs connections, a filled disk is full,
and neither outlives its test."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from support.faults import FaultUnavailable, fill, isolated_host, small_filesystem
from support.procs import free_port, python_module, running


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_a_cut_link_hangs_connections_and_a_mended_one_answers_again(
    partitionable_host, tmp_path
) -> None:
    host = partitionable_host
    port = free_port()
    base = f"http://{host.address}:{port}"
    bind = f"{host.address}:{port}"
    argv = host.argv(python_module("demo", "dependency", "--name", "primary", "--bind", bind))
    with running("primary", argv, tmp_path, ready_url=f"{base}/healthz"):
        host.cut()
        for _ in range(2):  # the second attempt too: no fast failure once ARP gives up
            with pytest.raises(requests.ConnectTimeout):
                requests.get(f"{base}/healthz", timeout=0.5)
        host.mend()
        assert requests.get(f"{base}/healthz", timeout=5).json()["instance"] == "primary"


def test_the_namespace_and_its_processes_are_gone_afterwards(tmp_path) -> None:
    try:
        with isolated_host() as host:
            sleeper = subprocess.Popen(host.argv(["sleep", "600"]))
            assert host.namespace in _namespaces()
    except FaultUnavailable as exc:
        pytest.skip(f"network namespaces are not allowed here: {exc}")
    assert host.namespace not in _namespaces()
    assert sleeper.wait(5) != 0  # killed with the namespace


def test_a_small_disk_fills_past_the_threshold_and_is_unmounted_after() -> None:
    try:
        with small_filesystem() as mount:
            fill(mount, leave_free=0.05)
            usage = shutil.disk_usage(mount)
            assert usage.free / usage.total < 0.10
            assert str(mount) in Path("/proc/mounts").read_text()
    except FaultUnavailable as exc:
        pytest.skip(f"loop-mounting a filesystem is not allowed here: {exc}")
    assert str(mount) not in Path("/proc/mounts").read_text()
