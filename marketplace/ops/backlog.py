"""Backlogs read when ``/metrics`` is scraped: the payout outbox and the Celery queue."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from marketplace.config import Settings
from marketplace.ops.checks import redis_client
from marketplace.payouts.repository import outbox_depth

CELERY_QUEUE = "tilework"
log = logging.getLogger(__name__)


def backlog_reader(
    settings: Settings, sessions: Callable[[], Session]
) -> Callable[[], dict[str, float | None]]:
    def read() -> dict[str, float | None]:
        values: dict[str, float | None] = {"payout_outbox_depth": None, "celery_queue_length": None}
        try:
            with sessions() as session:
                values["payout_outbox_depth"] = outbox_depth(session)
        except Exception:  # a scrape must not fail because one part is down; /ready says which
            log.warning("metrics: payout outbox depth not readable", exc_info=True)
        if settings.redis_url:
            try:
                values["celery_queue_length"] = int(redis_client(settings.redis_url).llen(CELERY_QUEUE))
            except Exception:
                log.warning("metrics: Celery queue length not readable", exc_info=True)
        return values

    return read
