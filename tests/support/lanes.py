"""The lanes: every test that starts a real process says so with a marker.

`integration` (Prometheus, Alertmanager, promtool, the webhook, PostgreSQL, restic,
`make`, any command), `chaos` (tests/chaos/: breaks a stack) and `browser`
(tests/browser/: Chromium). `make check` runs the tests with none of them, `make test`
all of them.

An audit hook keeps that true in every run: a test without one of the three markers
fails, naming the command, when its setup or body starts a process (subprocess,
os.fork, os.exec*, os.posix_spawn, os.system), or when it uses a module- or
session-scoped fixture that started one for an earlier test (a PostgreSQL server
started once for many). Teardown is not watched: a session fixture's teardown runs in
whichever test comes last.

A plugin (tests/conftest.py's `pytest_plugins`), not conftest hooks: a conftest's
hooks are not called for fixtures of session scope.
"""

import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent.parent
LANES = ("integration", "chaos", "browser")
# Every test in these folders starts real processes: marked here, not file by file.
FOLDER_LANES = {"chaos": "chaos", "browser": "browser", "integration": "integration"}
SPAWN_EVENTS = frozenset(
    {"subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork", "os.forkpty", "os.system"}
)

# ctypes.util.find_library asks `ldconfig -p` where a C library is (Ansible does so
# on import, for libc): a lookup, not a process a test runs.
LIBRARY_LOOKUP = ("/sbin/ldconfig", "-p")

_spawned: list[str] = []  # by the running test, from its setup on
_spawn_count = 0
_nested: list[list[int]] = []  # per fixture being set up: spawns of the fixtures it set up
_process_fixtures: set[str] = set()  # wider than a test, and started a process


def _audit(event: str, args: tuple[Any, ...]) -> None:
    global _spawn_count
    if event in SPAWN_EVENTS:
        if event == "subprocess.Popen" and tuple(args[1] or ()) == LIBRARY_LOOKUP:
            return
        _spawn_count += 1
        _spawned.append(f"{event} {args[1] if event == 'subprocess.Popen' else args!r}")


sys.addaudithook(_audit)


def _in_a_lane(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(lane) for lane in LANES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(TESTS).parts
        lane = FOLDER_LANES.get(parts[0]) if len(parts) > 1 else None
        if lane is not None:
            item.add_marker(lane)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
    start, nested = _spawn_count, [0]
    _nested.append(nested)
    try:
        return (yield)
    finally:
        _nested.pop()
        spawned = _spawn_count - start
        if _nested:
            _nested[-1][0] += spawned
        if spawned > nested[0] and fixturedef.scope != "function":
            _process_fixtures.add(fixturedef.argname)


def pytest_runtest_setup() -> None:
    _spawned.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when != "call" or not report.passed or _in_a_lane(item):
        return report
    request = getattr(item, "_request", None)  # its fixturenames holds getfixturevalue's too
    used = set(request.fixturenames if request else getattr(item, "fixturenames", ()))
    why = _spawned[:5] + [
        f"fixture {name!r} started a process for an earlier test"
        for name in sorted(used & _process_fixtures)
    ]
    if why:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} starts a process without a marker {LANES}: "
            "mark it (pytestmark = pytest.mark.integration) or keep it in-process.\n"
            + "\n".join(why)
        )
    return report
