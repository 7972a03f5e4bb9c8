"""One Chromium per session, one webhook stack per module, a fresh page per test.

Chromium is Debian's (`/usr/bin/chromium`, installed by `scripts/system-deps.sh
--test`, or `CHROMIUM_BIN`), driven by Playwright over its DevTools protocol;
Playwright's own browser downloads are never used. Each launch gets a new
temporary profile (Playwright's user-data-dir, removed on close), and the
flags keep Chromium off the network this machine does not have: without the
background-networking ones it keeps dialling Google's hosts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser.console_stack import ConsoleStack, console_stack
from browser.pages import DESKTOP, Tab, open_tab

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root here, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_BIN") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"no Chromium at {path}: scripts/system-deps.sh --test installs Debian's")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=path, headless=True, args=CHROMIUM_FLAGS
            )
        except Error as exc:
            pytest.skip(f"Chromium at {path} did not start: {exc.message.splitlines()[0]}")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    context, tab = open_tab(browser, DESKTOP)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleStack]:
    """The module's webhook and peers; a module's WEBHOOK_OVERRIDES (top-level
    keys of webhook.yml, merged over the shipped ones) configure it."""
    overrides = getattr(request.module, "WEBHOOK_OVERRIDES", {})
    base: Path = tmp_path_factory.mktemp("console")
    with console_stack(base, overrides) as running:
        yield running
