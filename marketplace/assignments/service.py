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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.assignments import repository
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
from marketplace.assignments.scoring import Annotation, GtItem, get_scorer
from marketplace.assignments.states import (
    move_assignment,
    record_acceptance,
    record_rejection,
    release_slot,
    take_slot,
)
from marketplace.config import Settings
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.jobs import economics
from marketplace.jobs.service import get_job_for
from marketplace.models import (
    Assignment,
    AssignmentItem,
    AssignmentStatus,
    Chunk,
    ChunkImage,
    GtImageStat,
    Job,
    JobImage,
    JobStatus,
    JobType,
    User,
    utcnow,
)
from marketplace.payouts import hooks as payout_hooks
from marketplace.storage import signed_file_url

log = logging.getLogger(__name__)
_rng = secrets.SystemRandom()

ITEM_TOKEN_BYTES = 16  # 22 url-safe characters, the same for every item
SUBMITTABLE_JOB = frozenset({JobStatus.active, JobStatus.validating})
GEOMETRY_SLACK = 1e-6
URL_GRACE_S = 120
LAZY_EXPIRY_LIMIT = 50  # a claim returns a few overdue assignments; the periodic task does the rest


class NothingToClaim(Conflict):
    """No assignment for this worker right now; ``reason`` says why (409 with a JSON body)."""

    code = "nothing_available"

    def __init__(self, reason: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, extra={"reason": reason, **extra})


# -- opening a job for work -----------------------------------------------------------------------


def open_job_for_work(session: Session, job: Job) -> int:
    """Cut the job's non-GT images into chunks of ``assignment_size`` (each to be issued ``overlap``
    times) and start the usage statistics of its GT images. Idempotent; returns chunks created."""
    if repository.job_has_chunks(session, job.id):
        return 0
    data = repository.image_ids(session, job.id, gt=False)
    groups = [data[i : i + job.assignment_size] for i in range(0, len(data), job.assignment_size)]
    chunk_ids = repository.add_chunks(session, job.id, len(groups), job.overlap)
    repository.add_rows(
        session,
        ChunkImage,
        [
            {"chunk_id": chunk_id, "position": position, "image_id": image_id}
            for chunk_id, group in zip(chunk_ids, groups, strict=True)
            for position, image_id in enumerate(group)
        ],
    )
    gt_ids = repository.image_ids(session, job.id, gt=True)
    repository.add_rows(session, GtImageStat, [{"image_id": i, "job_id": job.id, "uses": 0} for i in gt_ids])
    return len(groups)


# -- GT picking and item placement (pure) ---------------------------------------------------------


def choose_gt(candidates: Sequence[tuple[int, int]], seen: set[int], k: int, rng: Any = _rng) -> list[int]:
    """``k`` GT images: unseen by this worker first, then least used, at random among equals."""
    ranked = sorted(candidates, key=lambda c: (c[0] in seen, c[1], rng.random()))
    return [image_id for image_id, _ in ranked[:k]]


def place_items(real: Sequence[int], gt: Sequence[int], rng: Any = _rng) -> list[tuple[int, bool]]:
    """Real images in chunk order with the GT images dropped in at random positions."""
    total = len(real) + len(gt)
    gt_positions = set(rng.sample(range(total), len(gt)))
    real_iter, gt_iter = iter(real), iter(gt)
    return [(next(gt_iter), True) if p in gt_positions else (next(real_iter), False) for p in range(total)]


def new_item_token() -> str:
    return secrets.token_urlsafe(ITEM_TOKEN_BYTES)


# -- claiming -------------------------------------------------------------------------------------


