"""The agent's wheelhouse: what goes into it and when it is rebuilt. Built for
real from this virtualenv's distributions (no network, no process)."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from stack.wheelhouse import (
    AGENT,
    REQUIREMENT_FILE,
    _wheel_tag,
    agent_files,
    agent_version,
    build,
    closure,
)


def test_a_wheel_tag_is_the_compressed_set_of_its_tags() -> None:
    text = (
        "Wheel-Version: 1.0\n"
        "Tag: cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-manylinux2014_x86_64\n"
    )
    assert _wheel_tag(text) == "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"


def test_the_closure_holds_what_the_exporter_imports_and_nothing_of_the_webhook() -> None:
    names = {d.metadata["Name"].lower().replace("_", "-") for d in closure(["pydantic", "psutil"])}
    assert {"pydantic", "pydantic-core", "typing-extensions", "psutil"} <= names
    assert "flask" not in names


def test_the_agent_version_changes_with_its_code() -> None:
    files = agent_files()
    assert "exporters/system.py" in files and "toolkit/config.py" in files
    assert not any(name.startswith("alert_webhook/") for name in files)
    changed = {**files, "exporters/system.py": files["exporters/system.py"] + b"\n"}
    assert agent_version(files, []) != agent_version(changed, [])


def test_a_second_build_changes_nothing(tmp_path: Path) -> None:
    requirement, built = build(tmp_path)
    assert built and requirement.startswith(f"{AGENT}==0.1.0+")
    assert build(tmp_path) == (requirement, False)
    assert (tmp_path / REQUIREMENT_FILE).read_text().strip() == requirement

    [archive] = tmp_path.glob("*.tar")
    release = requirement.replace("==", "-")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert f"{release}/bootstrap/pip.whl" in names
    assert f"{release}/{REQUIREMENT_FILE}" in names
    wheels = {Path(n).name.split("-")[0].lower() for n in names if n.endswith(".whl")}
    assert {"recovery_stack_agent", "psutil", "pydantic_core", "supervisor"} <= wheels
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    [agent] = (tmp_path / "x" / release).glob("recovery_stack_agent-*.whl")
    with zipfile.ZipFile(agent) as wheel:
        record = wheel.read(next(n for n in wheel.namelist() if n.endswith("RECORD"))).decode()
    assert "exporters/system.py,sha256=" in record
