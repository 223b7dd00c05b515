from tests.payments.paytools import chain, dev_chain, rails, task_env  # noqa: F401
