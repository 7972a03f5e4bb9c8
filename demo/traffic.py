"""The demo's own steady traffic: a few calls a second to its business endpoints.

The request alerts (ApiResponseTimeHigh, ErrorRateHigh, ErrorBudgetBurn) only
judge a service that has traffic (at least 0.05 requests/s), and a demo on a
laptop has no users. So the demo process calls its own `GET /api/orders` on
loopback, one call at a time with a pause between calls: the chaos switches
then show up in the request metrics with no one else calling it. One call at a
time also keeps a slow endpoint (latency chaos) from piling up threads. Every
`order_every`-th call places an order (`POST /api/orders`) instead, so the
dependency is called and the worker has a queue to work off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import requests

log = logging.getLogger(__name__)

ENDPOINT = "/api/orders"
ORDER = {"item": "widget", "quantity": 1}


class Session(Protocol):
    def get(self, url: str, *, timeout: float) -> requests.Response: ...

    def post(self, url: str, *, json: object, timeout: float) -> requests.Response: ...


class Traffic:
    # Long enough for the largest latency chaos accepts, so a slow answer is
    # measured as slow rather than cut off by us.
    TIMEOUT = 660.0

    def __init__(
        self, base_url: str, per_second: float, session: Session | None = None,
        order_every: int = 4,
    ) -> None:  # fmt: skip
        self.url = base_url.rstrip("/") + ENDPOINT
        self.per_second = per_second
        self.order_every = order_every  # 0: never place orders
        self.session: Session = session if session is not None else requests.Session()
        self.calls = 0

    @classmethod
    def for_bind(cls, bind: str, per_second: float) -> Traffic:
        """Traffic to the demo listening on `bind` (HOST:PORT)."""
        return cls(f"http://{bind}", per_second)

    def call(self) -> None:
        self.calls += 1
        try:
            if self.order_every and self.calls % self.order_every == 0:
                self.session.post(self.url, json=ORDER, timeout=self.TIMEOUT)
            else:
                self.session.get(self.url, timeout=self.TIMEOUT)
        except requests.RequestException as exc:
            # Down or refusing is a state the alerts report, not ours to log loudly.
            log.debug("traffic: %s: %s", self.url, exc)

    def run(self, stopped: Callable[[float], bool]) -> None:
        """Call, pause, repeat until `stopped(pause)` is true (threading.Event.wait)."""
        if self.per_second <= 0:
            return
        pause = 1 / self.per_second
        while True:
            self.call()
            if stopped(pause):
                return
