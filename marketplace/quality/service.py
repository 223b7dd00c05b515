"""The quality engine against the database. Takes a session, never commits.

The scoring flow calls :func:`score_and_record` inside the transaction that scores a submitted
assignment, with the assignment row locked. Besides the score it:

1. stores the per-item conflicts (missing / extra / wrong_label / low_overlap) for reviewers;
2. updates the worker's GT record and runs Wald's SPRT; a ``ban`` writes the job ban;
3. flags implausibly fast work (server-side wall time per item) as a ``too_fast`` dispute;
4. counts each GT image's scored uses and passes; an image whose rating
   ``(accepted + 1) / (uses + 1)`` falls to ``1 - target`` is retired (never picked again) and sent
   to reviewers as ``suspicious_gt``; with too little usable GT left the job pauses (``validating``)
   and the requester gets a notice saying why.

The worker sees their score and the job's target (:func:`worker_view`), never which items were GT.

Points: the job's ``point_tolerance`` is the tolerance relative to the GT object's box
(``tolerance * sqrt(box area)``, default 0.1); points without an object box (the stored GT has none
today) use ``point_tolerance / 5`` of the image diagonal (0.02 by default: 28 px on 1000x1000).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import gt_repository
from marketplace.assignments import repository as assignments_repo
from marketplace.assignments.scoring import Annotation, GtItem, ScoreResult
from marketplace.assignments.service import shown_score
from marketplace.assignments.states import has_room_for_overturn, move_chunk, overturn_assignment
from marketplace.config import get_settings
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.jobs.states import can_transition, transition
from marketplace.models import (
    VIDEO_TYPES,
    Assignment,
    AssignmentItem,
    AssignmentStatus,
    Chunk,
    ChunkStatus,
    DisputeKind,
    GtImageQuality,
    Job,
    JobStatus,
    JobType,
    Role,
    User,
    WorkerJobQuality,
    utcnow,
)
from marketplace.quality import repository as repo
from marketplace.quality.gt_stats import gt_rating, should_retire, too_little_gt_left
from marketplace.quality.polygons import PolygonSet, score_polygons
from marketplace.quality.scoring import (
    DEFAULT_POINT_TOLERANCE_BOX,
    DEFAULT_POINT_TOLERANCE_IMAGE,
    AssignmentScore,
    BoxSet,
    ItemScore,
    PointSet,
    score_boxes,
    score_classification,
    score_points,
    summarise,
)
from marketplace.quality.sprt import (
    Decision,
    SpeedPolicy,
    is_too_fast,
)
from marketplace.quality.workers import (
    POLICY,
    correct_worker_record,
    update_worker_record,
)
from marketplace.reviews import service as reviews

log = logging.getLogger(__name__)

SCORER_NAME = "quality"


def point_tolerance_fractions(job: Job) -> tuple[float, float]:
    ratio = DEFAULT_POINT_TOLERANCE_IMAGE / DEFAULT_POINT_TOLERANCE_BOX
    return job.point_tolerance, job.point_tolerance * ratio


# -- scoring (pure) -------------------------------------------------------------------------------


def _class_answer(annotations: Sequence[Annotation]) -> str | None:
    labels = sorted({a.label for a in annotations})
    return "|".join(labels) if labels else None


def score_on_gt(
    job: Job, gt: Mapping[str, GtItem], answers: Mapping[str, Sequence[Annotation]]
) -> AssignmentScore:
    """Score one assignment on its GT items with :mod:`marketplace.quality.scoring`."""
    target = job.accuracy_target
    if job.type in VIDEO_TYPES:  # segments have GT frames, not GT items (quality.video_service)
        return summarise([], target)
    if job.type is JobType.classification:
        truth: dict[Hashable, Any] = {k: _class_answer(item.objects) for k, item in gt.items()}
        given: dict[Hashable, Any] = {k: _class_answer(answers.get(k, ())) for k in gt}
        return score_classification(truth, given, target=target)
    if job.type is JobType.polygons:
        gt_shapes: dict[Hashable, PolygonSet] = {k: _polygons(item.objects, item) for k, item in gt.items()}
        sub_shapes: dict[Hashable, PolygonSet] = {k: _polygons(answers.get(k, ()), gt[k]) for k in gt}
        return score_polygons(gt_shapes, sub_shapes, target=target, iou_threshold=job.iou_threshold)
    if job.type is JobType.boxes:
        gt_boxes: dict[Hashable, BoxSet] = {k: _boxes(item.objects) for k, item in gt.items()}
        sub_boxes: dict[Hashable, BoxSet] = {k: _boxes(answers.get(k, ())) for k in gt}
        return score_boxes(gt_boxes, sub_boxes, target=target, iou_threshold=job.iou_threshold)
    rel_box, rel_image = point_tolerance_fractions(job)
    gt_points: dict[Hashable, PointSet] = {
        k: _points(item.objects, (item.width, item.height)) for k, item in gt.items()
    }
    sub_points: dict[Hashable, PointSet] = {k: _points(answers.get(k, ()), None) for k in gt}
    return score_points(
        gt_points, sub_points, target=target, relative_to_box=rel_box, relative_to_image=rel_image
    )


def _boxes(objects: Sequence[Annotation]) -> BoxSet:
    return BoxSet.of([list(o.geometry or (0, 0, 0, 0)) for o in objects], [o.label for o in objects])


def _polygons(objects: Sequence[Annotation], item: GtItem) -> PolygonSet:
    return PolygonSet.of([o.geometry for o in objects], [o.label for o in objects], item.height, item.width)


def _points(objects: Sequence[Annotation], size: tuple[float, float] | None) -> PointSet:
    xy = [list(o.geometry or (0, 0))[:2] for o in objects]
    return PointSet.of(xy, [o.label for o in objects], image_size=size)


def item_passed(item: ItemScore, target: float) -> bool:
    return item.accuracy >= target - 1e-12


def conflict_dicts(item: ItemScore) -> list[dict[str, Any]]:
    return [
        {
            "kind": c.kind.value,
            "gt_index": c.gt_index,
            "submitted_index": c.submitted_index,
            "similarity": c.similarity,
            "gt_label": None if c.gt_label is None else str(c.gt_label),
            "submitted_label": None if c.submitted_label is None else str(c.submitted_label),
        }
        for c in item.conflicts
    ]


def score_details(score: AssignmentScore) -> dict[str, Any]:
    """Stored on the assignment (never shown to the worker)."""
    return {
        "scorer": SCORER_NAME,
        "accuracy": score.accuracy,
        "target": score.target,
        "matched": score.matched,
        "gt_count": score.gt_count,
        "submitted_count": score.submitted_count,
        "items": {
            str(item.item_id): {
                "accuracy": item.accuracy,
                "passed": item_passed(item, score.target),
                "conflicts": conflict_dicts(item),
                **({} if item.boundary_iou is None else {"boundary_iou": item.boundary_iou}),
            }
            for item in score.items
        },
    }


def score_and_record(
    session: Session, job: Job, gt: Mapping[str, GtItem], answers: Mapping[str, Sequence[Annotation]]
) -> ScoreResult:
    """Score one assignment on its GT items and record what that says about the worker and the GT
    (conflicts, SPRT, speed, GT ratings)."""
    result = score_on_gt(job, gt, answers)
    if gt:
        record_scoring(session, job, result)
    return ScoreResult(result.accuracy, result.accepted, score_details(result))


# -- recording a scored assignment ----------------------------------------------------------------


def record_scoring(session: Session, job: Job, score: AssignmentScore) -> None:
    items = repo.items_by_tokens(session, [str(i.item_id) for i in score.items])
    if not items:
        return
    assignment = repo.get_assignment(session, next(iter(items.values())).assignment_id)
    assert assignment is not None
    now = utcnow()
    ordered = sorted(score.items, key=lambda i: items[str(i.item_id)].position)
    store_conflicts(session, assignment, ordered, items)
    passes = [item_passed(i, score.target) for i in ordered]
    record = update_worker_record(session, job, assignment, passes, score.accepted, now)
    check_speed(session, job, assignment, record, now)
    outcomes = [(items[str(i.item_id)].image_id, p) for i, p in zip(ordered, passes, strict=True)]
    if record.sprt_decision != Decision.BAN.value:  # a spammer's failures say nothing about the GT
        update_gt_images(session, job, outcomes, now)


def store_conflicts(
    session: Session, assignment: Assignment, scored: Sequence[ItemScore], items: Mapping[str, AssignmentItem]
) -> None:
    rows = [
        {"assignment_id": assignment.id, "image_id": items[str(item.item_id)].image_id, **conflict}
        for item in scored
        for conflict in conflict_dicts(item)
    ]
    repo.replace_conflicts(session, assignment.id, rows)


def speed_policy() -> SpeedPolicy:
    """The job-independent floor comes from settings (``TILEWORK_MIN_SECONDS_PER_ITEM``)."""
    return replace(POLICY.speed, min_seconds_per_item=get_settings().min_seconds_per_item)


def check_speed(
    session: Session, job: Job, assignment: Assignment, record: WorkerJobQuality, now: datetime
) -> bool:
    """Server-side wall time from claim to submit, per item; too fast → a ``too_fast`` dispute."""
    n_items = repo.item_count(session, assignment.id)
    seconds = ((assignment.submitted_at or now) - assignment.created_at).total_seconds()
    typical = repo.job_seconds_per_item(session, job.id, exclude_worker=assignment.worker_id)
    record.items_timed += n_items
    record.seconds_total += max(0.0, seconds)
    if not is_too_fast(seconds, n_items, typical, speed_policy()):
        return False
    record.too_fast_count += 1
    reviews.open_dispute(
        session,
        job_id=job.id,
        kind=DisputeKind.too_fast,
        subject_key=f"worker:{assignment.worker_id}",
        reason=f"assignment {assignment.id}: {seconds / max(n_items, 1):.2f} s per item",
        worker_id=assignment.worker_id,
        assignment_id=assignment.id,
        details={"assignment_id": assignment.id, "seconds": seconds, "items": n_items, "typical": typical},
    )
    return True


def update_gt_images(session: Session, job: Job, outcomes: Sequence[tuple[int, bool]], now: datetime) -> None:
    rows = repo.count_gt_outcomes(session, job.id, outcomes, now)
    for image_id, row in rows.items():
        stat = repo.gt_stat(session, image_id)
        if (
            stat is not None
            and stat.retired_at is None
            and should_retire(row.accepted, row.uses, job.accuracy_target)
        ):
            retire_gt_image(
                session, job, image_id, f"rating {gt_rating(row.accepted, row.uses):.2f}", now=now
            )


def retire_gt_image(
    session: Session,
    job: Job,
    image_id: int,
    why: str,
    *,
    open_review: bool = True,
    now: datetime | None = None,
) -> None:
    """Never pick this GT image again; send it to reviewers (unless a reviewer retired it)."""
    stat = repo.gt_stat(session, image_id)
    if stat is not None and stat.retired_at is None:
        stat.retired_at = now or utcnow()
        stat.retired_reason = why
    if open_review:
        quality = repo.gt_image_quality(session, image_id)
        reviews.open_dispute(
            session,
            job_id=job.id,
            kind=DisputeKind.suspicious_gt,
            subject_key=f"gt_image:{image_id}",
            reason=f"GT image retired: {why}",
            image_id=image_id,
            details={"uses": quality.uses if quality else 0, "accepted": quality.accepted if quality else 0},
        )
    pause_if_gt_exhausted(session, job)


def pause_if_gt_exhausted(session: Session, job: Job) -> bool:
    usable = repo.usable_gt_count(session, job.id)
    if job.gt_per_assignment <= 0 or not too_little_gt_left(usable, job.gt_per_assignment):
        return False
    if job.status is not JobStatus.active:
        return False
    transition(job, JobStatus.validating)
    repo.add_notice(
        session,
        job.id,
        "paused_gt_exhausted",
        f"Paused: only {usable} usable ground-truth image(s) left and every assignment hides "
        f"{job.gt_per_assignment}. Workers kept failing the retired ones, so a reviewer is checking them; "
        "the job resumes when enough GT is usable again (a fixed label, or more GT).",
    )
    return True


def resume_if_gt_available(session: Session, job: Job) -> bool:
    usable = repo.usable_gt_count(session, job.id)
    if job.status is not JobStatus.validating or too_little_gt_left(usable, job.gt_per_assignment):
        return False
    if not can_transition(job.status, JobStatus.active):
        return False
    transition(job, JobStatus.active)
    repo.add_notice(session, job.id, "resumed", f"Resumed: {usable} usable ground-truth images.")
    return True


def check_gt_image(session: Session, job: Job, image_id: int) -> None:
    """422 unless ``image_id`` is one of the job's GT images."""
    image = repo.get_image(session, image_id)
    if image is None or image.job_id != job.id or not image.is_gt:
        raise InvalidInput(f"image {image_id} is not a GT image of job {job.id}", field="image_id")


