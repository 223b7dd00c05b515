"""A worker's record on a job: the platform's quality policy, the SPRT on their GT answers (bans,
adaptive GT rate, the prior from sharing jobs), corrections after a reviewer's overturn, merge weights."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.models import Assignment, Job, WorkerJobQuality, utcnow
from marketplace.quality import repository as repo
from marketplace.quality.adaptive import GtPolicy, gt_accuracy, keep_probability, prior_llr
from marketplace.quality.sprt import (
    Decision,
    SpeedPolicy,
    SprtConfig,
    SprtState,
    sprt_update,
    wilson_interval,
)

log = logging.getLogger(__name__)

SPRT_BAN_REASON = "sprt: GT accuracy below the job's floor"


@dataclass(frozen=True)
class QualityPolicy:
    """Platform-wide knobs; the per-job ones (target, IoU, point tolerance) live on the job."""

    floor_gap: float = 0.2  # SPRT floor p0 = target - floor_gap
    alpha: float = 0.05
    beta: float = 0.05
    speed: SpeedPolicy = field(default_factory=SpeedPolicy)
    box_low_confidence: float = 0.6  # a box only one of two workers drew scores 0.5
    class_low_confidence: float = 0.7
    quorum: float = 0.5


POLICY = QualityPolicy()
PRIOR_STRENGTH = 4.0  # a worker's record on other jobs counts as this many GT items here


def update_worker_record(
    session: Session, job: Job, assignment: Assignment, passes: Sequence[bool], accepted: bool, now: datetime
) -> WorkerJobQuality:
    record = repo.lock_worker_quality(session, job.id, assignment.worker_id)
    config = sprt_config(job)
    if record.assignments_scored == 0:
        start_from_history(session, job, record, config)
    state = SprtState(record.sprt_llr, record.sprt_items, Decision(record.sprt_decision))
    for passed in passes:
        state = sprt_update(state, passed, config)
    record.gt_items += len(passes)
    record.gt_passed += sum(passes)
    record.assignments_scored += 1
    record.assignments_accepted += int(accepted)
    record.sprt_llr, record.sprt_items = state.llr, state.items
    record.gt_keep = keep_probability(state, config, GtPolicy(keep=job.gt_spot_check))
    newly_banned = state.decision is Decision.BAN and record.sprt_decision != Decision.BAN.value
    record.sprt_decision = state.decision.value
    record.updated_at = now
    if newly_banned:
        ban_worker(session, job.id, assignment.worker_id, SPRT_BAN_REASON, record=record, now=now)
    return record


def start_from_history(session: Session, job: Job, record: WorkerJobQuality, config: SprtConfig) -> None:
    """A worker's first scored assignment on this job: what sharing jobs know of them becomes a prior
    (a head start for the SPRT, :func:`~marketplace.quality.adaptive.prior_llr`, and the centre of
    their merge weight). Only with adaptive GT: fixed GT keeps every worker on the same footing."""
    if job.gt_spot_check >= 1.0:
        return
    passed, total = repo.shared_history(session, record.worker_id, job.id)
    if total == 0:
        return
    record.prior_accuracy = (passed + 1) / (total + 2)
    record.sprt_llr = prior_llr(passed, total, config, GtPolicy(keep=job.gt_spot_check))


def ban_worker(
    session: Session,
    job_id: int,
    worker_id: int,
    reason: str,
    *,
    record: WorkerJobQuality | None = None,
    now: datetime | None = None,
) -> bool:
    """Stop a worker on a job: the assignment server issues them nothing more there."""
    record = record or repo.lock_worker_quality(session, job_id, worker_id)
    record.banned_at = record.banned_at or now or utcnow()
    created = repo.ban_worker(session, job_id, worker_id, reason)
    if created:
        log.info("worker %s banned from job %s: %s", worker_id, job_id, reason)
    return created


def correct_worker_record(session: Session, job: Job, assignment: Assignment) -> None:
    """The GT items this assignment failed count as passed; an SPRT ban that no longer holds is lifted."""
    failed = [
        item for item in (assignment.score_details or {}).get("items", {}).values() if not item.get("passed")
    ]
    record = repo.lock_worker_quality(session, job.id, assignment.worker_id)
    record.assignments_accepted += 1
    if not failed:
        return
    config = sprt_config(job)
    record.gt_passed = min(record.gt_items, record.gt_passed + len(failed))
    record.sprt_llr += len(failed) * (config.step_pass - config.step_fail)
    if record.sprt_decision == Decision.BAN.value and record.sprt_llr > config.lower:
        record.sprt_decision = Decision.CONTINUE.value
    state = SprtState(record.sprt_llr, record.sprt_items, Decision(record.sprt_decision))
    record.gt_keep = keep_probability(state, config, GtPolicy(keep=job.gt_spot_check))
    record.updated_at = utcnow()


def worker_accuracy(record: WorkerJobQuality | None) -> dict[str, Any]:
    if record is None or record.gt_items == 0:
        return {"gt_items": 0, "estimate": None, "interval": [0.0, 1.0]}
    low, high = wilson_interval(record.gt_passed, record.gt_items)
    return {
        "gt_items": record.gt_items,
        "estimate": record.gt_passed / record.gt_items,
        "interval": [low, high],
    }


def worker_weight(record: WorkerJobQuality | None) -> float:
    """Merge weight: the posterior mean accuracy on GT, ``(passed + 1) / (items + 2)``, or centred on
    the worker's accuracy on sharing jobs when known (four pseudo-items of it)."""
    if record is None:
        return 0.5
    if record.prior_accuracy is not None:
        return gt_accuracy(record.gt_passed, record.gt_items, record.prior_accuracy, PRIOR_STRENGTH)
    return gt_accuracy(record.gt_passed, record.gt_items)


def sprt_config(job: Job, policy: QualityPolicy = POLICY) -> SprtConfig:
    """H1: the job's target (kept inside (0.55, 0.99)); H0: ``floor_gap`` below it. With adaptive GT
    a passed worker sees fewer GT items, so the test keeps monitoring them (a later drift still bans)."""
    p1 = min(max(job.accuracy_target, 0.55), 0.99)
    return SprtConfig(
        p1=p1,
        p0=max(0.01, p1 - policy.floor_gap),
        alpha=policy.alpha,
        beta=policy.beta,
        keep_monitoring=job.gt_spot_check < 1.0,
    )
