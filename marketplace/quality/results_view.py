"""The requester's results browser: each image of a job with the merged objects, how sure the merge is
and how many workers saw it; sorted and filtered by confidence; every worker's version of one image.

The merge is the one the export writes (:func:`quality.export.merge_job`), computed on request, so
the browser shows the current state while the job runs and the final one once it completed.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.orm import Session

from marketplace.errors import NotFound
from marketplace.models import User
from marketplace.quality import repository as repo
from marketplace.quality.coco_export import ImageResult, MergedObject
from marketplace.quality.export import merge_job, requester_job

Order = Literal["least_sure", "most_sure", "name"]


def _object(o: MergedObject) -> dict[str, Any]:
    return {"label": o.label, "geometry": o.geometry, "confidence": o.confidence, "support": o.support}


def _confidence(r: ImageResult) -> float:
    """An image is as sure as its least sure object; one nobody worked on yet is 0."""
    if not r.workers:
        return 0.0
    return min((o.confidence for o in r.objects), default=1.0)


def _image_url(job_id: int, image_id: int) -> str:
    return f"/api/jobs/{job_id}/images/{image_id}"


def browse(
    session: Session,
    user: User,
    job_id: int,
    *,
    order: Order = "least_sure",
    low_only: bool = False,
    limit: int = 48,
    offset: int = 0,
) -> dict[str, Any]:
    job = requester_job(session, user, job_id)
    results = [r for r in merge_job(session, job) if not r.is_gt]
    if low_only:
        results = [r for r in results if r.low_confidence]
    if order == "name":
        results.sort(key=lambda r: r.image.name)
    else:
        results.sort(key=lambda r: (_confidence(r), r.image.name), reverse=order == "most_sure")
    return {
        "job_id": job.id,
        "type": job.type.value,
        "labels": list(job.labels),
        "total": len(results),
        "low_agreement": sum(r.low_confidence for r in results),
        "items": [
            {
                "image_id": r.image.id,
                "name": r.image.name,
                "width": r.image.width,
                "height": r.image.height,
                "image_url": _image_url(job.id, r.image.id),
                "workers": r.workers,
                "confidence": round(_confidence(r), 4),
                "low_agreement": r.low_confidence,
                "objects": [_object(o) for o in r.objects],
            }
            for r in results[offset : offset + limit]
        ],
    }


def versions(session: Session, user: User, job_id: int, image_id: int) -> dict[str, Any]:
    """The merged objects of one image and every scored worker answer on it (worker ids only)."""
    job = requester_job(session, user, job_id)
    merged = next((r for r in merge_job(session, job) if r.image.id == image_id and not r.is_gt), None)
    if merged is None:
        raise NotFound(f"job {job.id} has no result image {image_id}")
    return {
        "image_id": image_id,
        "name": merged.image.name,
        "width": merged.image.width,
        "height": merged.image.height,
        "image_url": _image_url(job.id, image_id),
        "merged": [_object(o) for o in merged.objects],
        "workers": [
            {"worker_id": worker, "assignment_id": assignment, "status": status, "objects": answer or []}
            for assignment, worker, status, answer in repo.answers_on_image(session, image_id)
        ],
    }
