"""The schema comes from the migrations; they go up, down and up again on PostgreSQL and SQLite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from marketplace.migrations import downgrade, upgrade
from marketplace.models import Base
from tests.conftest import PG_ADMIN_URL, _pg_conninfo


@pytest.fixture
def scratch_pg() -> Iterator[str]:
    name = f"tilework_mig_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_conninfo(PG_ADMIN_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    expected = set(Base.metadata.tables)
    upgrade(url)
    assert _tables(url) == expected
    downgrade(url, "base")
    assert _tables(url) == set()
    upgrade(url)
    assert _tables(url) == expected


def test_upgrade_downgrade_upgrade_postgresql(scratch_pg: str) -> None:
    _round_trip(scratch_pg)


def test_upgrade_downgrade_upgrade_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'm.db'}")
