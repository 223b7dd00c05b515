"""Send background work only after the surrounding transaction commits.

``after_commit(session, fn)`` registers a callback on the session; the request/task unit of work
(``marketplace.deps.get_session`` and ``marketplace.db.session_scope``) runs the callbacks after a
successful commit and drops them on rollback, so a task never sees uncommitted or rolled-back rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "after_commit"
log = logging.getLogger(__name__)


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    session.info.setdefault(_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the data is committed; a periodic task picks up what was not sent
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_on_rollback(session: Session, previous_transaction: object) -> None:
    if not getattr(previous_transaction, "nested", False):
        session.info.pop(_KEY, None)
