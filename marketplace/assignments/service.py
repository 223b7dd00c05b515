"""The assignment server's domain logic. Takes a session, never commits.

Secrecy rule: everything returned to a worker is built by :func:`assignment_view`,
:func:`my_assignments` and :func:`open_jobs`, which treat GT and normal items through the same code
path (same token format, same URL builder, same fields) and never read ``is_gt`` or GT answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import issuing, repository, submit_repository, video
from marketplace.assignments import progress_repository as progress_repo
from marketplace.assignments.issuing import Claimed, choose_gt, place_items
from marketplace.assignments.schemas import (
    AssignmentOut,
    ExportAssignmentOut,
    ExportItemOut,
    InstructionsOut,
    ItemOut,
    MyAssignmentOut,
    OpenJobOut,
    ProgressOut,
    SubmissionIn,
    SubmitOut,
)
from marketplace.assignments.states import (
    NothingToClaim,
    check_assignment_move,
    claim_slot,
    promoted_deadline,
    release_slot,
)
from marketplace.assignments.validation import Rules, validate_submission
from marketplace.config import Settings
from marketplace.errors import (
    AlreadySubmitted,
    AssignmentExpired,
    JobNotActive,
    NotFound,
)
from marketplace.jobs import economics
from marketplace.jobs.attributes import AttributeSpec
from marketplace.jobs.service import get_job_for
from marketplace.media.service import item_url
from marketplace.models import (
    Assignment,
    AssignmentSlot,
    AssignmentStatus,
    ChunkImage,
    Job,
    JobStatus,
    User,
    utcnow,
)
from marketplace.telemetry import metrics

log = logging.getLogger(__name__)
_rng = secrets.SystemRandom()

SUBMITTABLE_JOB = frozenset({JobStatus.active, JobStatus.validating})
LAZY_EXPIRY_LIMIT = 50  # a claim returns a few overdue assignments; the periodic task does the rest
__all__ = ["NothingToClaim", "choose_gt", "place_items"]  # re-exported: callers use them from here


# -- opening a job for work -----------------------------------------------------------------------


def open_job_for_work(session: Session, job: Job) -> int:
    """Cut the job's non-GT images into chunks of ``assignment_size`` (each to be issued ``overlap``
    times) and start the usage statistics of its GT images. Idempotent; returns chunks created.

    A chunk is a random draw, not a run of consecutive files: in sequential data (video frames, burst
    photos, one camera's day) a run of neighbours would make the GT images mixed into it stand out as
    the only ones unlike the rest.

    A pipeline stage in sequence (``after_job_id``) starts with every chunk waiting and no GT image
    in use: :mod:`marketplace.flows.stage_sequence` opens them as the stage before finishes."""
    if repository.job_has_chunks(session, job.id):
        return 0
    if job.is_video:
        return video.open_video_job(session, job)
    data = repository.image_ids(session, job.id, gt=False)
    _rng.shuffle(data)
    groups = [data[i : i + job.assignment_size] for i in range(0, len(data), job.assignment_size)]
    waits = job.after_job_id is not None
    chunk_ids = repository.add_chunks(session, job.id, len(groups), job.overlap, waiting=waits)
    repository.add_rows(
        session,
        ChunkImage,
        [
            {"chunk_id": chunk_id, "position": position, "image_id": image_id}
            for chunk_id, group in zip(chunk_ids, groups, strict=True)
            for position, image_id in enumerate(group)
        ],
    )
    if not waits:
        open_gt_images(session, job.id, repository.image_ids(session, job.id, gt=True))
    return len(groups)


def open_gt_images(session: Session, job_id: int, image_ids: Sequence[int]) -> None:
    """Start the usage statistics of these GT images: from now on they are mixed into assignments
    (idempotent: two scorings may bring the same GT image into use at once)."""
    repository.add_gt_stats(session, job_id, image_ids)


# -- claiming -------------------------------------------------------------------------------------


def claim_in_job(
    session: Session,
    worker: User,
    job_id: int,
    settings: Settings,
    now: datetime | None = None,
    *,
    ahead: bool = False,
) -> AssignmentOut:
    """The worker's next assignment in this job (one short transaction).

    ``ahead=True`` claims ahead: a worker who holds exactly one active assignment in the job reserves
    one more (the ``next`` slot) under the same rules, so its images can be preloaded. Its deadline is
    the current one's deadline plus the job's time limit, and is re-based to a full time limit from
    the moment the current one is submitted (when it becomes current); if the current one expires
    instead, it becomes current with the deadline it has. Without ``ahead`` a worker holds at most one.
    """
    now = now or utcnow()
    repository.begin_write(session)
    found = repository.job_for_claim(session, job_id, worker.id)
    if found is None:
        raise NotFound(f"job {job_id} not found")
    job, banned, keep = found
    claimed = _claim(session, worker, job, banned, keep, now, ahead=ahead)
    metrics.after_commit(session, metrics.CLAIMS.inc)
    return _view(job, claimed, settings, now)


def claim_any(
    session: Session, worker: User, settings: Settings, now: datetime | None = None
) -> AssignmentOut:
    """The next assignment in any active job this worker can take (oldest job first)."""
    now = now or utcnow()
    repository.begin_write(session)
    for job, _free in progress_repo.open_jobs_for(session, worker.id, limit=100):
        if repository.holds_any(session, job.id, worker.id):
            continue
        repository.lock_worker_claims(session, job.id, worker.id)
        try:
            claimed = _claim(session, worker, job, False, repository.gt_keep(session, job.id, worker.id), now)
        except NothingToClaim:
            continue
        metrics.after_commit(session, metrics.CLAIMS.inc)
        return _view(job, claimed, settings, now)
    raise NothingToClaim("no_assignments_left", "no open job has an assignment for you right now")


def _claim(
    session: Session,
    worker: User,
    job: Job,
    banned: bool,
    keep: float,
    now: datetime,
    *,
    ahead: bool = False,
) -> Claimed:
    if job.status is not JobStatus.active:
        raise NothingToClaim("job_not_active", f"job {job.id} is {job.status.value}, not open for work")
    if banned:
        raise NothingToClaim("banned", f"you can no longer take assignments in job {job.id}")

    def lazy_expiry(locked: Sequence[Any] = ()) -> int:  # best effort: busy chunks are left for later
        return expire_overdue(
            session, now, job_id=job.id, limit=LAZY_EXPIRY_LIMIT, locked=locked, skip_busy=True
        )

    held = repository.lock_held(session, job.id, worker.id)
    if any(h.deadline <= now for h in held):  # my own overdue ones go back first (rows locked above)
        lazy_expiry(held)
        held = repository.lock_held(session, job.id, worker.id)
    mine = [(h.id, h.slot, h.deadline) for h in held]
    slot, deadline = claim_slot(job.id, mine, ahead, job.time_limit_s, now)
    if repository.is_postgres(session):
        taken = issuing.take(session, job, worker.id)
        if taken is None and lazy_expiry():
            taken = issuing.take(session, job, worker.id)  # expired ones went back
        if taken is None:
            raise NothingToClaim("no_assignments_left", f"job {job.id} has no assignment left for you")
        return issuing.issue_taken(session, job, taken, worker, keep, slot, deadline, now)
    chunk_id = repository.take_next_chunk(session, job.id, worker.id)
    if chunk_id is None and lazy_expiry():
        chunk_id = repository.take_next_chunk(session, job.id, worker.id)  # expired ones went back
    if chunk_id is None:
        raise NothingToClaim("no_assignments_left", f"job {job.id} has no assignment left for you")
    return issuing.issue(session, job, chunk_id, worker, keep, slot, deadline, now)


# -- what the worker sees -------------------------------------------------------------------------


def assignment_view(
    session: Session, job: Job, assignment: Assignment, settings: Settings, now: datetime
) -> AssignmentOut:
    """The assignment as its worker sees it. Items are listed only while it can still be worked on."""
    status = _shown_status(assignment, now)
    rows = repository.item_rows(session, assignment.id) if status is AssignmentStatus.assigned else []
    items = [(r.token, r.name, r.width, r.height, r.context) for r in rows]
    segment = video.segment_row(session, job, assignment.id)
    claimed = Claimed(assignment.id, assignment.deadline, items, segment)
    return _view(job, claimed, settings, now, status)


def _view(
    job: Job,
    claimed: Claimed,
    settings: Settings,
    now: datetime,
    status: AssignmentStatus = AssignmentStatus.assigned,
) -> AssignmentOut:
    """The one builder of what a worker sees of an assignment: every item, GT or not, goes through
    the same token, URL and size fields (items only while it can be worked on); every item of a
    video job adds its segment the same way."""
    items: list[ItemOut] = []
    if status is AssignmentStatus.assigned:
        for token, _name, width, height, context in claimed.items:
            item = ItemOut(
                item_id=token,
                image_url=item_url(settings, token),
                width=width,
                height=height,
                context=context or [],
            )
            items.append(video.with_segment(settings, job, item, claimed.segment))
    return AssignmentOut(
        assignment_id=claimed.id,
        job_id=job.id,
        job_type=job.type,
        status=status,
        deadline=claimed.deadline,
        time_limit_s=job.time_limit_s,
        instructions=InstructionsOut(title=job.title, description=job.description, guide_url=job.guide_url),
        labels=list(job.labels),
        attributes=[AttributeSpec(**a) for a in job.attributes or []],
        items=items,
    )


def _shown_status(assignment: Assignment, now: datetime) -> AssignmentStatus:
    if assignment.status is AssignmentStatus.assigned and assignment.deadline <= now:
        return AssignmentStatus.expired
    return assignment.status


def shown_score(job: Job, assignment: Assignment) -> float | None:
    """The score a worker sees of their own assignment. A video segment is one item, and only some
    segments hold GT frames: an accepted one shows no score, or a score below 1.0 would mark the
    segments that were checked. A rejected one (always a checked segment) shows it, for the appeal."""
    if job.is_video and assignment.status is not AssignmentStatus.rejected:
        return None
    return assignment.score


def get_my_assignment(
    session: Session, worker: User, assignment_id: int, settings: Settings, now: datetime | None = None
) -> AssignmentOut:
    now = now or utcnow()
    assignment = repository.get_assignment(session, assignment_id)
    if assignment is None or assignment.worker_id != worker.id:
        raise NotFound(f"assignment {assignment_id} not found")
    job = repository.get_job(session, assignment.job_id)
    assert job is not None
    return assignment_view(session, job, assignment, settings, now)


def my_assignments(
    session: Session, worker: User, *, limit: int = 50, offset: int = 0, now: datetime | None = None
) -> list[MyAssignmentOut]:
    now = now or utcnow()
    return [
        MyAssignmentOut(
            assignment_id=a.id,
            job_id=job.id,
            job_title=job.title,
            job_type=job.type,
            status=_shown_status(a, now),
            deadline=a.deadline,
            claimed_at=a.created_at,
            submitted_at=a.submitted_at,
            finished_at=a.finished_at,
            score=shown_score(job, a),
        )
        for a, job in repository.my_assignments(session, worker.id, limit=limit, offset=offset)
    ]


def open_jobs(session: Session, worker: User, settings: Settings, *, limit: int = 100) -> list[OpenJobOut]:
    """The job board: active jobs with free assignments, their pay and time limit."""
    out = []
    for job, free in progress_repo.open_jobs_for(session, worker.id, limit=limit):
        plan = economics.budget(
            job.bounty_amount,
            settings.platform_fee_bps,
            *job.work_units,
            job.overlap_cap,
        )
        out.append(
            OpenJobOut(
                job_id=job.id,
                title=job.title,
                type=job.type,
                description=job.description,
                guide_url=job.guide_url,
                labels=list(job.labels),
                currency=job.currency,
                pay_per_assignment=str(plan.pay_per_assignment),
                assignments_left=free,
                items_per_assignment=job.assignment_size + job.gt_per_assignment,
                time_limit_s=job.time_limit_s,
            )
        )
    return out


# -- expiry ---------------------------------------------------------------------------------------


def expire_overdue(
    session: Session,
    now: datetime | None = None,
    *,
    job_id: int | None = None,
    limit: int = 500,
    locked: Sequence[Any] = (),
    due_by: datetime | None = None,
    skip_busy: bool = False,
) -> int:
    """Return assignments past their deadline to the pool; returns how many.

    ``due_by`` (default ``now``): assignments whose deadline is at or before it are taken back; a
    cancelled job passes the end of time to withdraw every held assignment at once.

    ``locked``: held rows this transaction already locked (a claimer's own): the overdue ones among
    them go first, their chunks locked (waited for) before any other chunk. Other overdue assignments
    are taken with SKIP LOCKED, and with ``skip_busy`` (a claim's lazy expiry, the periodic sweep) so
    are their chunks: one whose chunk another transaction holds is left for later. Waiting there could
    close a cycle: two claims, each holding a chunk from an earlier statement, each waiting for the
    other's (a deadlock seen under load). A worker whose ``current`` assignment expired has their
    ``next`` one (if any) become current, with the deadline it has (it already counts from the current
    one's deadline).
    """
    now = now or utcnow()
    due_by = due_by or now
    own = {h.id: h for h in locked if h.deadline <= due_by}
    chunks = {c.id: c for c in repository.lock_chunks(session, [r.chunk_id for r in own.values()])}
    others = {
        row.id: row
        for row in repository.lock_overdue(session, due_by, job_id=job_id, limit=limit)
        if row.id not in own
    }
    wanted = [r.chunk_id for r in others.values() if r.chunk_id not in chunks]
    chunks |= {c.id: c for c in repository.lock_chunks(session, wanted, skip_locked=skip_busy)}
    overdue = own | {i: r for i, r in others.items() if r.chunk_id in chunks}
    if not overdue:
        return 0
    for row in overdue.values():
        check_assignment_move(row.id, AssignmentStatus.assigned, AssignmentStatus.expired)
    repository.mark_expired(session, sorted(overdue), now)
    for row in overdue.values():
        release_slot(chunks[row.chunk_id])
    current_gone = {(r.job_id, r.worker_id) for r in overdue.values() if r.slot is AssignmentSlot.current}
    for pair_job, worker_id in sorted(current_gone):
        repository.promote_next(session, pair_job, worker_id)
    session.flush()
    return len(overdue)


def withdraw_open_assignments(session: Session, job: Job) -> int:
    """A cancelled job: every assignment still held ends now and frees its chunk slot (a later
    submission gets the usual 409, since the job is no longer active). Returns how many."""
    end_of_time = datetime.max.replace(tzinfo=UTC)
    withdrawn = 0
    while count := expire_overdue(session, job_id=job.id, due_by=end_of_time):
        withdrawn += count
    return withdrawn


# -- submission -----------------------------------------------------------------------------------


def submission_hash(body: SubmissionIn) -> str:
    data = body.model_dump(mode="json")
    for item in data["items"]:  # an image answer hashes as it did before video items had tracks
        if item["tracks"] is None:
            del item["tracks"]
    data["items"] = sorted(data["items"], key=lambda item: item["item_id"])
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit(
    session: Session, worker: User, assignment_id: int, body: SubmissionIn, now: datetime | None = None
) -> SubmitOut:
    """Store the answers; scoring runs in the background after commit. Idempotent for the same body.

    Submitting the ``current`` assignment makes the worker's ``next`` one (claimed ahead) current,
    with a full time limit from now."""
    now = now or utcnow()
    repository.begin_write(session)
    postgres = repository.is_postgres(session)
    # the job key-share locked first, then the assignment (ordered against a cancel)
    row = submit_repository.lock_for_submit(session, assignment_id, with_items=postgres)
    if row is None or row.worker_id != worker.id:
        raise NotFound(f"assignment {assignment_id} not found")
    digest = submission_hash(body)
    if row.submission_hash is not None:
        return _replayed(row, digest)
    if row.status is AssignmentStatus.expired or row.deadline <= now:
        raise AssignmentExpired(
            f"assignment {assignment_id} expired at {row.deadline.isoformat()}; claim a new one",
        )
    if row.job_status not in SUBMITTABLE_JOB:
        raise JobNotActive(f"job {row.job_id} is {row.job_status.value}")
    check_assignment_move(row.id, row.status, AssignmentStatus.submitted)
    items = submit_repository.submit_items(row.items) if postgres else repository.item_rows(session, row.id)
    rules, segment = Rules(row.job_type, row.job_labels, row.job_attributes), video.segment_of(session, row)
    answers = validate_submission(rules, items, body, segment)
    stored = [
        {"item_pk": item.id, "answer": answers[item.token][0], "interactions": answers[item.token][1]}
        for item in items
    ]
    if postgres:  # answers and status in one statement, which also says whether a next one waits
        values = submit_repository.submitted_values(now, digest)
        has_next = submit_repository.store_submission(session, row.id, row.job_id, worker.id, stored, values)
    else:
        submit_repository.store_answers(session, stored)
        submit_repository.mark_submitted(session, row.id, now, digest)
        has_next = True  # promote_next finds out
    if row.slot is AssignmentSlot.current and has_next:
        repository.promote_next(session, row.job_id, worker.id, promoted_deadline(row.time_limit_s, now))
    metrics.after_commit(session, metrics.SUBMISSIONS.inc)
    return SubmitOut(assignment_id=row.id, status=AssignmentStatus.submitted, submitted_at=now)


def _replayed(assignment: Any, digest: str) -> SubmitOut:
    if assignment.submission_hash != digest:
        raise AlreadySubmitted(
            f"assignment {assignment.id} was already submitted with different answers",
        )
    assert assignment.submitted_at is not None
    return SubmitOut(
        assignment_id=assignment.id, status=assignment.status, submitted_at=assignment.submitted_at
    )


# -- requester views ------------------------------------------------------------------------------


def job_progress(session: Session, user: User, job_id: int) -> ProgressOut:
    job = get_job_for(session, user, job_id)
    chunks = progress_repo.chunk_status_counts(session, job.id)
    return ProgressOut(
        job_id=job.id,
        status=job.status,
        images_total=job.work_units[0],  # a video job: its segments
        images_done=progress_repo.images_in_done_chunks(session, job.id),
        chunks_total=sum(chunks.values()),
        chunks=chunks,
        assignments=progress_repo.assignment_status_counts(session, job.id),
    )


def export_submissions(session: Session, user: User, job_id: int) -> list[ExportAssignmentOut]:
    """Every submitted assignment with its answers and interaction records, per image name."""
    job = get_job_for(session, user, job_id)
    out = []
    for assignment, chunk_position in progress_repo.submitted_assignments(session, job.id):
        out.append(
            ExportAssignmentOut(
                assignment_id=assignment.id,
                worker_id=assignment.worker_id,
                chunk_position=chunk_position,
                status=assignment.status,
                score=assignment.score,
                submitted_at=assignment.submitted_at,
                items=[
                    ExportItemOut(
                        image=image.name,
                        position=item.position,
                        is_gt=item.is_gt,
                        answer=item.answer,
                        interactions=item.interactions,
                    )
                    for item, image in repository.items_with_images(session, assignment.id)
                ],
            )
        )
    return out
