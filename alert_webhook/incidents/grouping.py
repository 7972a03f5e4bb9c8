"""How alerts become incidents on the console and in the terminal: one per
failing service."""

from __future__ import annotations


def service_of(labels: dict[str, str]) -> str:
    """Rules put the failing service in `service`; scrape alerts only have `job`."""
    return labels.get("service") or labels.get("job") or labels.get("alertname", "")
