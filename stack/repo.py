"""The repository's root folder, in a module of its own: a helper that only needs
the path (the backup schedule, Litestream's follower) then does not import
stack.render, which brings the webhook's playbooks, the demo's Flask app and the
probe exporter's checks (about 25 MiB resident for the life of the run)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
