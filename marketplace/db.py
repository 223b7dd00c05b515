"""SQLAlchemy 2 engine and sessions: one unit of work per request or task."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from marketplace.config import Settings, get_settings
from workers import enqueue as _enqueue  # noqa: F401  (registers the after-commit hooks)

_engines: dict[str, Engine] = {}


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # More connections than the server's 40 request threads, so a burst never waits on the pool. A
    # server that does not answer fails a connection in seconds (``/ready`` says so), not minutes.
    connect_args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=30, connect_args=connect_args)


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = settings.effective_database_url
    if url not in _engines:
        if url.startswith("sqlite"):
            settings.ensure_home()
        _engines[url] = make_engine(url)
    return _engines[url]


def session_factory(settings: Settings | None = None) -> sessionmaker[Session]:
    """Sessions on the settings' database; each carries its settings (:func:`settings_of`)."""
    settings = settings or get_settings()
    return sessionmaker(bind=get_engine(settings), expire_on_commit=False, info={"settings": settings})


def settings_of(session: Session) -> Settings:
    """The settings a session was opened under (work started inside it, such as an in-process
    background task, runs against the same database and storage)."""
    settings = session.info.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


def sibling_factory(session: Session) -> sessionmaker[Session]:
    """New sessions on ``session``'s database and settings."""
    settings = settings_of(session)
    return sessionmaker(bind=session.get_bind(), expire_on_commit=False, info={"settings": settings})


@contextmanager
def session_scope(factory: Callable[[], Session] | None = None) -> Iterator[Session]:
    """Commit on success, roll back on error. Services never commit; this does."""
    session = (factory or session_factory())()
    try:
        yield session
    except BaseException:
        end_unit_of_work(session, failed=True)
        raise
    end_unit_of_work(session, failed=False)


def end_unit_of_work(session: Session, *, failed: bool) -> None:
    """How :func:`session_scope` ends, for a session opened elsewhere: roll back if the work
    ``failed``, else commit (and roll back if the commit fails); close either way."""
    try:
        if failed:
            session.rollback()
        else:
            try:
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        session.close()


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
