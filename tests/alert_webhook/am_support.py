"""A real Alertmanager for the tests of its API client and of silencing: one
process on free loopback ports per test module, clustering off, always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.procs import find_binary, free_port, running

CONFIG = {"route": {"receiver": "nobody"}, "receivers": [{"name": "nobody"}]}


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running Alertmanager."""
    home: Path = tmp_path_factory.mktemp("alertmanager")
    config = home / "alertmanager.yml"
    config.write_text(yaml.safe_dump(CONFIG))
    port = free_port()
    argv = [
        find_binary("ALERTMANAGER_BIN"),
        f"--config.file={config}",
        f"--storage.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    url = f"http://127.0.0.1:{port}"
    with running("alertmanager", argv, home, ready_url=f"{url}/-/ready"):
        yield url


def unreachable() -> str:
    """A loopback URL nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"