def claim_in_job(
    session: Session, worker: User, job_id: int, settings: Settings, now: datetime | None = None
) -> AssignmentOut:
    """The worker's next assignment in this job (one short transaction)."""
    now = now or utcnow()
    repository.begin_write(session)
    job = repository.get_job(session, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    assignment = _claim(session, worker, job, now)
    return assignment_view(session, job, assignment, settings, now)


def claim_any(
    session: Session, worker: User, settings: Settings, now: datetime | None = None
) -> AssignmentOut:
    """The next assignment in any active job this worker can take (oldest job first)."""
    now = now or utcnow()
    repository.begin_write(session)
    for job, _free in repository.open_jobs_for(session, worker.id, limit=100):
        if repository.active_assignment(session, job.id, worker.id) is not None:
            continue
        try:
            assignment = _claim(session, worker, job, now)
        except NothingToClaim:
            continue
        return assignment_view(session, job, assignment, settings, now)
    raise NothingToClaim("no_assignments_left", "no open job has an assignment for you right now")


def _claim(session: Session, worker: User, job: Job, now: datetime) -> Assignment:
    _check_job_claimable(session, worker, job)
    active = repository.active_assignment(session, job.id, worker.id)
    own_overdue = [active] if active is not None and active.deadline <= now else []
    expire_overdue(session, now, job_id=job.id, limit=LAZY_EXPIRY_LIMIT, first=own_overdue)
    active = repository.active_assignment(session, job.id, worker.id)
    if active is not None:
        raise NothingToClaim(
            "already_assigned",
            f"you already hold assignment {active.id} in job {job.id}: submit it or let it expire first",
            assignment_id=active.id,
        )
    chunk = repository.lock_next_chunk(session, job.id, worker.id)
    if chunk is None:
        raise NothingToClaim("no_assignments_left", f"job {job.id} has no assignment left for you")
    return _issue(session, job, chunk, worker, now)


def _check_job_claimable(session: Session, worker: User, job: Job) -> None:
    if job.status is not JobStatus.active:
        raise NothingToClaim("job_not_active", f"job {job.id} is {job.status.value}, not open for work")
    if repository.is_banned(session, job.id, worker.id):
        raise NothingToClaim("banned", f"you can no longer take assignments in job {job.id}")


def _issue(session: Session, job: Job, chunk: Chunk, worker: User, now: datetime) -> Assignment:
    take_slot(chunk)
    real = repository.chunk_image_ids(session, chunk.id)
    gt = pick_gt_images(session, job, worker.id)
    assignment = Assignment(
        job_id=job.id,
        chunk_id=chunk.id,
        worker_id=worker.id,
        status=AssignmentStatus.assigned,
        deadline=now + timedelta(seconds=job.time_limit_s),
        created_at=now,
    )
    try:
        repository.add_assignment(session, assignment)
    except IntegrityError as exc:  # the same worker claiming twice at the same instant
        raise Conflict(
            "another claim of yours in this job is in progress; retry", extra={"reason": "claim_race"}
        ) from exc
    repository.add_rows(
        session,
        AssignmentItem,
        [
            {
                "assignment_id": assignment.id,
                "position": position,
                "token": new_item_token(),
                "image_id": image_id,
                "is_gt": is_gt,
            }
            for position, (image_id, is_gt) in enumerate(place_items(real, gt))
        ],
    )
    repository.count_gt_uses(session, gt)
    return assignment


def pick_gt_images(session: Session, job: Job, worker_id: int) -> list[int]:
    """``gt_per_assignment`` GT images, locked: unseen by the worker first, then least used, random
    among equals, never retired. Concurrent claims take different rows instead of queueing on the
    same least-used ones (SKIP LOCKED); when too few are free, wait for the chosen rows in id order."""
    if job.gt_per_assignment <= 0:
        return []
    seen = repository.gt_seen_by(session, job.id, worker_id)
    picked = repository.lock_free_gt(session, job.id, seen, job.gt_per_assignment)
    if picked:  # PostgreSQL, no contention: the best rows nobody else is using right now
        return picked
    chosen = choose_gt(repository.gt_candidates(session, job.id), seen, job.gt_per_assignment)
    repository.lock_gt_rows(session, chosen)
    return chosen


# -- what the worker sees -------------------------------------------------------------------------


def url_ttl_s(deadline: datetime, now: datetime) -> int:
    return max(60, int((deadline - now).total_seconds()) + URL_GRACE_S)


def assignment_view(
    session: Session, job: Job, assignment: Assignment, settings: Settings, now: datetime
) -> AssignmentOut:
    """The assignment as its worker sees it. Items are listed only while it can still be worked on."""
    workable = assignment.status is AssignmentStatus.assigned and assignment.deadline > now
    items: list[ItemOut] = []
    if workable:
        ttl = url_ttl_s(assignment.deadline, now)
        items = [
            ItemOut(
                item_id=item.token,
                image_url=signed_file_url(job.data_uri, image.name, ttl, settings),
                width=image.width,
                height=image.height,
            )
            for item, image in repository.items_with_images(session, assignment.id)
        ]
    return AssignmentOut(
        assignment_id=assignment.id,
        job_id=job.id,
        job_type=job.type,
        status=_shown_status(assignment, now),
        deadline=assignment.deadline,
        time_limit_s=job.time_limit_s,
        instructions=InstructionsOut(title=job.title, description=job.description, guide_url=job.guide_url),
        labels=list(job.labels),
        items=items,
    )


def _shown_status(assignment: Assignment, now: datetime) -> AssignmentStatus:
    if assignment.status is AssignmentStatus.assigned and assignment.deadline <= now:
        return AssignmentStatus.expired
    return assignment.status


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
            score=a.score,
        )
        for a, job in repository.my_assignments(session, worker.id, limit=limit, offset=offset)
    ]


