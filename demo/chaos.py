"""The chaos switches every demo process has: slow answers, injected failures and a
memory hog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# The memory hog's bound: past the fast profile's ProcessMemoryHigh threshold
# (stack/render.py), yet small enough for a machine shared with other work.
MAX_MEMORY_HOG_MIB = 256
MIB = 1 << 20

# Each switch with its lowest and highest value.
LIMITS: dict[str, tuple[float, float]] = {
    "latency_seconds": (0, 600),
    "error_ratio": (0, 1),
    "memory_hog_mib": (0, MAX_MEMORY_HOG_MIB),
}


class ChaosError(ValueError):
    pass


def _number(data: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ChaosError(f"{key}: must be a number from {low:g} to {high:g}")
    return float(value)


@dataclass
class Chaos:
    latency_seconds: float = 0.0
    error_ratio: float = 0.0
    # Held in this process until set to 0 or reset: a leak that a restart clears.
    memory_hog_mib: float = 0.0

    def __post_init__(self) -> None:
        # Not a field: as_json must never copy it.
        self._ballast = bytearray()

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
        return {key: value for key, value in values.items() if key not in LIMITS}

    def _hold(self) -> None:
        """Make the ballast `memory_hog_mib` big, every page written so that the
        kernel counts it as resident (a zeroed allocation is only reserved)."""
        size = int(self.memory_hog_mib * MIB)
        if len(self._ballast) != size:
            self._ballast = bytearray()  # the old one freed before the new one is made
            self._ballast = bytearray(b"\x01") * size

    def reset(self) -> None:
        self.latency_seconds = self.error_ratio = self.memory_hog_mib = 0.0
        self._hold()

    def as_json(self) -> dict[str, float]:
        return asdict(self)
