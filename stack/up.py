"""`python -m stack up`: run the whole stack in the foreground until Ctrl-C.

Checks first (ports valid and free, binaries found, no other run, the playbook
file valid), renders the configs under var/run/ (the recovery plan's windows, or with
`--fast` the integration tests' timings; the webhook runs its playbooks
either way), starts supervisord with the programs (the watchers,
Prometheus and the probe exporter, once the rest answers; the backup schedule
and Litestream with the rest), waits until each answers, prints the pages to
open and the URLs, then hands over to stack.guard (a small process in its place,
same pid) which on SIGINT/SIGTERM stops every process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import requests
from werkzeug.security import generate_password_hash

from alert_webhook.remediation.playbooks import DEFAULT_PLAYBOOK_FILE
from stack import render
from stack.backups import BackupConfigError, interval_from_env
from stack.backups.restic import ensure_password_file
from stack.backups.sources import BackupLayout, sources, sqlite_sources
from stack.binaries import BinaryNotFound, find_binary
from stack.ctl import ctl_argv
from stack.demo_hosts import FleetFiles, demo_fleet
from stack.drill.schedule import ScheduleError, schedule_from_env, unpublish
from stack.ports import HOST, SERVICES, StackError, check_ports_free, ports_from_env
from stack.supervisor import (
    DEMO_PROGRAMS,
    WATCHERS,
    Layout,
    Login,
    backup_programs,
    drill_programs,
    programs,
    supervisord_conf,
    write_conf,
)
from stack.targets import render_fleet, scrape_configs

# The fleet hosts' playbooks (added to the webhook's with an inventory) and the
# Ansible playbooks their steps run (`fleet.playbooks_dir`).
FLEET_PLAYBOOK_FILE = render.REPO / "alert_webhook" / "playbooks-fleet.yml"
FLEET_ANSIBLE_DIR = render.REPO / "deploy" / "remediation"

READY_TIMEOUT = 60.0
TOKEN_ENV = "ALERT_WEBHOOK_TOKEN"
SECRET_KEY_ENV = "ALERT_WEBHOOK_SECRET_KEY"
# The dashboard's operator on the local stack; a new password every run.
LOCAL_OPERATOR = "operator"


@contextlib.contextmanager
def single_run(layout: Layout) -> Iterator[IO[str]]:
    """Hold var/run/stack.lock for the life of this run (and of stack.guard after
    the hand-over: the open lock goes with it); yields the open lock file."""
    lock_path = layout.run / "stack.lock"
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            pid = lock.read().strip() or "unknown"
            raise StackError(
                [
                    f"another `make up` is already running from {layout.root} (pid {pid}); "
                    "stop it with Ctrl-C first"
                ]
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield lock


def find_binaries(env: Mapping[str, str]) -> dict[str, str]:
    found, problems = {}, []
    for var in ("PROMETHEUS_BIN", "ALERTMANAGER_BIN"):
        try:
            found[var] = find_binary(var, env)
        except BinaryNotFound as exc:
            problems.append(str(exc))
    if problems:
        raise StackError(problems)
    return found


# The fast profile's lease on a remediation run: a webhook killed mid-run has
# its run taken over within seconds of the step's timeout, not half a minute.
FAST_LEASE_SECONDS = 5.0


def remediation_settings(
    layout: Layout, fast: bool, playbooks: Path = DEFAULT_PLAYBOOK_FILE, fleet: bool = False
) -> dict[str, Any]:
    """The local stack runs its playbooks: the demo comes back only through them.
    It runs a copy naming this run's files (render.STACK_ROOT moved to its root),
    with the fleet hosts' playbooks after them when `fleet` (an inventory);
    `fast` cuts the copy's cooldowns and windows too."""
    copy = render.render_playbooks(
        layout.run, playbooks, root=layout.root, fast=fast,
        fleet=FLEET_PLAYBOOK_FILE if fleet else None,
    )  # fmt: skip
    settings: dict[str, Any] = {"enabled": True, "playbooks_file": str(copy)}
    if fast:
        settings["lease_seconds"] = FAST_LEASE_SECONDS
    return settings


