"""What a reviewer judges a dispute by, from the quality engine's records: the job's rules, the
disputed assignments side by side with their GT and the scorer's conflicts, an image with every
answer given on it and its GT statistics, a worker's GT record. Read only; built by the dispute view
flow (``marketplace/flows/dispute_view.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import repository as assignments_repo
from marketplace.config import Settings
from marketplace.media.service import job_image_url
from marketplace.models import VIDEO_TYPES, Assignment, Job
from marketplace.quality import repository as repo
from marketplace.quality.polygon_export import display_rings
from marketplace.quality.service import gt_image_view
from marketplace.quality.video_service import segment_review
from marketplace.quality.workers import worker_accuracy


def job_context(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "type": job.type.value,
        "labels": list(job.labels),
        "accuracy_target": job.accuracy_target,
        "iou_threshold": job.iou_threshold,
        "status": job.status.value,
    }


def worker_context(session: Session, job_id: int, worker_id: int) -> dict[str, Any]:
    record = repo.worker_quality(session, job_id, worker_id)
    return {
        "id": worker_id,
        "gt_accuracy": worker_accuracy(record),
        "sprt_decision": record.sprt_decision if record else "continue",
        "too_fast_count": record.too_fast_count if record else 0,
        "banned": repo.is_banned(session, job_id, worker_id),
    }


def _gt_objects(session: Session, image_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for ann in repo.gt_annotations(session, image_ids):
        geometry = display_rings(ann.geometry)  # a polygon GT kept as an RLE is shown as rings
        out.setdefault(ann.image_id, []).append({"label": ann.label, "geometry": geometry})
    return out


def assignment_context(
    session: Session, job: Job, assignment: Assignment, settings: Settings
) -> dict[str, Any]:
    rows = assignments_repo.items_with_images(session, assignment.id)
    gt = _gt_objects(session, [img.id for item, img in rows if item.is_gt])
    conflicts: dict[int, list[dict[str, Any]]] = {}
    for c in repo.conflicts_for(session, assignment.id):
        conflicts.setdefault(c.image_id, []).append(
            {
                "kind": c.kind,
                "gt_index": c.gt_index,
                "submitted_index": c.submitted_index,
                "similarity": c.similarity,
                "gt_label": c.gt_label,
                "submitted_label": c.submitted_label,
            }
        )
    out: dict[str, Any] = {
        "id": assignment.id,
        "worker_id": assignment.worker_id,
        "status": assignment.status.value,
        "score": assignment.score,
        "submitted_at": assignment.submitted_at.isoformat() if assignment.submitted_at else None,
        "items": [
            {
                "position": item.position,
                "image_id": img.id,
                "image": img.name,
                "image_url": job_image_url(settings, img.id),
                "width": img.width,
                "height": img.height,
                "is_gt": item.is_gt,
                "worker_answer": item.answer,
                "gt": gt.get(img.id, []) if item.is_gt else None,
                "conflicts": conflicts.get(img.id, []),
            }
            for item, img in rows
        ],
    }
    if job.type in VIDEO_TYPES:
        out["segment"] = segment_review(session, job, assignment, settings)
    return out


def image_context(session: Session, image_id: int, settings: Settings) -> dict[str, Any]:
    image = repo.get_image(session, image_id)
    if image is None:
        return {}
    out: dict[str, Any] = {
        "id": image.id,
        "name": image.name,
        "image_url": job_image_url(settings, image.id),
        "width": image.width,
        "height": image.height,
        "is_gt": image.is_gt,
        "worker_answers": [
            {"assignment_id": a, "worker_id": w, "status": s, "answer": ans}
            for a, w, s, ans in repo.answers_on_image(session, image_id)
        ],
    }
    if image.is_gt:
        out["gt"] = _gt_objects(session, [image_id]).get(image_id, [])
        out["gt_stats"] = gt_image_view(session, image_id)
    return out
