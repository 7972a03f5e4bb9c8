"""Alertmanager's silences, through its API: GET to back up, POST to restore.

Alertmanager keeps them in its own data folder in a format of its own; its API
is the stable way in and out. A silence is restored only while it is still
meant to hold, and only when the running Alertmanager has none like it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from stack.backups.source import Context, RestoreRefused, SourceFailed, SourceSkipped

FILE = "silences.json"
# What a silence is posted with, and what identifies it across a restore:
# Alertmanager gives it a new id and moves a start in the past to now.
KEYS = ("matchers", "startsAt", "endsAt", "createdBy", "comment")
IDENTITY = ("matchers", "endsAt", "createdBy", "comment")


def _same(silence: dict[str, Any]) -> tuple[str, ...]:
    return tuple(json.dumps(silence.get(k), sort_keys=True) for k in IDENTITY)


@dataclass(frozen=True)
class SilencesSource:
    name: str
    # Alertmanager's base URL, e.g. http://127.0.0.1:9093.
    url: str
    # Restoring means posting to the running Alertmanager: nothing to stop first.
    live_while_running: bool = False

    def _get(self, ctx: Context) -> list[dict[str, Any]]:
        response = ctx.http.get(f"{self.url}/api/v2/silences", timeout=5)
        response.raise_for_status()
        return list(response.json())

    def stage(self, folder: Path, ctx: Context) -> None:
        try:
            silences = self._get(ctx)
        except requests.ConnectionError:
            raise SourceSkipped(
                f"{self.name}: Alertmanager is not running at {self.url}; silences not backed up"
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise SourceFailed(f"{self.name}: Alertmanager at {self.url}: {exc}") from None
        (folder / FILE).write_text(json.dumps(silences, indent=1, sort_keys=True))

    def check(self, folder: Path) -> list[str]:
        try:
            data = json.loads((folder / FILE).read_text())
        except (OSError, ValueError) as exc:
            return [f"{self.name}: {FILE} does not parse: {exc}"]
        return [] if isinstance(data, list) else [f"{self.name}: {FILE} is not a list"]

    def restore(self, folder: Path, ctx: Context) -> list[str]:
        try:
            current = self._get(ctx)
        except requests.ConnectionError:
            raise SourceSkipped(
                f"{self.name}: restoring silences needs the running Alertmanager at {self.url}"
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise RestoreRefused(f"{self.name}: Alertmanager at {self.url}: {exc}") from None
        aside = ctx.aside_dir() / f"{FILE}.replaced-{ctx.stamp()}"
        aside.write_text(json.dumps(current, indent=1, sort_keys=True))
        present = {_same(s) for s in current if s["status"]["state"] != "expired"}
        now, posted = ctx.now(), 0
        for silence in json.loads((folder / FILE).read_text()):
            ends = datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00"))
            if ends <= now or _same(silence) in present:
                continue
            body = {k: silence[k] for k in KEYS}
            ctx.http.post(f"{self.url}/api/v2/silences", json=body, timeout=5).raise_for_status()
            posted += 1
        return [f"kept Alertmanager's silences as they were in {aside}", f"posted {posted}"]
