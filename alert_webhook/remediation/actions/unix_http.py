"""HTTP and XML-RPC over a unix socket: how supervisord and the Docker Engine listen."""

from __future__ import annotations

import http.client
import socket
import xmlrpc.client


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection whose socket is a unix one at `path`; `timeout` bounds the
    connect and every read, so a hung peer cannot hold a run past its timeout."""

    def __init__(self, path: str, timeout: float) -> None:
        # The host only fills the Host header; the socket's path decides where it goes.
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class UnixTransport(xmlrpc.client.Transport):
    """xmlrpc.client's transport on a unix socket, with a timeout (supervisor's own
    transport has none, and a hung supervisord would hang the action)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host: object) -> http.client.HTTPConnection:
        conn = self._connection[1]
        if conn is None:
            # The base class reads the basic-auth login from the URL's host here.
            _, self._extra_headers, _ = self.get_host_info(host)  # type: ignore[arg-type]
            conn = UnixHTTPConnection(self._path, self._timeout)
            # Kept where the base class keeps it, so closing the proxy closes it.
            self._connection = (host, conn)  # type: ignore[assignment]
        return conn


class TimeoutTransport(xmlrpc.client.Transport):
    """xmlrpc.client's TCP transport with a timeout on the connection."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: object) -> http.client.HTTPConnection:
        conn = super().make_connection(host)  # type: ignore[arg-type]
        conn.timeout = self._timeout
        return conn
