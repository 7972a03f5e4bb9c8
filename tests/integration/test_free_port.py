"""tests/support/procs.py's free_port: a stack's services each get a port of
their own, never one the kernel handed out twice in a row."""

from support.procs import free_port


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
