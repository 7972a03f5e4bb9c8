import configparser
import re
import shlex
import stat
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from stack.ports import StackError, ports_from_env
from stack.supervisor import (
    DEMO_PROGRAMS,
    Layout,
    Login,
    backup_programs,
    drill_programs,
    programs,
    supervisord_conf,
    write_conf,
)

LOGIN = Login("stack", "pw-for-tests")


def test_every_program_is_supervised_with_its_port(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    ports = ports_from_env({"DEMO_PORT": "18081"})
    configs = {
        name: tmp_path / f"{name}.yml"
        for name in ("prometheus", "alertmanager", "webhook", "probes", "system_exporter")
    }
    binaries = {"PROMETHEUS_BIN": "/bin/prom", "ALERTMANAGER_BIN": "/bin/am"}
    commands = programs(layout, ports, binaries, configs, python="/venv/python")
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(supervisord_conf(layout, commands, LOGIN))
    names = {s.split(":", 1)[1] for s in conf.sections() if s.startswith("program:")}
    assert names == {
        "prometheus",
        "alertmanager",
        "webhook",
        "system_exporter",
        "probe_exporter",
        "demo",
        "demo_worker",
        "dependency_primary",
        "dependency_secondary",
        "dependency_tertiary",
    }
    demo = conf["program:demo"]
    assert shlex.split(demo["command"]) == [
        "/venv/python", "-m", "demo", "--bind=127.0.0.1:18081",
        f"--data={layout.orders}", f"--dependency={layout.dependency}",
        f"--chaos-file={layout.demo / 'chaos.json'}", f"--pidfile={layout.pidfile('demo')}",
    ]  # fmt: skip
    worker = shlex.split(conf["program:demo_worker"]["command"])
    assert worker[3:] == [
        "worker", "--bind=127.0.0.1:8082", f"--data={layout.orders}",
        f"--pidfile={layout.pidfile('demo_worker')}",
    ]  # fmt: skip
    secondary = shlex.split(conf["program:dependency_secondary"]["command"])
    assert secondary[3:] == [
        "dependency", "--name=secondary", "--bind=127.0.0.1:8084",
        f"--pidfile={layout.pidfile('dependency_secondary')}",
    ]  # fmt: skip
    # Ctrl-C must take every child process with it.
    assert all(conf[f"program:{n}"]["stopasgroup"] == "true" for n in names)
    # Only the alert path brings the business services back; the stack's own
    # parts and the dependency's instances restart.
    business = {"demo", "demo_worker"}
    assert all(conf[f"program:{n}"]["autorestart"] == "false" for n in business)
    assert {n for n in names if conf[f"program:{n}"]["autorestart"] == "true"} == names - business
    am = shlex.split(conf["program:alertmanager"]["command"])
    assert "--cluster.listen-address=" in am
    # The watchers wait for the launcher: it starts them once the rest answers.
    assert {n for n in names if conf[f"program:{n}"]["autostart"] == "false"} == {
        "prometheus",
        "probe_exporter",
    }


def test_percent_signs_survive_supervisors_expansion(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    text = supervisord_conf(layout, {"x": ["echo", "100%"]}, LOGIN)
    assert "echo 100%%" in text


def test_the_xmlrpc_socket_takes_the_runs_login_and_supervisorctl_has_it(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(supervisord_conf(layout, {}, LOGIN))
    server, ctl = conf["unix_http_server"], conf["supervisorctl"]
    assert server["file"] == str(tmp_path / "var" / "run" / "supervisor.sock")
    assert (server["username"], server["password"]) == ("stack", "pw-for-tests")
    assert (ctl["username"], ctl["password"]) == ("stack", "pw-for-tests")
    assert ctl["serverurl"] == f"unix://{server['file']}"


def test_each_run_has_its_own_login_and_the_webhook_gets_it(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    first, second = Login.new(), Login.new()
    assert first.password != second.password and len(first.password) >= 32
    assert first.env(layout) == {
        "STACK_SUPERVISOR_URL": f"unix://{layout.socket}",
        "STACK_SUPERVISOR_USERNAME": "stack",
        "STACK_SUPERVISOR_PASSWORD": first.password,
    }


def test_the_config_holding_the_login_is_private_even_if_it_existed(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.make()
    layout.conf.write_text("old")
    layout.conf.chmod(0o644)
    path = write_conf(layout, "[supervisord]\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "[supervisord]\n"


def test_the_system_exporter_reads_its_config_and_the_backups_textfile_directory(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path)
    names = ("prometheus", "alertmanager", "webhook", "probes", "system_exporter")
    configs = {n: tmp_path / n for n in names}
    binaries = {"PROMETHEUS_BIN": "/bin/prom", "ALERTMANAGER_BIN": "/bin/am"}
    system = programs(layout, ports_from_env({}), binaries, configs)["system_exporter"]
    assert f"--collector.textfile.directory={tmp_path / 'var' / 'textfile'}" in system
    assert f"--config={tmp_path / 'system_exporter'}" in system
    layout.make()
    assert layout.textfile.is_dir()


def test_backups_and_litestream_are_supervised_programs(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    both = backup_programs(layout, replicate=True, python="/venv/python")
    root = ["--root", str(tmp_path)]
    assert both == {
        "backups": ["/venv/python", "-m", "stack", "backup-schedule", *root],
        "litestream": ["/venv/python", "-m", "stack", "replicate", *root],
    }
    # No SQLite store, nothing for Litestream: pg_dump snapshots only.
    assert set(backup_programs(layout, replicate=False)) == {"backups"}
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(supervisord_conf(layout, both, LOGIN))
    assert conf["program:backups"]["autorestart"] == "true"


def _parsed(conf: Path) -> dict[str, dict[str, str] | None]:
    """Each program's environment as supervisord itself reads the file."""
    options = ServerOptions()
    options.configfile = str(conf)
    options.process_config(do_usage=False)
    return {g.name: g.process_configs[0].environment for g in options.process_group_configs}


def test_only_the_webhook_gets_supervisords_login(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "a,b")  # a comma needs the quotes
    layout.make()
    commands = {"webhook": ["/bin/true"], "demo": ["/bin/true"]}
    environments = _parsed(write_conf(layout, supervisord_conf(layout, commands, LOGIN)))
    assert environments == {"webhook": LOGIN.env(layout), "demo": {}}


def test_a_value_supervisord_cannot_carry_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="STACK_SUPERVISOR_URL: a double quote"):
        supervisord_conf(Layout(tmp_path / 'a"b'), {"webhook": ["x"]}, LOGIN)


WORDS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen")  # fmt: skip
NUMBERS = {word: n for n, word in enumerate(WORDS, start=2)}
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_counts_the_programs_make_up_runs(tmp_path: Path) -> None:
    """README's "What `make up` runs" says how many programs, in words: the
    launcher's list decides, so the two cannot drift apart again."""
    layout = Layout(tmp_path)
    configs = {
        name: tmp_path / f"{name}.yml"
        for name in ("prometheus", "alertmanager", "webhook", "probes", "system_exporter")
    }
    binaries = {"PROMETHEUS_BIN": "/bin/prom", "ALERTMANAGER_BIN": "/bin/am"}
    stack_and_demo = programs(layout, ports_from_env({}), binaries, configs)
    backups = backup_programs(layout, replicate=True)  # the default store is SQLite
    demo = [name for name in stack_and_demo if name in DEMO_PROGRAMS]
    section = README.read_text().split("## What `make up` runs", 1)[1]
    said = " ".join(section.split("\n\n", 2)[1].split()).lower()
    found = re.match(
        r"(\w+) (?:processes|programs) under supervisord.*? the stack's (\w+) and the demo "
        r"system's (\w+) .*?and (\w+) (?:more )?that keep the backups",
        said,
    )
    assert found, said
    counts = [NUMBERS.get(word, word) for word in found.groups()]
    assert counts == [
        len(stack_and_demo) + len(backups),
        len(stack_and_demo) - len(demo),
        len(demo),
        len(backups),
    ], said


def test_the_drill_schedule_is_a_program_only_when_drills_are_on(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert drill_programs(layout, scheduled=False) == {}
    [(name, argv)] = drill_programs(layout, scheduled=True, python="py").items()
    assert (name, argv) == (
        "drills",
        ["py", "-m", "stack", "drill-schedule", "--root", str(tmp_path)],
    )
    section = README.read_text().split("## What `make up` runs", 1)[1]
    assert "a thirteenth\nruns the recovery drills when they are turned on" in section
