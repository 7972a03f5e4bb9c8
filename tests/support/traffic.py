"""Steady Alertmanager-like traffic at a running webhook, and probes of its health.

`Traffic` posts one distinct alert per notification from several sender threads,
each retrying a notification on 5xx or no answer (after a short back-off) until
it is stored, as Alertmanager does; other threads probe `/healthz` and `/readyz`.
Every attempt is a `Sample`: when it began, what it asked, the status (None for
no answer in time) and how long it took. Shared by the hung-store test and its
bench (bench/hung_store.py).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field

import requests

ALERTNAME = "SteadyTraffic"
STARTS_AT = "2026-12-07T09:00:00.000Z"


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic() when the request was sent
    path: str
    status: int | None  # None: no answer within the client's timeout, or no connection
    seconds: float


def notification(n: int) -> bytes:
    labels = {"alertname": ALERTNAME, "severity": "low", "instance": f"host-{n}"}
    alert = {"status": "firing", "labels": labels, "annotations": {}, "startsAt": STARTS_AT,
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
             "fingerprint": f"{n:016x}"}  # fmt: skip
    return json.dumps(
        {
            "receiver": "wh",
            "status": "firing",
            "alerts": [alert],
            "groupLabels": labels,
            "commonLabels": labels,
            "commonAnnotations": {},
            "externalURL": "http://am",
            "version": "4",
            "groupKey": f"{{}}:{{n={n}}}",
            "truncatedAlerts": 0,
        }  # fmt: skip
    ).encode()


@dataclass
class Traffic:
    base_url: str
    senders: int = 12
    pause: float = 0.1  # between one sender's notifications
    retry_after: float = 0.5  # Alertmanager's first back-off is about this
    post_timeout: float = 60.0
    probe_timeout: float = 5.0
    probe_every: float = 0.25
    samples: list[Sample] = field(default_factory=list)
    stored: list[int] = field(default_factory=list)  # alerts that got their 200

    def __post_init__(self) -> None:
        self._ids = itertools.count()
        self.begun = 0  # distinct alerts the senders have started to post
        self._lock = threading.Lock()
        self._sending = threading.Event()
        self._probing = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._sending.set()
        self._probing.set()
        targets = [self._send] * self.senders + [lambda: self._probe("/healthz"),
                                                 lambda: self._probe("/readyz")]  # fmt: skip
        self._threads = [threading.Thread(target=t, daemon=True) for t in targets]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float) -> bool:
        """No new notifications; wait until each begun one is stored. False if some
        sender is still retrying after `timeout` seconds."""
        self._sending.clear()
        deadline = time.monotonic() + timeout
        for thread in self._threads[: self.senders]:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._probing.clear()
        for thread in self._threads[self.senders :]:
            thread.join(timeout=self.probe_timeout + 1)
        return not any(t.is_alive() for t in self._threads)

    def _request(self, method: str, path: str, timeout: float, body: bytes | None) -> int | None:
        start = time.monotonic()
        status: int | None
        try:
            headers = {"Content-Type": "application/json"}
            response = requests.request(
                method, self.base_url + path, data=body, headers=headers, timeout=timeout
            )
            status = response.status_code
        except requests.RequestException:
            status = None
        with self._lock:
            self.samples.append(Sample(start, path, status, time.monotonic() - start))
        return status

    def _send(self) -> None:
        while self._sending.is_set():
            with self._lock:
                n = next(self._ids)
                self.begun = n + 1
            body = notification(n)
            while (status := self._request("POST", "/alerts", self.post_timeout, body)) != 200:
                if status is not None and status < 500:
                    raise AssertionError(f"alert {n}: refused with {status}")
                time.sleep(self.retry_after)
            with self._lock:
                self.stored.append(n)
            time.sleep(self.pause)

    def _probe(self, path: str) -> None:
        while self._probing.is_set():
            began = time.monotonic()
            self._request("GET", path, self.probe_timeout, None)
            time.sleep(max(0.0, self.probe_every - (time.monotonic() - began)))

    def during(self, path: str, start: float, end: float) -> list[Sample]:
        """The samples of `path` sent between `start` and `end` (monotonic)."""
        with self._lock:
            return [s for s in self.samples if s.path == path and start <= s.at < end]
