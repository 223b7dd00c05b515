"""A dispute as a reviewer sees it: the reviews domain's record and history, with the quality
engine's context (the job's rules, the disputed assignments beside their GT and conflicts, the image
with every answer on it, the worker's GT record)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from marketplace.config import Settings
from marketplace.quality import review_context
from marketplace.reviews import service as reviews
from marketplace.reviews.schemas import DisputeDetailOut


def get_dispute(session: Session, dispute_id: int, settings: Settings) -> DisputeDetailOut:
    dispute = reviews.dispute_or_404(session, dispute_id)
    job = reviews.job_of(session, dispute)
    context: dict[str, Any] = {"job": review_context.job_context(job)}
    one, chunk = reviews.disputed_assignments(session, dispute)
    if one is not None:
        context["assignment"] = review_context.assignment_context(session, job, one, settings)
    if dispute.chunk_id is not None:
        context["chunk_assignments"] = [
            review_context.assignment_context(session, job, a, settings) for a in chunk
        ]
    if dispute.image_id is not None:
        context["image"] = review_context.image_context(session, dispute.image_id, settings)
    if dispute.worker_id is not None:
        context["worker"] = review_context.worker_context(session, job.id, dispute.worker_id)
    return reviews.dispute_detail(session, dispute, context)
