import configparser
import shlex
from pathlib import Path

from stack.ports import ports_from_env
from stack.supervisor import Layout, programs, supervisord_conf


def test_every_program_is_supervised_with_its_port(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    ports = ports_from_env({"DEMO_PORT": "18081"})
    configs = {
        name: tmp_path / f"{name}.yml"
        for name in ("prometheus", "alertmanager", "webhook", "probes")
    }
    binaries = {"PROMETHEUS_BIN": "/bin/prom", "ALERTMANAGER_BIN": "/bin/am"}
    commands = programs(layout, ports, binaries, configs, python="/venv/python")
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(supervisord_conf(layout, commands))
    names = {s.split(":", 1)[1] for s in conf.sections() if s.startswith("program:")}
    assert names == {
        "prometheus",
        "alertmanager",
        "webhook",
        "system_exporter",
        "probe_exporter",
        "demo",
    }
    demo = conf["program:demo"]
    assert shlex.split(demo["command"]) == ["/venv/python", "-m", "demo", "--bind=127.0.0.1:18081"]
    # Ctrl-C must take every child process with it.
    assert all(conf[f"program:{n}"]["stopasgroup"] == "true" for n in names)
    assert demo["autorestart"] == "unexpected"
    assert conf["program:webhook"]["autorestart"] == "true"
    am = shlex.split(conf["program:alertmanager"]["command"])
    assert "--cluster.listen-address=" in am
    # The watchers wait for the launcher: it starts them once the rest answers.
    assert {n for n in names if conf[f"program:{n}"]["autostart"] == "false"} == {
        "prometheus",
        "probe_exporter",
    }


def test_percent_signs_survive_supervisors_expansion(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    text = supervisord_conf(layout, {"x": ["echo", "100%"]})
    assert "echo 100%%" in text
