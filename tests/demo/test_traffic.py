"""The demo's own steady traffic: paced calls to its business endpoint."""

from __future__ import annotations

import logging

import pytest
import requests

from demo.traffic import Traffic


class FakeSession:
    """Answers each call with the next status, or raises the next exception."""

    def __init__(self, *outcomes: int | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, float]] = []

    def get(self, url: str, timeout: float) -> requests.Response:
        return self._answer("GET", url, timeout)

    def post(self, url: str, json: object, timeout: float) -> requests.Response:
        assert json == {"item": "widget", "quantity": 1}
        return self._answer("POST", url, timeout)

    def _answer(self, method: str, url: str, timeout: float) -> requests.Response:
        self.calls.append((method, url, timeout))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        response = requests.Response()
        response.status_code = outcome
        return response


def stop_after(calls: int, waits: list[float]):
    """A stand-in for threading.Event.wait: records each pause, 'set' after `calls`."""

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return len(waits) >= calls

    return wait


def test_calls_the_endpoint_at_its_pace_until_stopped() -> None:
    session = FakeSession(200, 500, 200)
    waits: list[float] = []
    Traffic("http://127.0.0.1:8081", per_second=4, session=session).run(stop_after(3, waits))
    assert session.calls == [("GET", "http://127.0.0.1:8081/api/orders", Traffic.TIMEOUT)] * 3
    assert waits == [0.25, 0.25, 0.25]


def test_every_nth_call_places_an_order() -> None:
    session = FakeSession(*[200] * 6)
    traffic = Traffic("http://127.0.0.1:8081", per_second=4, session=session, order_every=3)
    traffic.run(stop_after(6, []))
    assert [method for method, _, _ in session.calls] == ["GET", "GET", "POST"] * 2


def test_a_failed_call_is_traffic_too_and_never_stops_it(caplog) -> None:
    # A failing or unreachable service (chaos, a restart) is what the alerts are
    # for: the traffic keeps going, and logs no more than a debug line.
    session = FakeSession(requests.ConnectionError("refused"), requests.Timeout("slow"), 200)
    waits: list[float] = []
    with caplog.at_level(logging.INFO, logger="demo.traffic"):
        Traffic("http://127.0.0.1:8081", per_second=2, session=session).run(stop_after(3, waits))
    assert len(session.calls) == 3
    assert caplog.records == []


def test_no_traffic_when_the_rate_is_zero() -> None:
    session = FakeSession()
    waits: list[float] = []
    Traffic("http://127.0.0.1:8081", per_second=0, session=session).run(stop_after(1, waits))
    assert session.calls == []
    assert waits == []


@pytest.mark.parametrize("bind", ["127.0.0.1:8081", "localhost:9000"])
def test_the_base_url_comes_from_the_bind_address(bind: str) -> None:
    assert Traffic.for_bind(bind, per_second=1).url == f"http://{bind}/api/orders"
