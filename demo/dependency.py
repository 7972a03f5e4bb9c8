"""The dependency the orders API calls (a stock-reservation service), and how the API
picks which of its instances to call.

The recovery plan's failover chain is primary → secondary → tertiary: three processes of
this one small app, each started with its own `--name`. Each answers
`POST /api/reserve` and `/healthz`, with the same chaos switches as the demo
(`latency_seconds`, `error_ratio`) so an instance can be made slow or failing;
made unreachable is the network's business (the chaos tests cut a link).

Which instance the orders API calls is a symlink, `active`, in a folder holding
one `<name>.url` file per instance: swapping the link (a new link, then
`os.replace`, which is atomic) is a failover, done by the webhook's `failover`
action or by hand, and the API reads the link on each call, so the switch needs
no restart and no API of its own that would have to be authenticated.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from prometheus_client import CollectorRegistry

from demo.chaos import Chaos, ChaosError
from exporters.instrumentation import instrument_app

ACTIVE_LINK = "active"
URL_SUFFIX = ".url"


def create_dependency_app(
    name: str,
    *,
    registry: CollectorRegistry | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> Flask:
    app = Flask(f"dependency-{name}")
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    instrument_app(app, registry)
    chaos = Chaos()
    counter = itertools.count(1)
    lock = threading.Lock()

    def troubled() -> Any | None:
        if chaos.latency_seconds:
            sleep(chaos.latency_seconds)
        if chaos.error_ratio and rand() < chaos.error_ratio:
            return jsonify({"error": f"{name}: injected failure (chaos.error_ratio)"}), 500
        return None

    @app.get("/healthz")
    def healthz() -> Any:
        return troubled() or jsonify({"status": "ok", "instance": name})

    @app.post("/api/reserve")
    def reserve() -> Any:
        if (failure := troubled()) is not None:
            return failure
        with lock:
            reservation = next(counter)
        return jsonify({"instance": name, "reservation": reservation})

    @app.get("/chaos")
    def chaos_state() -> Any:
        return jsonify(chaos.as_json())

    @app.post("/chaos")
    def chaos_change() -> Any:
        try:
            chaos.update(request.get_json(silent=True))
        except ChaosError as exc:
            return jsonify({"error": str(exc)}), 400
        return chaos_state()

    @app.post("/chaos/reset")
    def chaos_reset() -> Any:
        chaos.reset()
        return chaos_state()

    return app


@dataclass(frozen=True)
class Instance:
    name: str
    url: str


class DependencyError(Exception):
    """The active instance cannot be named: no link, or a link to nothing."""


class ActiveInstance:
    """The instance the `active` link in `folder` points at, read on every call."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def current(self) -> Instance:
        link = self.folder / ACTIVE_LINK
        try:
            target = Path(os.readlink(link))
            url = (self.folder / target.name).read_text().strip()
        except OSError as exc:
            raise DependencyError(f"{link}: no active instance ({exc.strerror})") from None
        if not target.name.endswith(URL_SUFFIX) or not url:
            raise DependencyError(f"{link} -> {target}: not an instance's {URL_SUFFIX} file")
        return Instance(target.name.removesuffix(URL_SUFFIX), url)

    def names(self) -> list[str]:
        return sorted(p.name.removesuffix(URL_SUFFIX) for p in self.folder.glob(f"*{URL_SUFFIX}"))


def write_instances(folder: Path, urls: dict[str, str], active: str) -> ActiveInstance:
    """Lay out `folder` for `urls` (name → base URL) with `active` linked."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, url in urls.items():
        (folder / f"{name}{URL_SUFFIX}").write_text(url + "\n")
    switch(folder, active)
    return ActiveInstance(folder)


def switch(folder: Path, name: str) -> None:
    """Point `active` at `name`, atomically: readers see the old or the new link."""
    if not (folder / f"{name}{URL_SUFFIX}").is_file():
        raise DependencyError(f"{folder}: no instance {name!r}")
    staging = folder / f".{ACTIVE_LINK}.{os.getpid()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(f"{name}{URL_SUFFIX}")
    os.replace(staging, folder / ACTIVE_LINK)
