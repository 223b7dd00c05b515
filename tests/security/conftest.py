"""Fixtures of the hostile-input tests: active jobs with claims and disputes (reused from the
assignment and quality suites)."""

from tests.assignments.conftest import make_job  # noqa: F401  (fixture)
from tests.payments.paytools import chain, dev_chain, rails, task_env  # noqa: F401  (fixtures)
from tests.quality_db.conftest import quality_job  # noqa: F401  (fixture)
