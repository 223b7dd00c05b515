"""Activation: a funded job's images become serving renditions, then the job opens for work.

A video job's videos become frame chunks and a manifest each instead (:mod:`marketplace.media.video`),
counted one video at a time, and it opens cut into segments; the rest is the same.

1. :func:`activate` (in the funding's transaction): the job becomes ``ingesting`` and its ingest is
   sent after the commit, to a Celery worker or, without a broker, run in this process;
2. :func:`run_ingest` reads every original once, makes its rendition and stores it in platform
   storage under a random key, recording progress on the job after every batch (the dashboard and
   ``tilework job show`` read it). It resumes where it stopped (images with a rendition are
   skipped) and two runs at once do no harm (the first rendition of an image is kept);
3. :func:`finish_ingest`: with every image rendered the job becomes ``active``, the platform fee is
   taken and the images are cut into chunks, in one transaction on the locked job. If any file
   could not be made into a rendition, nothing opens: the job becomes ``failed`` with the list of
   bad files, its renditions are dropped, and all its money (no fee: the job never ran) goes back to
   the requester, as for any funded job that cannot start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import service as assignments
from marketplace.config import Settings
from marketplace.db import session_scope, settings_of, sibling_factory
from marketplace.errors import TileworkError
from marketplace.jobs import repository as jobs_repo
from marketplace.jobs.states import transition
from marketplace.media import service as media
from marketplace.media.service import IngestFailure
from marketplace.media.video_ingest import ingest_video
from marketplace.models import FundingStatus, Job, JobStatus
from marketplace.payments import repository as payments_repo
from marketplace.payments import service as payments
from marketplace.payouts import service as payouts
from workers.enqueue import after_commit, enqueue

log = logging.getLogger(__name__)

BATCH = 32
#: open jobs whose missing renditions :func:`run_ingest` makes without touching their status
BACKFILLED = (JobStatus.active, JobStatus.validating)
MAX_LISTED_FAILURES = 1000
#: while one video is being ingested the job's progress is touched this often (seconds); the
#: stalled-ingest sweep (``media.tasks.STALLED_AFTER_S``) waits far longer
VIDEO_ALIVE_EVERY_S = 30.0
#: progress(done, total) after every image
IngestProgress = Callable[[int, int], None]


def activate(session: Session, job: Job) -> None:
    """The job's money is secured: make its renditions (after commit), then open it for work."""
    transition(job, JobStatus.ingesting)
    job.ingested_count = 0
    job.ingest_errors = None
    session.flush()  # written now: a caller may refresh the job from the database before committing
    factory, settings, job_id = sibling_factory(session), settings_of(session), job.id
    enqueue(session, "media.ingest_job", job_id, eager=lambda: run_ingest(factory, settings, job_id))


def run_ingest(
    factory: Callable[[], Session],
    settings: Settings,
    job_id: int,
    progress: IngestProgress | None = None,
) -> JobStatus | None:
    """Ingest what is left of an ``ingesting`` job, then finish its activation. Returns the job's
    status afterwards (None: no such job).

    A job already open for work (``active``/``validating``) that lacks renditions (it was activated
    before renditions existed) gets them here without changing status; files that fail are logged
    and keep answering 404 to workers. A job in any other status is left alone."""
    with session_scope(factory) as session:
        job = jobs_repo.get_job(session, job_id)
        if job is None or job.status not in (JobStatus.ingesting, *BACKFILLED):
            return None if job is None else job.status
        status, data_uri, total, is_video = job.status, job.data_uri, job.image_count, job.is_video
        todo = media.images_to_ingest(session, job_id) if not is_video else []
        videos = media.videos_to_ingest(session, job_id) if is_video else []
    if is_video:
        failures = _ingest_videos(factory, settings, job_id, data_uri, videos, total, progress)
    else:
        failures = _ingest(factory, settings, job_id, data_uri, todo, total, progress)
    if status in BACKFILLED:
        for failure in failures:
            log.error("job %s: %s cannot be made into a rendition: %s", job_id, failure.name, failure.reason)
        return status
    with session_scope(factory) as session:
        return finish_ingest(session, settings, job_id, failures)