def fleet_settings(layout: Layout, inventory: Path) -> dict[str, Any]:
    """The webhook's `fleet:` for a stack watching `inventory`: the fleet playbooks'
    Ansible folder, the host keys the stack keeps (the demo hosts' are written
    there), and the demo fleet's key when that is the fleet (else the key comes
    from RECOVERY_STACK_SSH_KEY or the settings, docs/fleet.md)."""
    files = FleetFiles(layout.var / "fleet")
    ssh: dict[str, Any] = {"known_hosts": str(files.known_hosts)}
    if inventory == files.inventory:
        ssh["private_key_file"] = str(files.key)
    return {"inventory": str(inventory), "playbooks_dir": str(FLEET_ANSIBLE_DIR), "ssh": ssh}


def render_all(
    layout: Layout,
    ports: Mapping[str, int],
    token: str,
    fast: bool = False,
    operators: Mapping[str, str] | None = None,
    playbooks: Path = DEFAULT_PLAYBOOK_FILE,
    webhook_config: Path = render.DEFAULT_WEBHOOK_CONFIG,
    rule_params: Mapping[str, str] | None = None,
    inventory: Path | None = None,
) -> dict[str, Path]:
    """Every program's config for this run. `fast` (`make up FAST=1` and the
    integration tests): 1 s scrape, evaluation and probe intervals,
    `group_wait: 0s` and `group_interval: 1s`, every rule's `for` set to 0 s
    (and the thresholds of render.FAST_RULE_PARAMS), and the playbooks'
    cooldowns and windows cut to seconds. Either profile: the demo's programs are
    the system exporter's process groups. `operators`
    (name → password hash) are added to the webhook's; `playbooks` is the
    playbook file the webhook runs; `webhook_config` the webhook settings its
    copy is made from (your own channels and providers, say); `rule_params`
    rule parameters (rules/src/params.yml) over the profile's, the rules then
    rendered for this run (a test's lower threshold, say); `inventory` the Ansible
    inventory of the hosts to watch besides this machine (stack/targets.py)."""
    run = layout.run
    if not webhook_config.is_file():
        raise StackError([f"{webhook_config}: file not found"], exit_code=2)
    fleet = render_fleet(layout.root, ports, inventory)
    if fast:
        rule_files = render.render_rules(
            run / "rules",
            for_override="0s",
            params={**render.FAST_RULE_PARAMS, **(rule_params or {})},
        )
    elif rule_params:
        rule_files = render.render_rules(run / "rules", for_override=None, params=rule_params)
    else:
        rule_files = [str(render.REPO / "rules" / "*.yml")]
    remediation = remediation_settings(layout, fast, playbooks, fleet=fleet.inventory is not None)
    return {
        "prometheus": render.render_prometheus(
            run, ports, rule_files, interval="1s" if fast else None, fleet=scrape_configs(fleet)
        ),
        "alertmanager": render.render_alertmanager(run, ports, token, fast=fast),
        "webhook": render.render_webhook(
            run,
            ports,
            operators or {},
            remediation,
            render.dependency_failover(layout.dependency, ports, fast),
            webhook_config,
            fleet=fleet_settings(layout, fleet.inventory) if fleet.inventory else None,
            fast=fast,
        ),  # fmt: skip
        "probes": render.render_probes(
            run, ports, fast=fast, fleet_checks=[c for h in fleet.hosts for c in h.probe_checks()]
        ),
        "system_exporter": render.render_system_exporter(
            run, {name: layout.pidfile(name) for name in DEMO_PROGRAMS}
        ),
        "dependency": render.render_dependency(layout.dependency, ports),
        "targets": fleet.folder,
    }


def urls(ports: Mapping[str, int], names: Iterable[str] | None = None) -> dict[str, str]:
    """Each service's readiness URL (of `names`, else of all)."""
    wanted = set(names) if names is not None else {s.name for s in SERVICES}
    return {
        s.name: f"http://{HOST}:{ports[s.name]}{s.ready_path}" for s in SERVICES if s.name in wanted
    }


# The pages a person opens, by the service that serves them.
PAGES = (
    ("Prometheus UI", "prometheus", "/"),
    ("Alertmanager UI", "alertmanager", "/"),
    ("dashboard", "webhook", "/"),
)


def pages(ports: Mapping[str, int]) -> dict[str, str]:
    return {title: f"http://{HOST}:{ports[name]}{path}" for title, name, path in PAGES}


