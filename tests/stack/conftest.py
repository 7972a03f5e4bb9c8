import pytest
from backup_support import needs_restic


@pytest.fixture
def restic_installed() -> None:
    """The backup tests run the real restic, which `make setup-test` installs."""
    needs_restic()
