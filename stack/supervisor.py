"""The supervisord configuration that runs the stack's six processes."""

from __future__ import annotations

import configparser
import io
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stack.ports import HOST


@dataclass(frozen=True)
class Layout:
    """Where one run keeps its files: `root` is the working directory."""

    root: Path

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def run(self) -> Path:
        return self.var / "run"

    @property
    def log(self) -> Path:
        return self.var / "log"

    @property
    def data(self) -> Path:
        return self.var / "data"

    @property
    def socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def conf(self) -> Path:
        return self.run / "supervisord.conf"

    def make(self) -> None:
        for folder in (self.run, self.log, self.data):
            folder.mkdir(parents=True, exist_ok=True)


def programs(
    layout: Layout,
    ports: Mapping[str, int],
    binaries: Mapping[str, str],
    configs: Mapping[str, Path],
    python: str = sys.executable,
) -> dict[str, list[str]]:
    """Each program's command line."""
    return {
        "prometheus": [
            binaries["PROMETHEUS_BIN"],
            f"--config.file={configs['prometheus']}",
            f"--storage.tsdb.path={layout.data / 'prometheus'}",
            f"--web.listen-address={HOST}:{ports['prometheus']}",
            "--web.enable-lifecycle",
        ],
        "alertmanager": [
            binaries["ALERTMANAGER_BIN"],
            f"--config.file={configs['alertmanager']}",
            f"--storage.path={layout.data / 'alertmanager'}",
            f"--web.listen-address={HOST}:{ports['alertmanager']}",
            # No gossip port: one local Alertmanager, and no clash between runs.
            "--cluster.listen-address=",
        ],
        "webhook": [
            python,
            "-m",
            "alert_webhook",
            f"--config={configs['webhook']}",
            f"--bind={HOST}:{ports['webhook']}",
        ],
        "system_exporter": [
            python,
            "-m",
            "exporters.system",
            f"--listen={HOST}:{ports['system_exporter']}",
        ],
        "probe_exporter": [
            python,
            "-m",
            "exporters.probe",
            f"--listen={HOST}:{ports['probe_exporter']}",
            f"--config={configs['probes']}",
        ],
        "demo": [python, "-m", "demo", f"--bind={HOST}:{ports['demo']}"],
    }


# The demo service stays down when it dies (a clean exit after /chaos/die), so
# the alert fires and recovery has something to do; crashes are restarted.
AUTORESTART = {"demo": "unexpected"}

# What watches the others. They are not started with the rest: the launcher
# starts them once every watched service answers, so a probe or a scrape that
# ran before the webhook listened never shows start-up as an outage.
WATCHERS = ("prometheus", "probe_exporter")


def supervisord_conf(layout: Layout, commands: Mapping[str, list[str]]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser["supervisord"] = {
        "nodaemon": "true",
        # Its own log goes to the file only: `make up` prints what matters.
        "silent": "true",
        "logfile": str(layout.log / "supervisord.log"),
        "pidfile": str(layout.run / "supervisord.pid"),
        "childlogdir": str(layout.log),
        "directory": str(layout.root),
    }
    parser["unix_http_server"] = {"file": str(layout.socket), "chmod": "0700"}
    parser["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
    }
    parser["supervisorctl"] = {"serverurl": f"unix://{layout.socket}"}
    for name, argv in commands.items():
        parser[f"program:{name}"] = {
            # supervisor expands %(...)s in commands: escape literal percent signs.
            "command": shlex.join(argv).replace("%", "%%"),
            "directory": str(layout.root),
            "autostart": "false" if name in WATCHERS else "true",
            "autorestart": AUTORESTART.get(name, "true"),
            "startsecs": "1",
            "startretries": "3",
            "stopasgroup": "true",
            "killasgroup": "true",
            "stopwaitsecs": "10",
            "redirect_stderr": "true",
            "stdout_logfile": str(layout.log / f"{name}.log"),
            "stdout_logfile_maxbytes": "10MB",
            "stdout_logfile_backups": "2",
        }
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()
