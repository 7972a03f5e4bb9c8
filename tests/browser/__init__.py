"""Tests of the incident console in a real browser (Debian's Chromium, Playwright).

A package, so its module names never collide with the webhook's test modules;
the webhook tests' loopback peers (fakes.py, webhook_support.py) live beside
those tests, whose folder pytest puts on the path only when it collects them.
"""

import sys
from pathlib import Path

_WEBHOOK_TESTS = str(Path(__file__).resolve().parent.parent / "alert_webhook")
if _WEBHOOK_TESTS not in sys.path:
    sys.path.append(_WEBHOOK_TESTS)
