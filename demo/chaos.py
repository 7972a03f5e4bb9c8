"""The chaos switches every demo process has: slow answers and injected failures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# Each switch with its lowest and highest value.
LIMITS: dict[str, tuple[float, float]] = {"latency_seconds": (0, 600), "error_ratio": (0, 1)}


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
        return {key: value for key, value in values.items() if key not in LIMITS}

    def reset(self) -> None:
        self.latency_seconds = self.error_ratio = 0.0

    def as_json(self) -> dict[str, float]:
        return asdict(self)
