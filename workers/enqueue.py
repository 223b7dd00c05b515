"""Send background work only after the surrounding transaction commits.

``enqueue(session, "domain.task_name", *args)`` is the one way code asks for background work: by the
task's registered name (so the caller imports no task module), after the commit. With a broker the
task is sent; without one (the embedded default, ``task_always_eager``) it runs in this process once
committed, or ``eager`` runs instead when the caller needs something else there.

``after_commit(session, fn)`` is the mechanism: the request/task unit of work
(``marketplace.deps.get_session`` and ``marketplace.db.session_scope``) runs the callbacks after a
successful commit and drops them on rollback, so a task never sees uncommitted or rolled-back rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

_KEY = "after_commit"
log = logging.getLogger(__name__)


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    session.info.setdefault(_KEY, []).append(callback)


_EAGER_FACTORIES: WeakKeyDictionary[Any, sessionmaker[Session]] = WeakKeyDictionary()


def eager_factory(bind: Any) -> sessionmaker[Session]:
    """One session factory per engine for in-process tasks (a ``sessionmaker`` is a new ``Session``
    subclass, whose event set-up on first use cost more CPU than a query, per request)."""
    factory = _EAGER_FACTORIES.get(bind)
    if factory is None:
        factory = _EAGER_FACTORIES[bind] = sessionmaker(bind=bind, expire_on_commit=False)
    return factory


def after_release(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback`` once the session's outermost transaction has ended and released its
    connection (called from an after-commit callback)."""
    fired = False

    def _fire(_session: Session, transaction: SessionTransaction) -> None:
        nonlocal fired
        if fired or transaction.parent is not None:
            return
        fired = True
        try:
            callback()
        except Exception:
            log.exception("in-process background task failed")

    event.listen(session, "after_transaction_end", _fire)


def enqueue_after_release(
    session: Session, task_name: str, run: Callable[[Callable[[], Session]], object], *args: object
) -> None:
    """:func:`enqueue`; without a broker ``run(factory)`` instead, in this process on the caller's own
    database, once the caller's connection is back in the pool (inside the commit it would hold two
    connections per request and can starve the pool under load)."""
    factory = eager_factory(session.get_bind())
    enqueue(session, task_name, *args, eager=lambda: after_release(session, lambda: run(factory)))


def enqueue(
    session: Session, task_name: str, *args: object, eager: Callable[[], object] | None = None
) -> None:
    """Run the task named ``task_name`` with ``args`` after ``session`` commits (see the module)."""

    def send() -> None:
        from workers.celery_app import celery_app

        if not celery_app.conf.task_always_eager:
            celery_app.send_task(task_name, args=args)
        elif eager is not None:
            eager()
        else:
            celery_app.loader.import_default_modules()  # the task modules register their names
            celery_app.tasks[task_name].apply(args=args)

    after_commit(session, send)


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
