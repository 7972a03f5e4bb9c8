"""Which connection the HTTP front closes, and when: the limits against slow and
greedy clients, as decisions over what the front knows of each connection.

waitress closes a connection only after it has been *silent* for its idle
timeout, and stops accepting at its connection limit. A slowloris client is
never silent — it sends one more header line every few seconds — so a thousand
of them from one machine held every place and `/healthz` and `POST /alerts`
waited in the listen backlog (issue 26). Two limits end that:

- **The request deadline.** A connection must deliver a whole request (headers
  and body) within `request_deadline_seconds` of the request's first byte, or
  of connecting for its first request, or it is closed. A kept-alive connection
  waiting between whole requests is not on the clock (the idle timeout is);
  bytes that finish no request, blank lines too, put it back on.
- **Connections per client address.** When an address already has
  `connections_per_address` open, a new one from it takes the place of its
  *oldest unfinished* one (connected or receiving a request, none being
  answered), which is closed at once. A slow client's connections are exactly
  the unfinished ones, so opening more only costs it its own oldest; a client
  sending whole requests from the same address (Alertmanager beside it, a proxy)
  is served rather than refused. Only when none of the address's connections is
  unfinished — all are being answered or wait between requests — is the new
  connection closed instead. IPv6 clients count by /64, the prefix one
  subscriber usually holds.

The front (front.py) tracks `receiving_since` on each connection and applies
these; they read no clock of their own.
"""

from __future__ import annotations

import ipaddress
import resource
from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

# Past the hard limit nothing can be asked; this stands in for "unlimited".
OPEN_FILES_CEILING = 1 << 20


class Connection(Protocol):
    # When the request being received began (its first byte, or the connection
    # for the first request); None between whole requests.
    receiving_since: float | None

    @property
    def answering(self) -> bool:
        """A whole request of this connection is queued or being answered."""
        ...


C = TypeVar("C", bound=Connection)


def unfinished(conn: Connection) -> bool:
    return conn.receiving_since is not None and not conn.answering


def overdue(conns: Iterable[C], now: float, deadline_seconds: float) -> list[C]:
    """The connections that have not delivered a whole request in time."""
    cutoff = now - deadline_seconds
    return [
        c
        for c in conns
        if unfinished(c) and c.receiving_since is not None and c.receiving_since <= cutoff
    ]


def to_make_room(peers: Iterable[C]) -> C | None:
    """The connection of a full address that gives way to a new one: its oldest
    unfinished one; None when all are answered or wait between requests."""
    candidates = [c for c in peers if unfinished(c)]
    return min(candidates, key=lambda c: c.receiving_since or 0.0, default=None)


def client_key(host: str) -> str:
    """What connections are counted by: the IPv4 address, or the IPv6 /64."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def raise_open_files_limit(
    getrlimit: Callable[[int], tuple[int, int]] = resource.getrlimit,
    setrlimit: Callable[[int, tuple[int, int]], None] = resource.setrlimit,
) -> int:
    """Raise this process's soft limit of open files to its hard limit; return
    the soft limit in force. Every connection is a descriptor, and a soft limit
    of 1,024 (systemd's and most shells' default) is below the front's
    connection limit plus the store's files: accept() would fail first."""
    soft, hard = getrlimit(resource.RLIMIT_NOFILE)
    target = OPEN_FILES_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft
