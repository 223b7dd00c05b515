"""The reviews tests use the quality engine's job fixtures."""

from tests.quality_db.conftest import quality_job  # noqa: F401  (fixture)
