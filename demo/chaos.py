"""The chaos switches every demo process has: slow answers, injected failures, a
memory hog and a CPU hog.

Given a file, the slowness and the failures are kept there and read back at
start, as a bad configuration or a slow disk would outlast a restart: restarting
a slow demo (the default playbooks' answer to a timeout) can then fail, and people are told.
The memory hog is a leak and the CPU hog a runaway loop: held in the process
only, a restart clears them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("demo.chaos")

# The memory hog's bound: past the fast profile's ProcessMemoryHigh threshold
# (stack/render.py), yet small enough for a machine shared with other work.
MAX_MEMORY_HOG_MIB = 256
MIB = 1 << 20

# Each switch with its lowest and highest value.
LIMITS: dict[str, tuple[float, float]] = {
    "latency_seconds": (0, 600),
    "error_ratio": (0, 1),
    "memory_hog_mib": (0, MAX_MEMORY_HOG_MIB),
    "cpu_hog": (0, 1),
}


class ChaosError(ValueError):
    pass


def _number(data: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ChaosError(f"{key}: must be a number from {low:g} to {high:g}")
    return float(value)


# The switches a file keeps across restarts.
KEPT = ("latency_seconds", "error_ratio")


@dataclass
class Chaos:
    path: Path | None = field(default=None, repr=False)
    latency_seconds: float = 0.0
    error_ratio: float = 0.0
    # Held in this process until set to 0 or reset: a leak that a restart clears.
    memory_hog_mib: float = 0.0
    # Not 0: a thread of this process spins, burning what it gets of a core (at
    # most one, the GIL's), until set to 0 or reset: a runaway loop.
    cpu_hog: float = 0.0

    def __post_init__(self) -> None:
        # Not fields: as_json must never copy them.
        self._ballast = bytearray()
        self._spinning: threading.Event | None = None
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ChaosError("must be a JSON object")
            kept = {key: _number(data, key, *LIMITS[key]) for key in KEPT if key in data}
        except (OSError, ValueError) as exc:
            logger.warning("%s: %s; starting healthy", path, exc)
            return
        for key, value in kept.items():
            setattr(self, key, value)

    def _keep(self) -> None:
        """The kept switches written whole: a reader never sees half a file."""
        if self.path is None:
            return
        partial = self.path.with_name(f".{self.path.name}.partial")
        partial.write_text(json.dumps({key: getattr(self, key) for key in KEPT}))
        os.replace(partial, self.path)

    def update(
        self, data: Any, extra: Mapping[str, tuple[float, float]] | None = None
    ) -> dict[str, float]:
        """Set the switches `data` names, all or none of them (ChaosError naming the
        first bad one); the validated values of the caller's `extra` switches are
        returned for it to apply."""
        if not isinstance(data, dict):
            raise ChaosError("body: must be a JSON object")
        limits = {**LIMITS, **(extra or {})}
        unknown = sorted(set(data) - set(limits))
        if unknown:
            raise ChaosError(f"{unknown[0]}: unknown setting")
        values = {key: _number(data, key, *limits[key]) for key in data}
        for key in LIMITS.keys() & values.keys():
            setattr(self, key, values[key])
        self._hold()
        self._spin()
        self._keep()
        return {key: value for key, value in values.items() if key not in LIMITS}

    def _hold(self) -> None:
        """Make the ballast `memory_hog_mib` big, every page written so that the
        kernel counts it as resident (a zeroed allocation is only reserved)."""
        size = int(self.memory_hog_mib * MIB)
        if len(self._ballast) != size:
            self._ballast = bytearray()  # the old one freed before the new one is made
            self._ballast = bytearray(b"\x01") * size

    def _spin(self) -> None:
        """One spinning thread while `cpu_hog` is set, none once it is not."""
        if self.cpu_hog and self._spinning is None:
            stop = self._spinning = threading.Event()
            threading.Thread(target=_spin_until, args=(stop,), name="cpu-hog", daemon=True).start()
        elif not self.cpu_hog and self._spinning is not None:
            self._spinning.set()
            self._spinning = None

    def reset(self) -> None:
        self.latency_seconds = self.error_ratio = self.memory_hog_mib = self.cpu_hog = 0.0
        self._hold()
        self._spin()
        self._keep()

    def as_json(self) -> dict[str, float]:
        return {key: value for key, value in asdict(self).items() if key in LIMITS}


def _spin_until(stop: threading.Event) -> None:
    while not stop.is_set():
        pass