def wait_ready(
    pending_urls: Mapping[str, str],
    alive: Callable[[], bool],
    timeout: float = READY_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Names of the services not answering by `timeout` (empty when all are up)."""
    pending = dict(pending_urls)
    deadline = clock() + timeout
    while pending and alive() and clock() < deadline:
        for name, url in list(pending.items()):
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).ok:
                    del pending[name]
        if pending:
            sleep(0.25)
    return sorted(pending)


def session_key(layout: Layout, env: Mapping[str, str]) -> str:
    """The key that signs operators' sessions and the acknowledge links emailed out:
    the environment's, else one made on the first run and kept in `var/data` (owner
    only), so a link sent before a restart — or a complete failure — still works.
    Deleting the file ends every login and link at the next `make up`."""
    if key := env.get(SECRET_KEY_ENV):
        return key
    # Made once and owner-only, exactly as restic's repository password is.
    return ensure_password_file(layout.data / "webhook-secret-key").read_text().strip()


def local_operator(layout: Layout) -> dict[str, str]:
    """A login for this run's dashboard: the password goes to a file only its
    owner reads, the webhook gets its hash."""
    password = secrets.token_urlsafe(18)
    render.write_login(layout.run, LOCAL_OPERATOR, password)
    return {LOCAL_OPERATOR: generate_password_hash(password)}


def print_ready(out: IO[str], ports: Mapping[str, int], layout: Layout) -> None:
    print("recovery-stack is up. Open:", file=out)
    for title, url in pages(ports).items():
        print(f"  {title:<16} {url}", file=out)
    print("Ready endpoints (what make up waited for):", file=out)
    for name, url in urls(ports).items():
        print(f"  {name:<16} {url}", file=out)
    print(
        f"The webhook's bearer token (Alertmanager sends it): {layout.run / 'webhook-token'}",
        file=out,
    )
    print(
        f"Log in to the dashboard as {LOCAL_OPERATOR!r} (to acknowledge); the password is in "
        f"{layout.run / 'webhook-login'}",
        file=out,
    )
    print("Processes: .venv/bin/python -m stack ctl status (or restart NAME)", file=out)
    print(
        "Hosts and their exporters: .venv/bin/python -m stack hosts "
        "(--sync after the inventory changed)",
        file=out,
    )
    backups = BackupLayout(layout.root)
    print(
        f"Backups: restic snapshots in {backups.repository}, the Litestream replica in "
        f"{backups.replicas}; restore with .venv/bin/python -m stack restore (docs/backups.md)",
        file=out,
    )
    print("Press Ctrl-C to stop every process.", file=out, flush=True)


def start_watchers(layout: Layout) -> str | None:
    """Start Prometheus and the probe exporter; supervisorctl's complaint if it fails."""
    done = subprocess.run(
        ctl_argv(layout, ["start", *WATCHERS]), capture_output=True, text=True, check=False
    )
    return None if done.returncode == 0 else (done.stdout + done.stderr).strip()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(
    proc: subprocess.Popen[Any], signum: int = signal.SIGTERM, timeout: float = 30.0
) -> None:
    """Ask with `signum`, then kill what has not stopped within `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signum)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def up(
    root: Path,
    env: Mapping[str, str],
    out: IO[str] = sys.stdout,
    fast: bool = False,
    playbooks: Path = DEFAULT_PLAYBOOK_FILE,
    webhook_config: Path = render.DEFAULT_WEBHOOK_CONFIG,
    rule_params: Mapping[str, str] | None = None,
    inventory: Path | None = None,
    hosts: int = 0,
    hand_over: bool = False,
) -> int:
    """Run the stack until SIGINT/SIGTERM; `inventory`: watch its hosts too; `hosts`:
    that many demo hosts beside it (stack/demo_hosts.py), their inventory then the
    one the stack watches. `hand_over`: once up, wait as stack.guard (this process
    replaced by a small one, issue 27's idle cost) instead of here."""
    ports = ports_from_env(env)
    try:
        interval_from_env(env)  # read by the backup schedule: refused now, not in its log
    except BackupConfigError as exc:
        raise StackError([str(exc)], exit_code=2) from None
    try:
        drills = schedule_from_env(env)  # read by the drill schedule: refused now too
    except ScheduleError as exc:
        raise StackError([str(exc)], exit_code=2) from None
    layout = Layout(root)
    layout.make()
    fleet: list[subprocess.Popen[Any]] = []
    with single_run(layout) as lock, contextlib.ExitStack() as demo_hosts:
        check_ports_free(ports)
        if not drills:
            # Off: no schedule left behind for the overdue alert to hold this run to.
            unpublish(layout.textfile, layout.var / "drill")
        binaries = find_binaries(env)
        if hosts:
            if inventory is not None:
                raise StackError(["--hosts and --inventory: give one of them"], exit_code=2)
            inventory = demo_hosts.enter_context(demo_fleet(layout, hosts, ports, env, out, fleet))
        token = env.get(TOKEN_ENV) or secrets.token_urlsafe(32)
        configs = render_all(
            layout, ports, token, fast=fast, operators=local_operator(layout),
            playbooks=playbooks, webhook_config=webhook_config, rule_params=rule_params,
            inventory=inventory,
        )  # fmt: skip
        # supervisord's XML-RPC login, new each run: stack ctl reads it from the
        # config, the webhook (which restarts the demo) from its program's environment.
        login = Login.new()
        commands = programs(layout, ports, binaries, configs)
        replicate = bool(sqlite_sources(sources(root, env)))
        commands.update(backup_programs(layout, replicate))
        commands.update(drill_programs(layout, bool(drills)))
        conf = write_conf(layout, supervisord_conf(layout, commands, login))
        secret_key = session_key(layout, env)
        child_env = {**env, TOKEN_ENV: token, SECRET_KEY_ENV: secret_key}
        stopping = {"signal": 0}

        def on_signal(signum: int, _frame: object) -> None:
            stopping["signal"] = signum

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        profile = "the fast profile (seconds, not minutes)" if fast else "the plan's windows"
        print(
            f"starting the stack under supervisord with {profile} (logs in {layout.log}) ...",
            file=out,
        )
        supervisord = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
            env=child_env,
            cwd=root,
        )

        def alive() -> bool:
            return supervisord.poll() is None and not stopping["signal"]

        watched = [s.name for s in SERVICES if s.name not in WATCHERS]
        try:
            not_ready = wait_ready(urls(ports, watched), alive)
            if not not_ready and alive():
                if (problem := start_watchers(layout)) is not None:
                    print(f"could not start {', '.join(WATCHERS)}: {problem}", file=sys.stderr)
                    return 1
                not_ready = wait_ready(urls(ports, WATCHERS), alive)
            if stopping["signal"]:
                return 0
            if not_ready or supervisord.poll() is not None:
                for name in not_ready:
                    print(f"{name} did not become ready; the end of its log:", file=sys.stderr)
                    print(_tail(layout.log / f"{name}.log"), file=sys.stderr)
                return 1
            print_ready(out, ports, layout)
            if hand_over:
                become_guard(supervisord, fleet, lock, stopping)  # returns if a signal came first
            while supervisord.poll() is None and not stopping["signal"]:
                time.sleep(0.2)
            if supervisord.poll() is not None and not stopping["signal"]:
                print("supervisord exited; the stack is down", file=sys.stderr)
                return 1
            return 0
        finally:
            print("stopping the stack ...", file=out, flush=True)
            stop_process(supervisord)
            print("stopped.", file=out, flush=True)