def current_gt_objects(session: Session, image_id: int) -> list[dict[str, Any]]:
    return [{"label": a.label, "geometry": a.geometry} for a in repo.gt_annotations(session, [image_id])]


def restore_gt_image(session: Session, job: Job, image_id: int, objects: Sequence[dict[str, Any]]) -> None:
    """A reviewer fixed a GT label: new answer, fresh rating, back in use."""
    repo.replace_gt_annotations(session, job.id, image_id, objects)
    stat = repo.gt_stat(session, image_id)
    if stat is not None:
        stat.retired_at, stat.retired_reason = None, None
    quality = repo.gt_image_quality(session, image_id)
    if quality is not None:
        quality.uses, quality.accepted = 0, 0
    resume_if_gt_available(session, job)


# -- re-scoring and overturning -------------------------------------------------------------------


def scoring_inputs(
    session: Session, job: Job, assignment: Assignment
) -> tuple[dict[str, GtItem], dict[str, list[Annotation]]]:
    """The assignment's GT items that still count (retired GT images left out: their GT was found
    wrong) and the worker's answers on them, by item token. The one input of every scoring: the first
    one, a re-score after a fix, an overturn."""
    gt: dict[str, GtItem] = {}
    answers: dict[str, list[Annotation]] = {}
    objects: dict[str, list[Annotation]] = {}
    for row in gt_repository.scoring_rows(session, assignment.id):  # one row per item and GT object
        if row.token not in gt:
            gt[row.token] = GtItem(row.width, row.height, ())
            answers[row.token] = [_annotation(a["label"], a.get("geometry")) for a in (row.answer or [])]
            objects[row.token] = []
        if row.object_id is not None:
            objects[row.token].append(_annotation(row.label, row.geometry))
    gt = {token: GtItem(item.width, item.height, tuple(objects[token])) for token, item in gt.items()}
    return gt, answers


