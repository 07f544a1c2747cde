"""The authenticated API client of the integration tier, reused here."""
from tests.integration.conftest import api  # noqa: F401 - re-exported fixture
