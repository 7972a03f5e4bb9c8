import socket

import pytest

from stack.ports import SERVICES, StackError, check_ports_free, port_in_use, ports_from_env


def test_defaults_are_designs_ports() -> None:
    assert ports_from_env({}) == {
        "prometheus": 9090,
        "alertmanager": 9093,
        "webhook": 9095,
        "system_exporter": 9101,
        "probe_exporter": 9102,
        "demo": 8081,
        "demo_worker": 8082,
        "dependency_primary": 8083,
        "dependency_secondary": 8084,
        "dependency_tertiary": 8085,
    }


def test_each_port_moves_by_its_variable() -> None:
    ports = ports_from_env({"PROMETHEUS_PORT": "19090", "DEMO_PORT": "18081"})
    assert ports["prometheus"] == 19090 and ports["demo"] == 18081
    assert ports["webhook"] == 9095


def test_bad_values_are_all_reported_with_exit_2() -> None:
    with pytest.raises(StackError) as info:
        ports_from_env({"PROMETHEUS_PORT": "http", "WEBHOOK_PORT": "70000", "DEMO_PORT": "9093"})
    assert info.value.exit_code == 2
    text = str(info.value)
    assert "PROMETHEUS_PORT=http: must be a port number" in text
    assert "WEBHOOK_PORT=70000" in text
    assert "port 9093 is given to both alertmanager and demo" in text


def test_a_taken_port_is_named_with_its_service() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use(port)
        ports = {s.name: 0 for s in SERVICES} | {"webhook": port}
        ports = {name: (p or _free()) for name, p in ports.items()}
        with pytest.raises(StackError) as info:
            check_ports_free(ports)
    assert f"port {port} (webhook) is already in use" in str(info.value)
    assert "WEBHOOK_PORT" in str(info.value)


def _free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
