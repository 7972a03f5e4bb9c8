"""The chaos switches (demo/chaos.py): the memory hog holds what it is told, within
its bound, until it is set to 0, reset, or the process ends."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from demo.chaos import MAX_MEMORY_HOG_MIB, Chaos, ChaosError

MIB = 1 << 20
REPO = Path(__file__).resolve().parents[2]
# Each measurement in a Python of its own: the suite's own heap, growing and
# freed around it, would move this process's resident size by more than a hog.
MEASURE = """
import json, sys
import psutil
from demo.chaos import Chaos
chaos, process = Chaos(), psutil.Process()
before, grown = process.memory_info().rss, []
for step in json.loads(sys.argv[1]):
    chaos.reset() if step is None else chaos.update(step)
    grown.append(process.memory_info().rss - before)
print(json.dumps(grown))
"""


def grown(*steps: dict[str, float] | None) -> list[int]:
    """How much more is resident after each step (an update, or None: reset)."""
    argv = [sys.executable, "-c", MEASURE, json.dumps(steps)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    return [int(n) for n in json.loads(done.stdout)]


@pytest.mark.integration
def test_the_memory_hog_holds_resident_memory_until_reset() -> None:
    # Resident, not just reserved: the pages are written, so the kernel counts them.
    held, after_reset = grown({"memory_hog_mib": 64}, None)
    assert held >= 60 * MIB
    assert after_reset < 16 * MIB
    chaos = Chaos()
    chaos.update({"memory_hog_mib": 64})
    assert chaos.as_json()["memory_hog_mib"] == 64
    chaos.reset()
    assert chaos.as_json()["memory_hog_mib"] == 0


@pytest.mark.integration
def test_the_memory_hog_follows_each_new_size() -> None:
    _big, smaller, none = grown(
        {"memory_hog_mib": 48}, {"memory_hog_mib": 16}, {"memory_hog_mib": 0}
    )
    assert 12 * MIB <= smaller < 40 * MIB
    assert none < 16 * MIB


def test_the_memory_hog_is_bounded_and_a_refused_setting_changes_nothing() -> None:
    chaos = Chaos()
    with pytest.raises(ChaosError) as raised:
        chaos.update({"error_ratio": 0.5, "memory_hog_mib": MAX_MEMORY_HOG_MIB + 1})
    assert str(raised.value) == f"memory_hog_mib: must be a number from 0 to {MAX_MEMORY_HOG_MIB}"
    assert chaos.as_json() == {
        "latency_seconds": 0.0,
        "error_ratio": 0.0,
        "memory_hog_mib": 0.0,
        "cpu_hog": 0.0,
    }


def test_slowness_and_failures_kept_in_a_file_survive_a_restart_but_a_leak_does_not(
    tmp_path: Path,
) -> None:
    # README's Try it: a restart is the plan's answer to a slow service, and it must
    # be able to fail. The switches written to the file are what a new process reads.
    path = tmp_path / "chaos.json"
    before = Chaos(path)
    before.update({"latency_seconds": 6, "error_ratio": 0.2, "memory_hog_mib": 1})
    after = Chaos(path)
    assert after.as_json() == {
        "latency_seconds": 6.0,
        "error_ratio": 0.2,
        "memory_hog_mib": 0.0,
        "cpu_hog": 0.0,
    }
    after.reset()
    assert Chaos(path).as_json() == {
        "latency_seconds": 0.0, "error_ratio": 0.0, "memory_hog_mib": 0.0, "cpu_hog": 0.0,
    }  # fmt: skip


def test_a_refused_setting_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "chaos.json"
    Chaos(path).update({"latency_seconds": 2})
    with pytest.raises(ChaosError):
        Chaos(path).update({"latency_seconds": 3, "error_ratio": 7})
    assert Chaos(path).latency_seconds == 2


@pytest.mark.parametrize(
    "text", ["", "not json", "[1]", '{"latency_seconds": -4}', '{"error_ratio": "x"}']
)
def test_a_damaged_file_starts_healthy_and_says_why(
    tmp_path: Path, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "chaos.json"
    path.write_text(text)
    assert Chaos(path).as_json() == {
        "latency_seconds": 0.0, "error_ratio": 0.0, "memory_hog_mib": 0.0, "cpu_hog": 0.0,
    }  # fmt: skip
    assert f"{path}: " in caplog.text and "starting healthy" in caplog.text


def test_the_cpu_hog_spins_a_thread_until_set_to_0_or_reset() -> None:
    chaos = Chaos()
    chaos.update({"cpu_hog": 1})
    spinning = [t for t in threading.enumerate() if t.name == "cpu-hog"]
    assert len(spinning) == 1 and chaos.as_json()["cpu_hog"] == 1
    chaos.update({"cpu_hog": 1})  # already spinning: no second thread
    assert [t for t in threading.enumerate() if t.name == "cpu-hog"] == spinning
    chaos.reset()
    spinning[0].join(timeout=10)
    assert not spinning[0].is_alive() and chaos.as_json()["cpu_hog"] == 0
