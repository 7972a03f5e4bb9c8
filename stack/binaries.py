"""Find the Prometheus tools on PATH or through their environment variables."""

from __future__ import annotations

import shutil
from collections.abc import Mapping

# Environment variable → names to look for on PATH (Debian names Alertmanager
# `prometheus-alertmanager` and node_exporter `prometheus-node-exporter`).
BINARIES: dict[str, tuple[str, ...]] = {
    "PROMETHEUS_BIN": ("prometheus",),
    "ALERTMANAGER_BIN": ("alertmanager", "prometheus-alertmanager"),
    "PROMTOOL_BIN": ("promtool",),
    "AMTOOL_BIN": ("amtool",),
    "NODE_EXPORTER_BIN": ("node_exporter", "prometheus-node-exporter"),
}


class BinaryNotFound(Exception):
    pass


def find_binary(env_var: str, env: Mapping[str, str], path: str | None = None) -> str:
    """The binary named by `env_var` in `env`, else the first of its names on PATH."""
    explicit = env.get(env_var)
    if explicit:
        found = shutil.which(explicit)
        if not found:
            raise BinaryNotFound(f"{env_var}={explicit}: no such executable")
        return found
    search = path if path is not None else env.get("PATH")
    for name in BINARIES[env_var]:
        found = shutil.which(name, path=search)
        if found:
            return found
    names = " or ".join(BINARIES[env_var])
    raise BinaryNotFound(
        f"{names} not found on PATH and {env_var} is unset; run `make up` (it installs "
        f"the distribution's packages) or set {env_var} to the binary"
    )
