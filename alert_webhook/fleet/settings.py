"""The `fleet:` section of the webhook's settings: which inventory lists the
hosts, how Ansible reaches them, and the fleet-wide breaker's limits.

```yaml
fleet:
  inventory: /etc/recovery-stack/hosts.yml     # the operator's Ansible inventory
  ssh:
    user: remediation                          # a dedicated user: docs/fleet.md
    private_key_file: /etc/recovery-stack/id_ed25519   # mode 0600; or RECOVERY_STACK_SSH_KEY
    known_hosts: var/fleet/known_hosts         # the stack's own: host keys are checked
  playbooks_dir: /etc/recovery-stack/ansible   # the `ansible` action's playbooks
  breaker:
    max_failed: 3                # runs failed or ineffective in the window
    max_failed_share: 0.5        # of at least min_runs runs in the window
    max_hosts: 5                 # distinct hosts acted on in the window
    window: 30m
    resume_after: null           # null: only an operator resumes
```

Without `inventory` the fleet is this machine alone and remediation acts locally,
as it always has.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from toolkit.config import Duration, Strict

SSH_KEY_ENV = "RECOVERY_STACK_SSH_KEY"  # the private key's path, when not in settings


class SshSettings(Strict):
    # None: Ansible's default (the webhook's own user).
    user: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    # The key's path; None: from RECOVERY_STACK_SSH_KEY, else Ansible's default keys.
    private_key_file: Path | None = None
    # The host keys Ansible checks against (never StrictHostKeyChecking=no).
    known_hosts: Path = Path("var/fleet/known_hosts")
    connect_timeout: Duration = 10.0
    # One SSH connection per host kept open for reuse between runs.
    control_persist: Duration = 60.0
    # Modules piped over the connection rather than copied to the host first.
    pipelining: bool = True


class BreakerSettings(Strict):
    """When automation pauses itself for the whole fleet (any limit trips it)."""

    enabled: bool = True
    max_failed: int = Field(default=3, ge=1)
    max_failed_share: float = Field(default=0.5, gt=0, le=1)
    min_runs: int = Field(default=4, ge=1)  # the share is judged from this many runs on
    max_hosts: int = Field(default=5, ge=1)
    window: Duration = 1800.0
    resume_after: Duration | None = None


class FleetSettings(Strict):
    inventory: Path | None = None
    ssh: SshSettings = SshSettings()
    playbooks_dir: Path | None = None
    breaker: BreakerSettings = BreakerSettings()
