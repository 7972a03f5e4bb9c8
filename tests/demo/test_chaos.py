"""The chaos switches (demo/chaos.py): the memory hog holds what it is told, within
its bound, until it is set to 0, reset, or the process ends."""

from __future__ import annotations

import psutil
import pytest

from demo.chaos import MAX_MEMORY_HOG_MIB, Chaos, ChaosError

MIB = 1 << 20


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def test_the_memory_hog_holds_resident_memory_until_reset() -> None:
    chaos = Chaos()
    before = rss()
    chaos.update({"memory_hog_mib": 64})
    # Resident, not just reserved: the pages are written, so the kernel counts them.
    assert rss() - before >= 60 * MIB
    assert chaos.as_json()["memory_hog_mib"] == 64
    chaos.reset()
    assert rss() - before < 16 * MIB
    assert chaos.as_json()["memory_hog_mib"] == 0


def test_the_memory_hog_follows_each_new_size() -> None:
    chaos = Chaos()
    before = rss()
    chaos.update({"memory_hog_mib": 48})
    chaos.update({"memory_hog_mib": 16})
    assert 12 * MIB <= rss() - before < 40 * MIB
    chaos.update({"memory_hog_mib": 0})
    assert rss() - before < 16 * MIB


def test_the_memory_hog_is_bounded_and_a_refused_setting_changes_nothing() -> None:
    chaos = Chaos()
    with pytest.raises(ChaosError) as raised:
        chaos.update({"error_ratio": 0.5, "memory_hog_mib": MAX_MEMORY_HOG_MIB + 1})
    assert str(raised.value) == f"memory_hog_mib: must be a number from 0 to {MAX_MEMORY_HOG_MIB}"
    assert chaos.as_json() == {"latency_seconds": 0.0, "error_ratio": 0.0, "memory_hog_mib": 0.0}