def _ingest(
    factory: Callable[[], Session],
    settings: Settings,
    job_id: int,
    data_uri: str,
    todo: list[media.ToIngest],
    total: int,
    progress: IngestProgress | None,
) -> list[IngestFailure]:
    try:
        source = media.source_storage(data_uri, settings)
    except TileworkError as exc:  # the whole folder moved, the bucket is gone
        return [IngestFailure("(the job's data location)", exc.detail)]
    platform = media.platform_storage(settings)
    failures: list[IngestFailure] = []
    batch: list[dict[str, Any]] = []
    done = total - len(todo)
    for result in media.ingest_many(source, platform, job_id, todo, settings):
        if isinstance(result, IngestFailure):
            failures.append(result)
        else:
            batch.append(result)
        done += 1
        if progress is not None:
            progress(done, total)
        if len(batch) >= BATCH:
            _save(factory, job_id, batch)
            batch = []
    _save(factory, job_id, batch)
    return failures


def _ingest_videos(
    factory: Callable[[], Session],
    settings: Settings,
    job_id: int,
    data_uri: str,
    todo: list[media.VideoToIngest],
    total: int,
    progress: IngestProgress | None,
) -> list[IngestFailure]:
    """Each video into frame chunks, one at a time (a video already keeps the decoder and the JPEG
    encoders busy); recorded as soon as it is stored, so a resumed ingest skips it."""
    try:
        source = media.source_storage(data_uri, settings)
    except TileworkError as exc:
        return [IngestFailure("(the job's data location)", exc.detail)]
    platform = media.platform_storage(settings)
    failures: list[IngestFailure] = []
    done = total - len(todo)
    last_touch = time.monotonic()

    def alive(frames_done: int, frames_total: int) -> None:
        """A long video keeps the job's progress moving, so the stalled-ingest sweep leaves it be."""
        nonlocal last_touch
        if time.monotonic() - last_touch >= VIDEO_ALIVE_EVERY_S:
            last_touch = time.monotonic()
            with session_scope(factory) as session:
                media.touch_ingest(session, job_id)

    for item in todo:
        stored = ingest_video(source, platform, job_id, item.name, settings, progress=alive)
        row = stored if isinstance(stored, IngestFailure) else media.video_row(item, stored)
        if isinstance(row, IngestFailure):
            failures.append(row)
        else:
            with session_scope(factory) as session:
                media.save_video(session, job_id, row)
        done += 1
        if progress is not None:
            progress(done, total)
    return failures


def _save(factory: Callable[[], Session], job_id: int, rows: list[dict[str, Any]]) -> None:
    if rows:
        with session_scope(factory) as session:
            media.save_renditions(session, job_id, rows)


def finish_ingest(
    session: Session, settings: Settings, job_id: int, failures: list[IngestFailure]
) -> JobStatus | None:
    """Open the job for work, or fail its activation with the list of bad files (job row locked)."""
    job = jobs_repo.get_job(session, job_id, for_update=True)
    if job is None or job.status is not JobStatus.ingesting:
        return None if job is None else job.status
    if failures:
        fail_activation(session, settings, job, failures)
        return job.status
    left = (
        media.videos_to_ingest(session, job_id) if job.is_video else media.images_to_ingest(session, job_id)
    )
    if left:  # a concurrent run is still writing its batch
        return job.status
    job.ingested_count = job.image_count
    transition(job, JobStatus.active)
    funding = payments_repo.funding_for_job(session, job.id)
    if funding is not None and funding.status is FundingStatus.succeeded:
        payments.take_fee(session, funding)
    assignments.open_job_for_work(session, job)
    return job.status


def fail_activation(session: Session, settings: Settings, job: Job, failures: list[IngestFailure]) -> None:
    """Nothing of the job opens: it fails with its bad files listed, and its money goes back."""
    log.warning("job %s: %s file(s) could not be ingested; activation failed", job.id, len(failures))
    job.ingest_errors = [f.as_dict() for f in failures[:MAX_LISTED_FAILURES]]
    transition(job, JobStatus.failed)
    media.forget_renditions(session, job.id)
    job_id = job.id
    after_commit(session, lambda: media.delete_rendition_objects(settings, job_id))
    funding = payments_repo.funding_for_job(session, job.id, lock=True)
    if funding is not None and funding.status is FundingStatus.succeeded:
        payouts.settle(session, job, action="cancel")
