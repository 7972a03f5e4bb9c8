"""compose.yml's structure: no Docker engine runs here, so the file is read as YAML
and held to what `docker compose up` needs to start the stack safely."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck(name: str) -> None:
    check = SERVICES[name].get("healthcheck")
    assert check and check["test"][0] in {"CMD", "CMD-SHELL"}, name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_dependency_is_a_healthy_service(name: str) -> None:
    depends = SERVICES[name].get("depends_on", {})
    assert isinstance(depends, dict), f"{name}: depends_on names conditions"
    for peer, how in depends.items():
        assert peer in SERVICES, f"{name} depends on unknown {peer}"
        assert how["condition"] == "service_healthy", f"{name} -> {peer}"


def test_the_dependencies_have_no_cycle() -> None:
    started: set[str] = set()
    while len(started) < len(SERVICES):
        ready = {
            n
            for n, s in SERVICES.items()
            if n not in started and set(s.get("depends_on", {})) <= started
        }
        assert ready, f"cycle among {sorted(set(SERVICES) - started)}"
        started |= ready


def test_the_consumers_wait_for_their_peers() -> None:
    assert "prometheus" in SERVICES["grafana"]["depends_on"]
    assert {"alertmanager", "system-exporter", "probe-exporter", "webhook"} <= set(
        SERVICES["prometheus"]["depends_on"]
    )


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "image" in s))
def test_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    tag = image.rpartition(":")[2]
    assert ":" in image and tag not in {"latest", ""}, image


def test_grafana_admin_password_comes_from_the_environment_without_default() -> None:
    password = SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert password.startswith("${GF_ADMIN_PASSWORD:?"), password


def test_grafana_mounts_its_provisioning_read_only() -> None:
    volumes = SERVICES["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in volumes
    provider = yaml.safe_load(
        (ROOT / "grafana/provisioning/dashboards/recovery-stack.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_grafanas_image_is_the_release_the_dashboard_types_target() -> None:
    # The SDK's version is "<build>!<grafana version>": the schema it writes is that
    # Grafana's, so an older image could misread the dashboards.
    targeted = metadata.version("grafana-foundation-sdk").partition("!")[2]
    image_tag = SERVICES["grafana"]["image"].rpartition(":")[2]
    assert image_tag.split(".")[:2] == targeted.split(".")[:2], (image_tag, targeted)


def test_the_system_exporter_reads_the_hosts_trees_read_only() -> None:
    # Without them the disk alerts would judge the container's root, not the host's
    # disks; each mount is read-only, and each flag names where its tree is.
    exporter = SERVICES["system-exporter"]
    mounts = {v.split(":")[1]: v for v in exporter["volumes"]}
    assert mounts["/host/proc"] == "/proc:/host/proc:ro"
    assert mounts["/host/sys"] == "/sys:/host/sys:ro"
    assert mounts["/host/root"].startswith("/:/host/root:ro")
    assert {
        "--path.procfs=/host/proc",
        "--path.sysfs=/host/sys",
        "--path.rootfs=/host/root",
    } <= set(exporter["command"])
    assert exporter["pid"] == "host" and exporter["network_mode"] == "host"


def test_the_system_exporters_command_is_one_it_accepts() -> None:
    from exporters.system import parse_args

    command = SERVICES["system-exporter"]["command"]
    assert command[:3] == ["python", "-m", "exporters.system"]
    args = parse_args(command[3:])
    assert str(args.rootfs) == "/host/root"
