"""A host of the demo fleet (and of the tests) reachable over SSH: Debian's own
sshd, on a loopback address of its own, with its own keys and configuration.

Nothing here touches the machine's sshd: each host's daemon reads only the
files under its own folder (`sshd -f`), listens on its own address and port,
accepts one public key, and never a password. `make up HOSTS=N` and the tests
start one per host.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SSHD_BIN_ENV = "SSHD_BIN"
# Debian installs it outside a user's PATH.
_SSHD_PLACES = ("/usr/sbin/sshd", "/sbin/sshd")
_SFTP_SERVER = "/usr/lib/openssh/sftp-server"


class SshdNotFound(Exception):
    pass


def find_sshd(env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    if explicit := env.get(SSHD_BIN_ENV):
        if found := shutil.which(explicit):
            return found
        raise SshdNotFound(f"{SSHD_BIN_ENV}={explicit}: no such executable")
    for place in (shutil.which("sshd"), *_SSHD_PLACES):
        if place and os.access(place, os.X_OK):
            return place
    raise SshdNotFound(
        "sshd not found: run `make up` (it installs Debian's openssh-server without "
        f"starting or enabling the machine's own sshd) or set {SSHD_BIN_ENV}"
    )


def make_key(path: Path, comment: str) -> Path:
    """An ed25519 key pair at `path` and `path`.pub (mode 0600), made once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            check=True,
            stdin=subprocess.DEVNULL,
        )
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class SshHost:
    """One host's sshd: `root` holds its host key, configuration, authorized key
    and pid file."""

    name: str
    address: str
    port: int
    root: Path

    @property
    def host_key(self) -> Path:
        return self.root / "ssh_host_ed25519_key"

    @property
    def config(self) -> Path:
        return self.root / "sshd_config"

    def prepare(self, client_public_key: Path) -> None:
        """The host key, the one authorized key and the configuration (idempotent)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        make_key(self.host_key, f"{self.name} host key")
        authorized = self.root / "authorized_keys"
        authorized.write_text(client_public_key.read_text())
        authorized.chmod(0o600)
        self.config.write_text(self.config_text())
        self.config.chmod(0o600)

    def config_text(self) -> str:
        user = getpass.getuser()
        lines = [
            f"ListenAddress {self.address}:{self.port}",
            f"HostKey {self.host_key}",
            f"PidFile {self.root / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
            f"AllowUsers {user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            # sshd's own check walks every folder up to / (a test's /tmp is 1777); the
            # key's folder is made 0700 above and holds nothing but this host's files.
            "StrictModes no",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "PrintMotd no",
            "LogLevel VERBOSE",
            # Ansible transfers modules over SFTP when it does not pipeline them.
            f"Subsystem sftp {_SFTP_SERVER}",
        ]
        return "\n".join(lines) + "\n"

    def known_hosts_line(self) -> str:
        """This host's key as a known_hosts entry for `[address]:port`."""
        kind, key, *_ = Path(f"{self.host_key}.pub").read_text().split()
        return f"[{self.address}]:{self.port} {kind} {key}\n"

    def argv(self, sshd: str) -> list[str]:
        """sshd in the foreground, logging to stderr (-e), reading only our file."""
        return [sshd, "-D", "-e", "-f", str(self.config)]


def privilege_separation_ready() -> None:
    """sshd started as root wants its privilege-separation folder (Debian's
    service makes it at boot; the demo's daemons do not go through the service)."""
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