def open_jobs(session: Session, worker: User, settings: Settings, *, limit: int = 100) -> list[OpenJobOut]:
    """The job board: active jobs with free assignments, their pay and time limit."""
    out = []
    for job, free in repository.open_jobs_for(session, worker.id, limit=limit):
        plan = economics.budget(
            job.bounty_amount,
            settings.platform_fee_bps,
            job.image_count - job.gt_count,
            job.assignment_size,
            job.overlap,
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
    first: Sequence[Assignment] = (),
) -> int:
    """Return assignments past their deadline to the pool.

    ``first`` (a claimer's own overdue assignment) is locked waiting, before anything else is held;
    the others are taken with SKIP LOCKED. Chunks are then locked in id order (no deadlock).
    """
    now = now or utcnow()
    mine = [repository.get_assignment(session, a.id, for_update=True) for a in first]
    overdue = {a.id: a for a in mine if a is not None and a.status is AssignmentStatus.assigned}
    for assignment in repository.lock_overdue(session, now, job_id=job_id, limit=limit):
        overdue[assignment.id] = assignment
    for assignment in sorted(overdue.values(), key=lambda a: (a.chunk_id, a.id)):
        move_assignment(assignment, AssignmentStatus.expired)
        release_slot(repository.lock_chunk(session, assignment.chunk_id))
    return len(overdue)


# -- submission -----------------------------------------------------------------------------------


def submission_hash(body: SubmissionIn) -> str:
    data = body.model_dump(mode="json")
    data["items"] = sorted(data["items"], key=lambda item: item["item_id"])
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit(
    session: Session, worker: User, assignment_id: int, body: SubmissionIn, now: datetime | None = None
) -> SubmitOut:
    """Store the answers; scoring runs in the background after commit. Idempotent for the same body."""
    now = now or utcnow()
    repository.begin_write(session)
    assignment = repository.get_assignment(session, assignment_id, for_update=True)
    if assignment is None or assignment.worker_id != worker.id:
        raise NotFound(f"assignment {assignment_id} not found")
    digest = submission_hash(body)
    if assignment.submission_hash is not None:
        return _replayed(assignment, digest)
    if assignment.status is AssignmentStatus.expired or assignment.deadline <= now:
        raise Conflict(
            f"assignment {assignment_id} expired at {assignment.deadline.isoformat()}; claim a new one",
            extra={"reason": "assignment_expired"},
        )
    job = repository.get_job(session, assignment.job_id)
    assert job is not None
    if job.status not in SUBMITTABLE_JOB:
        raise Conflict(f"job {job.id} is {job.status.value}", extra={"reason": "job_not_active"})
    rows = repository.items_with_images(session, assignment.id)
    answers = validate_submission(job, rows, body)
    for item, _image in rows:
        item.answer, item.interactions = answers[item.token]
    move_assignment(assignment, AssignmentStatus.submitted)
    assignment.submitted_at = now
    assignment.submission_hash = digest

    from marketplace.assignments import tasks  # tasks import this module

    tasks.enqueue_scoring(session, assignment.id)
    return SubmitOut(assignment_id=assignment.id, status=assignment.status, submitted_at=now)


