"""Faults made for real (tests/support/faults.py), skipped with the kernel's reason
where this machine cannot make them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.faults import FaultUnavailable, IsolatedHost, isolated_host


@pytest.fixture
def partitionable_host() -> Iterator[IsolatedHost]:
    try:
        with isolated_host() as host:
            yield host
    except FaultUnavailable as exc:
        pytest.skip(f"network namespaces are not allowed here: {exc}")
