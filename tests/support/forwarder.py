"""A small TCP forwarder: a port on this host that relays to a server elsewhere.

The stack reaches the demo's dependency instances at 127.0.0.1:<port> (its
probes, the failover health checks, the orders API). A chaos test that moves
an instance behind a link it can cut (tests/support/faults.py `isolated_host`)
puts one of these on the instance's loopback port: every connection accepted
there is relayed to the instance's new address, so while the link is cut the
connection is accepted and then nothing comes back — the client's read hangs
until its own timeout, as across a partition, rather than being refused.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

# Longer than any client here waits: a connect across a cut link is left to
# hang, as the client's own would, and given up only long after it has left.
CONNECT_TIMEOUT = 60.0
_CHUNK = 1 << 16


class Forwarder:
    """Accepts on `listen` and relays each connection to `target`, both ways."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server(listen, reuse_port=False)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="forwarder", daemon=True).start()

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._closed.is_set():
                sock.close()
                return False
            self._open.add(sock)
            return True

    def _drop(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._open.discard(sock)
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self._track(client):
                threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=CONNECT_TIMEOUT)
        except OSError:
            self._drop(client)
            return
        upstream.settimeout(None)
        if not self._track(upstream):
            self._drop(client)
            return
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        self._drop(client, upstream)

    def close(self) -> None:
        """Stop accepting and close every relayed connection."""
        self._closed.set()
        self._server.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until `source` ends, then end `sink`'s writing side (half-close)."""
    with contextlib.suppress(OSError):
        while chunk := source.recv(_CHUNK):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def forwarding(listen: tuple[str, int], target: tuple[str, int]) -> Iterator[Forwarder]:
    """A forwarder from `listen` to `target` for the block, always closed."""
    forwarder = Forwarder(listen, target)
    try:
        yield forwarder
    finally:
        forwarder.close()