def _replayed(assignment: Assignment, digest: str) -> SubmitOut:
    if assignment.submission_hash != digest:
        raise Conflict(
            f"assignment {assignment.id} was already submitted with different answers",
            extra={"reason": "already_submitted"},
        )
    assert assignment.submitted_at is not None
    return SubmitOut(
        assignment_id=assignment.id, status=assignment.status, submitted_at=assignment.submitted_at
    )


def validate_submission(
    job: Job, rows: Sequence[tuple[AssignmentItem, JobImage]], body: SubmissionIn
) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any] | None]]:
    """token → (annotations, interactions). Every problem is a 422 naming the item."""
    images = {item.token: image for item, image in rows}
    out: dict[str, tuple[list[dict[str, Any]], dict[str, Any] | None]] = {}
    for index, answer in enumerate(body.items):
        where = f"items[{index}] (item {answer.item_id})"
        if answer.item_id not in images:
            raise InvalidInput(f"{where} is not part of this assignment", field=f"items[{index}].item_id")
        if answer.item_id in out:
            raise InvalidInput(f"{where} is answered twice", field=f"items[{index}].item_id")
        image = images[answer.item_id]
        annotations = [
            _checked_annotation(job, image, a.label, a.geometry, f"{where} annotation {n}")
            for n, a in enumerate(answer.annotations)
        ]
        if job.type is JobType.classification and len({a["label"] for a in annotations}) != len(annotations):
            raise InvalidInput(f"{where} repeats a label", field=f"items[{index}].annotations")
        interactions = answer.interactions.model_dump(mode="json") if answer.interactions else None
        out[answer.item_id] = (annotations, interactions)
    missing = [item.token for item, _ in rows if item.token not in out]
    if missing:
        raise InvalidInput(
            f"item(s) {', '.join(missing)} have no answer; send an empty 'annotations' list for an item "
            "with nothing to mark",
            field="items",
        )
    return out


def _checked_annotation(
    job: Job, image: JobImage, label: str, geometry: list[float] | None, where: str
) -> dict[str, Any]:
    if label not in job.labels:
        raise InvalidInput(f"{where}: label {label!r} is not one of the job's labels {job.labels}")
    if job.type is JobType.classification:
        if geometry is not None:
            raise InvalidInput(f"{where}: a classification answer has a label and no geometry")
        return {"label": label, "geometry": None}
    if job.type is JobType.boxes:
        _check_box(geometry, image, where)
    else:
        _check_point(geometry, image, where)
    assert geometry is not None
    return {"label": label, "geometry": [float(v) for v in geometry]}


def _check_box(geometry: list[float] | None, image: JobImage, where: str) -> None:
    if geometry is None or len(geometry) != 4:
        raise InvalidInput(f"{where}: a box is [x, y, w, h]")
    x, y, w, h = geometry
    if w <= 0 or h <= 0:
        raise InvalidInput(f"{where}: box {geometry} has a non-positive size")
    if x < 0 or y < 0 or x + w > image.width + GEOMETRY_SLACK or y + h > image.height + GEOMETRY_SLACK:
        raise InvalidInput(f"{where}: box {geometry} lies outside the {image.width}x{image.height} image")


def _check_point(geometry: list[float] | None, image: JobImage, where: str) -> None:
    if geometry is None or len(geometry) != 2:
        raise InvalidInput(f"{where}: a point is [x, y]")
    x, y = geometry
    if not (0 <= x <= image.width and 0 <= y <= image.height):
        raise InvalidInput(f"{where}: point {geometry} lies outside the {image.width}x{image.height} image")


# -- scoring and outcomes -------------------------------------------------------------------------