def _annotation(label: str, geometry: Any) -> Annotation:
    if not geometry:
        return Annotation(label=label)
    if isinstance(geometry, dict):  # a polygon GT kept as its RLE
        return Annotation(label=label, geometry=geometry)
    if isinstance(geometry[0], list):  # polygon rings
        return Annotation(label=label, geometry=tuple(tuple(float(v) for v in ring) for ring in geometry))
    return Annotation(label=label, geometry=tuple(float(v) for v in geometry))


def rescore(session: Session, job: Job, assignment: Assignment) -> AssignmentScore:
    """Score again on the current, non-retired GT (after a fix or a retirement); no statistics."""
    gt, answers = scoring_inputs(session, job, assignment)
    result = score_on_gt(job, gt, answers)
    assignment.score = result.accuracy
    assignment.score_details = {**score_details(result), "rescored_at": utcnow().isoformat()}
    return result


def rescore_rejected_with_image(session: Session, job: Job, image_id: int) -> list[tuple[Assignment, bool]]:
    """Re-score every rejected assignment that held this GT image; accept those that now pass.
    Returns them with whether each counted for its chunk (see :func:`accept_after_review`)."""
    overturned = []
    for assignment in repo.rejected_assignments_with_image(session, image_id):
        if rescore(session, job, assignment).accepted:
            overturned.append((assignment, accept_after_review(session, job, assignment)))
    return overturned


