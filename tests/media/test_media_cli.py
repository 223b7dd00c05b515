"""``tilework job ingest``: a job being activated is ingested in the foreground with progress, and
``job show`` tells a failed activation's bad files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select

from marketplace.cli import main
from marketplace.config import Settings, get_settings
from marketplace.db import session_factory, session_scope
from marketplace.jobs.states import transition
from marketplace.models import Job, JobStatus, Rendition
from tests.assignments.conftest import activate_job_now
from tests.media.conftest import MixedJob, job_row


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("TILEWORK_HOME", str(settings.home))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _start_activation_without_running_it(settings: Settings, job_id: int) -> None:
    """What a funding does when its ingest task is lost (broker down at commit)."""
    with session_scope(session_factory(settings)) as s:
        job = s.get(Job, job_id)
        assert job is not None
        transition(job, JobStatus.ingesting)


def test_job_ingest_runs_a_lost_ingest_with_progress(
    cli_env: None, settings: Settings, mixed_job: MixedJob
) -> None:
    job = mixed_job(data=6, gt=3)
    _start_activation_without_running_it(settings, job["id"])
    token = job["requester"]["token"]
    r = CliRunner().invoke(main, ["job", "ingest", str(job["id"]), "--token", token], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "ingesting: 9 img" in r.output and "[active]" in r.output
    assert job_row(settings, job["id"]).status is JobStatus.active
    again = CliRunner().invoke(main, ["job", "ingest", str(job["id"]), "--token", token])
    assert again.exit_code == 0 and "[active]" in again.output  # nothing left to do: a no-op


def test_job_ingest_backfills_a_job_activated_before_renditions_existed(
    cli_env: None, settings: Settings, mixed_job: MixedJob
) -> None:
    """An upgrade: a job that was already open has no renditions (its workers get 404s); the command
    adds them and leaves the job open."""
    job = mixed_job(data=4, gt=2)
    activate_job_now(settings, job["id"])
    with session_scope(session_factory(settings)) as s:
        s.execute(delete(Rendition).where(Rendition.job_id == job["id"]))
    r = CliRunner().invoke(main, ["job", "ingest", str(job["id"]), "--token", job["requester"]["token"]])
    assert r.exit_code == 0, r.output
    with session_factory(settings)() as s:
        assert len(list(s.scalars(select(Rendition.id).where(Rendition.job_id == job["id"])))) == 6
    assert job_row(settings, job["id"]).status is JobStatus.active


def test_job_ingest_lists_the_bad_files_of_a_failed_activation(
    cli_env: None, settings: Settings, mixed_job: MixedJob
) -> None:
    job = mixed_job(data=4, gt=2)
    bad: Path = job["root"] / job["names"][2]
    bad.write_bytes(b"GIF89a" + b"\x00" * 10)
    _start_activation_without_running_it(settings, job["id"])
    token = job["requester"]["token"]
    r = CliRunner().invoke(main, ["job", "ingest", str(job["id"]), "--token", token])
    assert r.exit_code == 1
    assert "[failed]" in r.output and f"cannot be used: {bad.name}:" in r.output
