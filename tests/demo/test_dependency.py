"""demo/dependency.py: the instances, and the link that names the active one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from demo.dependency import (
    ActiveInstance,
    DependencyError,
    create_dependency_app,
    switch,
    write_instances,
)

URLS = {n: f"http://127.0.0.1:{p}" for n, p in (("primary", 1), ("secondary", 2), ("tertiary", 3))}


def test_the_link_names_the_active_instance_and_a_switch_replaces_it(tmp_path: Path) -> None:
    active = write_instances(tmp_path, URLS, "primary")
    assert active.current().name == "primary" and active.current().url == URLS["primary"]
    assert active.names() == ["primary", "secondary", "tertiary"]
    switch(tmp_path, "tertiary")
    assert active.current().name == "tertiary"
    assert os.readlink(tmp_path / "active") == "tertiary.url"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_switching_to_an_unknown_instance_changes_nothing(tmp_path: Path) -> None:
    active = write_instances(tmp_path, URLS, "secondary")
    with pytest.raises(DependencyError, match="no instance 'quaternary'"):
        switch(tmp_path, "quaternary")
    assert active.current().name == "secondary"


def test_a_link_to_nothing_or_to_a_foreign_file_is_an_error(tmp_path: Path) -> None:
    active = ActiveInstance(tmp_path)
    with pytest.raises(DependencyError, match="no active instance"):
        active.current()
    (tmp_path / "notes.txt").write_text("http://x\n")
    (tmp_path / "active").symlink_to("notes.txt")
    with pytest.raises(DependencyError, match="not an instance's .url file"):
        active.current()


def test_an_instance_reserves_and_can_be_made_to_fail() -> None:
    client = create_dependency_app("secondary", rand=lambda: 0.0).test_client()
    first, second = client.post("/api/reserve").json, client.post("/api/reserve").json
    assert (first, second["reservation"]) == ({"instance": "secondary", "reservation": 1}, 2)
    assert client.post("/chaos", json={"error_ratio": 1}).status_code == 200
    assert client.post("/api/reserve").status_code == 500
    assert client.get("/healthz").status_code == 500
    client.post("/chaos/reset")
    assert client.get("/healthz").json == {"status": "ok", "instance": "secondary"}
    assert client.post("/chaos", json={"error_ratio": -1}).status_code == 400