def accept_after_review(session: Session, job: Job, assignment: Assignment) -> bool:
    """A rejection is overturned: the work is accepted and the worker's GT record corrected.

    Returns whether it counts as one of its chunk's ``overlap`` acceptances: it does when the slot its
    rejection gave back is still free; when others have since taken every place of the chunk, the
    chunk keeps its ``overlap`` acceptances (so the job still completes on budget) and the work is a
    surplus (the review flow pays it out of the platform's fee).
    """
    if assignment.status is not AssignmentStatus.rejected:
        raise Conflict(
            f"assignment {assignment.id} is {assignment.status.value}; only a rejection is overturned"
        )
    chunk = assignments_repo.lock_chunk(session, assignment.chunk_id)
    counted = has_room_for_overturn(chunk)
    overturn_assignment(assignment)
    if counted:
        settle_chunk_after_overturn(chunk, chunk.overlap or job.overlap)
    correct_worker_record(session, job, assignment)
    return counted


def settle_chunk_after_overturn(chunk: Chunk, overlap: int) -> None:
    """Take back the slot the rejection freed and count the acceptance."""
    chunk.free_slots -= 1
    chunk.accepted_count += 1
    if chunk.status is ChunkStatus.open and chunk.free_slots == 0:
        move_chunk(chunk, ChunkStatus.full)
    if chunk.accepted_count >= overlap and chunk.status in (ChunkStatus.full, ChunkStatus.in_review):
        move_chunk(chunk, ChunkStatus.done)
    elif chunk.status is ChunkStatus.in_review:
        chunk.rejected_count = 0  # a reviewer settled the failures: fresh attempts for the rest
        move_chunk(chunk, ChunkStatus.open if chunk.free_slots > 0 else ChunkStatus.full)