def become_guard(
    supervisord: subprocess.Popen[Any],
    fleet: list[subprocess.Popen[Any]],
    lock: IO[str],
    stopping: Mapping[str, int],
) -> None:
    """Replace this process with stack.guard, which waits and stops the same children.

    The stop signals (and SIGCHLD) are blocked first, so one that comes during the
    exec stays pending for the guard; one that came before it is handled here."""
    waited = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    if not stopping["signal"] and supervisord.poll() is None:
        os.set_inheritable(lock.fileno(), True)
        plan = {"supervisord": supervisord.pid, "fleet": [p.pid for p in fleet]}
        argv = [sys.executable, "-m", "stack.guard", json.dumps(plan)]
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execv(sys.executable, argv)
        except OSError as exc:
            print(f"waiting here: could not start stack.guard ({exc})", file=sys.stderr)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, waited)


def _rule_params(given: list[str]) -> dict[str, str]:
    """`--rule-param NAME=VALUE`s as a mapping; a StackError naming a bad one."""
    bad = [g for g in given if "=" not in g or not g.split("=", 1)[0].strip()]
    if bad:
        raise StackError([f"--rule-param {b!r}: must be NAME=VALUE" for b in bad], exit_code=2)
    return {name.strip(): value.strip() for name, value in (g.split("=", 1) for g in given)}


