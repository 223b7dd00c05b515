"""Fixtures of the video tests: the payment rails (a funded video job)."""

from tests.payments.paytools import chain, dev_chain, rails, task_env  # noqa: F401  (fixtures)