def get_job_or_404(session: Session, job_id: int) -> Job:
    job = repo.get_job(session, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def gt_image_view(session: Session, image_id: int) -> dict[str, Any]:
    quality: GtImageQuality | None = repo.gt_image_quality(session, image_id)
    stat = repo.gt_stat(session, image_id)
    uses, accepted = (quality.uses, quality.accepted) if quality else (0, 0)
    return {
        "uses": uses,
        "accepted": accepted,
        "rating": gt_rating(accepted, uses),
        "retired": bool(stat and stat.retired_at),
        "retired_reason": stat.retired_reason if stat else None,
    }


def job_quality(session: Session, user: User, job_id: int) -> dict[str, Any]:
    """The requester's view: why the job is paused, disputes by kind and status, stopped workers."""
    from marketplace.jobs.service import get_job_for

    if user.role is Role.worker:
        raise Forbidden("workers see their own assignments, not a job's quality")
    job = get_job_for(session, user, job_id)
    return {
        "job_id": job.id,
        "status": job.status.value,
        "usable_gt": repo.usable_gt_count(session, job.id),
        "banned_workers": repo.banned_count(session, job.id),
        "notices": [
            {"kind": n.kind, "message": n.message, "at": n.created_at.isoformat()}
            for n in repo.notices(session, job.id)
        ],
        "disputes": reviews.dispute_counts(session, job.id),
        "results": [f.name for f in repo.result_files(session, job.id)],
        "workers": worker_summaries(session, job.id),
    }


def worker_summaries(session: Session, job_id: int) -> list[dict[str, Any]]:
    """Each worker's GT record on the job, and when and why they were stopped."""
    bans = repo.bans(session, job_id)
    return [
        {
            "worker_id": r.worker_id,
            "gt_items": r.gt_items,
            "gt_passed": r.gt_passed,
            "gt_accuracy": round(r.gt_passed / r.gt_items, 4) if r.gt_items else None,
            "assignments_scored": r.assignments_scored,
            "assignments_accepted": r.assignments_accepted,
            "sprt_decision": r.sprt_decision,
            "banned": r.worker_id in bans,
            "ban_reason": bans.get(r.worker_id),
            "gt_items_when_banned": r.sprt_items if r.worker_id in bans else None,
        }
        for r in sorted(repo.worker_records(session, job_id), key=lambda r: r.worker_id)
    ]


def assignment_quality(session: Session, worker: User, assignment_id: int) -> dict[str, Any]:
    """A worker's own assignment: score and target (never the GT items), and its appeal."""
    assignment = repo.get_assignment(session, assignment_id)
    if assignment is None or assignment.worker_id != worker.id:
        raise NotFound(f"assignment {assignment_id} not found")
    job = get_job_or_404(session, assignment.job_id)
    appeal = reviews.appeal_for(session, assignment.id)
    return {
        "assignment_id": assignment.id,
        "status": assignment.status.value,
        "score": shown_score(job, assignment),
        "target": job.accuracy_target,
        "can_appeal": assignment.status is AssignmentStatus.rejected and appeal is None,
        "appeal": appeal.model_dump(mode="json") if appeal else None,
    }