def main(argv: list[str] | None = None) -> int:
    import argparse

    from stack.backups import cli as backups_cli
    from stack.ctl import ctl
    from stack.drill import cli as drill_cli
    from stack.hosts import hosts

    parser = argparse.ArgumentParser(
        prog="python -m stack",
        description="The local stack: run it, manage its processes, back it up and restore it.\n"
        "`python -m stack COMMAND --help` says more about each.",
        epilog="The Grafana dashboards are generated by a module of their own:\n"
        "  python -m stack.grafana [--check]   (docs/grafana.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (
        ("up", "run the whole stack in the foreground until Ctrl-C"),
        ("ctl", "supervisorctl on the running stack: status, restart NAME, tail -f NAME ..."),
        ("hosts", "each watched host and its exporter's state; exit 1 unless all are up"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--root", type=Path, default=Path.cwd(), help="folder that holds var/")
    # Listed here so --help names them; their own parser reads their arguments.
    for name, text in (*backups_cli.HELP, *drill_cli.HELP):
        sub = commands.add_parser(name, help=text, add_help=False)
        sub.add_argument("args", nargs=argparse.REMAINDER)
    commands.choices["up"].add_argument(
        "--fast",
        action="store_true",
        help="the integration tests' timings: 1 s intervals, every `for` 0 s, cooldowns of seconds",
    )
    commands.choices["up"].add_argument(
        "--playbooks",
        type=Path,
        default=DEFAULT_PLAYBOOK_FILE,
        help="the remediation playbook file the webhook runs (default: the shipped one)",
    )
    commands.choices["up"].add_argument(
        "--webhook-config",
        type=Path,
        default=render.DEFAULT_WEBHOOK_CONFIG,
        help="the webhook settings its copy is made from, e.g. with your own channels "
        "(default: alert_webhook/webhook.yml)",
    )
    commands.choices["up"].add_argument(
        "--rule-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a rule parameter (rules/src/params.yml) for this run, e.g. a lower threshold "
        "to try an alert; the rules are then rendered under var/run/rules",
    )
    commands.choices["up"].add_argument(
        "--inventory",
        type=Path,
        default=None,
        metavar="FILE",
        help="an Ansible inventory (YAML or INI): Prometheus watches each host's exporter and "
        "per-host jobs, the webhook reaches the same hosts (docs/fleet.md); default: this "
        "machine alone",
    )
    commands.choices["up"].add_argument(
        "--hosts",
        type=int,
        default=0,
        metavar="N",
        help="N demo hosts beside the stack (127.0.0.2 …), each with its own sshd and "
        "supervisord and its exporter installed by deploy/agent.yml; inventory: "
        "var/fleet/inventory.yml",
    )
    commands.choices["hosts"].add_argument(
        "--inventory",
        type=Path,
        default=None,
        metavar="FILE",
        help="the Ansible inventory (default: the running stack's, else this machine alone)",
    )
    commands.choices["hosts"].add_argument(
        "--sync",
        action="store_true",
        help="first re-render the running stack's targets from the inventory "
        "(Prometheus applies them without a restart)",
    )
    commands.choices["ctl"].add_argument(
        "args", nargs=argparse.REMAINDER, help="supervisorctl's own arguments"
    )
    args = parser.parse_args(argv)
    if args.command in backups_cli.COMMANDS:
        return backups_cli.main([args.command, *args.args])
    if args.command in drill_cli.COMMANDS:
        return drill_cli.main([args.command, *args.args])
    root = args.root.resolve()
    prefix = "make up" if args.command == "up" else f"stack {args.command}"
    try:
        if args.command == "ctl":
            return ctl(Layout(root), args.args)
        if args.command == "hosts":
            return hosts(root, os.environ, args.inventory, resync=args.sync)
        return up(
            root, os.environ, fast=args.fast, playbooks=args.playbooks,
            webhook_config=args.webhook_config, rule_params=_rule_params(args.rule_param),
            inventory=args.inventory, hosts=args.hosts, hand_over=True,
        )  # fmt: skip
    except StackError as exc:
        for problem in exc.problems:
            print(f"{prefix}: {problem}", file=sys.stderr)
        return exc.exit_code
