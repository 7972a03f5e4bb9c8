import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# The markers integration, chaos and browser, and the audit hook that enforces them.
pytest_plugins = ["support.lanes"]
