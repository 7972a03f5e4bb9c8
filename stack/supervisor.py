"""The supervisord configuration that runs the stack's processes: its own five and the
demo system's five.

supervisord's XML-RPC listens on a unix socket under var/run/ with a login made
for each run: supervisorctl (`stack ctl`) reads it from the configuration, the
webhook from its environment (the `STACK_SUPERVISOR_*` variables, given to the
webhook's program only), so the default playbooks can restart the demo through
it.
"""

from __future__ import annotations

import configparser
import io
import secrets
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stack.ports import DEPENDENCY_INSTANCES, HOST, StackError
from stack.private import write_private


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
    def textfile(self) -> Path:
        """The system exporter's textfile directory (`backup.prom` is written there)."""
        return self.var / "textfile"

    @property
    def demo(self) -> Path:
        """The demo system's data: the orders file and the dependency's link folder."""
        return self.data / "demo"

    @property
    def orders(self) -> Path:
        return self.demo / "orders.sqlite3"

    @property
    def dependency(self) -> Path:
        return self.demo / "dependency"

    def pidfile(self, program: str) -> Path:
        """Where a demo program writes its pid (its process group in the system exporter)."""
        return self.run / f"{program}.pid"

    @property
    def socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def conf(self) -> Path:
        return self.run / "supervisord.conf"

    @property
    def supervisor_url(self) -> str:
        return f"unix://{self.socket}"

    def make(self) -> None:
        for folder in (self.run, self.log, self.data, self.demo, self.textfile):
            folder.mkdir(parents=True, exist_ok=True)


# Where the webhook finds supervisord and its login (the shipped playbooks name them).
SUPERVISOR_URL_ENV = "STACK_SUPERVISOR_URL"
SUPERVISOR_USERNAME_ENV = "STACK_SUPERVISOR_USERNAME"
SUPERVISOR_PASSWORD_ENV = "STACK_SUPERVISOR_PASSWORD"


# The demo system's programs: each writes its pid (`--pidfile`), so the system
# exporter publishes its processes as one group, named after the program.
DEMO_PROGRAMS = ("demo", "demo_worker", *DEPENDENCY_INSTANCES.values())


@dataclass(frozen=True)
class Login:
    """supervisord's XML-RPC login for one run."""

    username: str
    password: str

    @classmethod
    def new(cls) -> Login:
        # URL-safe: no `%` (supervisor expands it) and nothing an ini value mangles.
        return cls("stack", secrets.token_urlsafe(24))

    def env(self, layout: Layout) -> dict[str, str]:
        """What the webhook needs to call supervisord."""
        return {
            SUPERVISOR_URL_ENV: layout.supervisor_url,
            SUPERVISOR_USERNAME_ENV: self.username,
            SUPERVISOR_PASSWORD_ENV: self.password,
        }


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
            f"--collector.textfile.directory={layout.textfile}",
            f"--config={configs['system_exporter']}",
        ],
        "probe_exporter": [
            python,
            "-m",
            "exporters.probe",
            f"--listen={HOST}:{ports['probe_exporter']}",
            f"--config={configs['probes']}",
        ],
        "demo": [
            python,
            "-m",
            "demo",
            f"--bind={HOST}:{ports['demo']}",
            f"--data={layout.orders}",
            f"--dependency={layout.dependency}",
            f"--chaos-file={layout.demo / 'chaos.json'}",
            f"--pidfile={layout.pidfile('demo')}",
        ],
        "demo_worker": [
            python,
            "-m",
            "demo",
            "worker",
            f"--bind={HOST}:{ports['demo_worker']}",
            f"--data={layout.orders}",
            f"--pidfile={layout.pidfile('demo_worker')}",
        ],
        **{
            service: [
                python,
                "-m",
                "demo",
                "dependency",
                f"--name={name}",
                f"--bind={HOST}:{ports[service]}",
                f"--pidfile={layout.pidfile(service)}",
            ]
            for name, service in DEPENDENCY_INSTANCES.items()
        },  # fmt: skip
    }


def backup_programs(
    layout: Layout, replicate: bool, python: str = sys.executable
) -> dict[str, list[str]]:
    """The backup schedule (snapshots, daily verification, weekly restore test) and,
    when there is an SQLite store, Litestream's continuous replication of them."""
    root = ["--root", str(layout.root)]
    commands = {"backups": [python, "-m", "stack", "backup-schedule", *root]}
    if replicate:
        commands["litestream"] = [python, "-m", "stack", "replicate", *root]
    return commands


def drill_programs(
    layout: Layout, scheduled: bool, python: str = sys.executable
) -> dict[str, list[str]]:
    """The drill schedule (STACK_DRILL_SCHEDULE, read from its environment), when on."""
    if not scheduled:
        return {}
    return {"drills": [python, "-m", "stack", "drill-schedule", "--root", str(layout.root)]}


# supervisord never brings the demo's business services back by itself, not even
# after a crash or a kill -9: recovery has to come through the alert path (the
# webhook's playbooks restarting them over XML-RPC), or nothing about that path
# is proven. The stack's own components, and the dependency's instances (which
# stand for someone else's service), are restarted whenever they die.
AUTORESTART = {"demo": "false", "demo_worker": "false"}

# What watches the others. They are not started with the rest: the launcher
# starts them once every watched service answers, so a probe or a scrape that
# ran before the webhook listened never shows start-up as an outage.
WATCHERS = ("prometheus", "probe_exporter")


# The one program that calls supervisord: it restarts the demo for the playbooks.
# No other program sees the login.
RESTARTER = "webhook"


def program_environment(env: Mapping[str, str]) -> str:
    """`env` in supervisord's `environment=` form (KEY="value",...). Its parser
    has no escape for a double quote, so a value holding one is refused."""
    quoted = [name for name, value in env.items() if '"' in value]
    if quoted:
        raise StackError([f"{', '.join(quoted)}: a double quote cannot be passed to supervisord"])
    # supervisor expands %(...)s in values too.
    return ",".join(f'{name}="{value}"'.replace("%", "%%") for name, value in env.items())


def supervisord_conf(layout: Layout, commands: Mapping[str, list[str]], login: Login) -> str:
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
    credentials = {"username": login.username, "password": login.password}
    parser["unix_http_server"] = {"file": str(layout.socket), "chmod": "0700", **credentials}
    parser["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
    }
    parser["supervisorctl"] = {"serverurl": layout.supervisor_url, **credentials}
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
        if name == RESTARTER:
            parser[f"program:{name}"]["environment"] = program_environment(login.env(layout))
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def write_conf(layout: Layout, text: str) -> Path:
    """supervisord.conf, readable by its owner only: it holds the login."""
    return write_private(layout.conf, text)
