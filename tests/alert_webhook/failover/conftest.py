"""Fixtures for the failover tests: the backends' stand-in server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from failover_support import Backends, backends_server


@pytest.fixture
def lb() -> Iterator[Backends]:
    with backends_server() as server:
        yield server