def score_assignment(session: Session, assignment_id: int) -> AssignmentStatus | None:
    """Score a submitted assignment and settle it. Idempotent: anything not ``submitted`` is left."""
    assignment = repository.get_assignment(session, assignment_id, for_update=True)
    if assignment is None or assignment.status is not AssignmentStatus.submitted:
        return None
    job = repository.get_job(session, assignment.job_id)
    assert job is not None
    gt, answers = _scoring_inputs(session, assignment)
    result = get_scorer(job).score(job, gt, answers)
    assignment.score = min(1.0, max(0.0, float(result.score)))
    assignment.score_details = result.details
    chunk = repository.lock_chunk(session, assignment.chunk_id)
    if result.accepted:
        _accept(session, job, chunk, assignment)
    else:
        _reject(session, job, chunk, assignment)
    return assignment.status


def _scoring_inputs(
    session: Session, assignment: Assignment
) -> tuple[dict[str, GtItem], dict[str, list[Annotation]]]:
    rows = repository.items_with_images(session, assignment.id)
    gt_rows = [(item, image) for item, image in rows if item.is_gt]
    objects: dict[int, list[Annotation]] = {}
    for ann in repository.gt_annotations_for(session, [image.id for _, image in gt_rows]):
        objects.setdefault(ann.image_id, []).append(_annotation(ann.label, ann.geometry))
    gt = {
        item.token: GtItem(width=image.width, height=image.height, objects=tuple(objects.get(image.id, [])))
        for item, image in gt_rows
    }
    answers = {
        item.token: [_annotation(a["label"], a.get("geometry")) for a in (item.answer or [])]
        for item, _ in gt_rows
    }
    return gt, answers


def _annotation(label: str, geometry: Any) -> Annotation:
    return Annotation(label=label, geometry=tuple(float(v) for v in geometry) if geometry else None)


def _accept(session: Session, job: Job, chunk: Chunk, assignment: Assignment) -> None:
    move_assignment(assignment, AssignmentStatus.accepted)
    finished = record_acceptance(chunk, job.overlap)
    payout_hooks.on_assignment_accepted(session, assignment)
    if finished:
        _complete_job_if_done(session, job)


def _complete_job_if_done(session: Session, job: Job) -> None:
    """Lock the job so that exactly one of two concurrent last acceptances sees zero left."""
    session.flush()
    repository.lock_job(session, job.id)
    if repository.unfinished_chunks(session, job.id) == 0:
        payout_hooks.on_job_dataset_complete(session, job)


def _reject(session: Session, job: Job, chunk: Chunk, assignment: Assignment) -> None:
    move_assignment(assignment, AssignmentStatus.rejected)
    if record_rejection(chunk, job.max_attempts):
        on_chunk_exhausted(session, chunk)


def on_chunk_exhausted(session: Session, chunk: Chunk) -> None:
    """A chunk was rejected ``max_attempts`` times and is now ``in_review``.

    Hook for the reviews engine: it opens a ``chunk_failed_max_attempts`` dispute for a reviewer.
    """
    from marketplace.reviews import service as reviews  # reviews import this module's neighbours

    log.info("chunk %s of job %s exhausted its attempts; waiting for review", chunk.id, chunk.job_id)
    reviews.on_chunk_exhausted(session, chunk)


# -- requester views ------------------------------------------------------------------------------


def job_progress(session: Session, user: User, job_id: int) -> ProgressOut:
    job = get_job_for(session, user, job_id)
    chunks = repository.chunk_status_counts(session, job.id)
    return ProgressOut(
        job_id=job.id,
        status=job.status,
        images_total=job.image_count - job.gt_count,
        images_done=repository.images_in_done_chunks(session, job.id),
        chunks_total=sum(chunks.values()),
        chunks=chunks,
        assignments=repository.assignment_status_counts(session, job.id),
    )


def export_submissions(session: Session, user: User, job_id: int) -> list[ExportAssignmentOut]:
    """Every submitted assignment with its answers and interaction records, per image name."""
    job = get_job_for(session, user, job_id)
    out = []
    for assignment, chunk_position in repository.submitted_assignments(session, job.id):
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
