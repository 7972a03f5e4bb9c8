"""Faults made for real (tests/support/faults.py), skipped with the kernel's reason
where this machine cannot make them, and the stack the scenarios break."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support.faults import FaultUnavailable, IsolatedHost, isolated_host

from chaos.stack import ChaosStack, chaos_stack_for


@pytest.fixture
def partitionable_host() -> Iterator[IsolatedHost]:
    try:
        with isolated_host() as host:
            yield host
    except FaultUnavailable as exc:
        pytest.skip(f"network namespaces are not allowed here: {exc}")


@pytest.fixture(scope="module")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    """One stack per test module: launched on the fast profile, or with
    CHAOS_STACK=running the one `make up FAST=1` runs (tests/chaos/stack.py)."""
    with chaos_stack_for(tmp_path_factory.mktemp("chaos"), os.environ) as stack:
        yield stack
