"""Filling an assignment's GT slots with exposure parity (see :mod:`.exposure`). Takes a session,
never commits."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import gt_repository
from marketplace.assignments.exposure import repeat_share, reuse_picks
from marketplace.models import Job

_work_exposure: dict[int, tuple[float, int, int]] = {}  # job id -> (when, shows, distinct images)
EXPOSURE_EXACT_BELOW = 2_000  # work shows: below, the scan is cheap and done on every claim
EXPOSURE_REFRESH_S = 10.0  # above, a process rescans a job at most this often


def _work_repeat_share(session: Session, job_id: int) -> float:
    """The job's work images' repeat share, the target of GT picking. The scan it takes grows with the
    job, so a big job's figure is kept for :data:`EXPOSURE_REFRESH_S` per process (a share drifts
    slowly); a small job's is always fresh."""
    now = time.monotonic()
    cached = _work_exposure.get(job_id)
    if cached is None or cached[1] < EXPOSURE_EXACT_BELOW or now - cached[0] > EXPOSURE_REFRESH_S:
        _remember_work_exposure(job_id, *gt_repository.work_exposure(session, job_id))
        cached = _work_exposure[job_id]
    return repeat_share(cached[1], cached[2])


def work_exposure_stale(job_id: int) -> bool:
    """Whether the next claim in the job should bring the job's work exposure (see below)."""
    cached = _work_exposure.get(job_id)
    return (
        cached is None
        or cached[1] < EXPOSURE_EXACT_BELOW
        or time.monotonic() - cached[0] > EXPOSURE_REFRESH_S
    )


def _remember_work_exposure(job_id: int, shows: int, distinct: int) -> None:
    if len(_work_exposure) > 10_000:  # a long-lived process that saw many jobs: forget the old
        _work_exposure.clear()
    _work_exposure[job_id] = (time.monotonic(), shows, distinct)


def choose_from_candidates(job_id: int, k: int, candidates: Any) -> list[int]:
    """:func:`pick_gt_images` on candidates read with the claim's first statement
    (:class:`~marketplace.assignments.claim_repository.Taken`): as many reused ones as exposure parity
    wants, then fresh ones, in the order :func:`gt_repository.pick_gt` gives them."""
    if k <= 0:
        return []
    if candidates.work is not None:
        _remember_work_exposure(job_id, *candidates.work)
    cached = _work_exposure.get(job_id)
    share = repeat_share(cached[1], cached[2]) if cached is not None else 0.0
    wanted = reuse_picks(k, candidates.gt_shows, candidates.gt_distinct, share)
    reused = list(candidates.reused[:wanted])
    return reused + [i for i in candidates.fresh if i not in reused][: k - len(reused)]


def pick_gt_images(
    session: Session, job: Job, worker_id: int, k: int, *, like: int | None = None
) -> list[int]:
    """``k`` GT images, never retired, with exposure parity (:mod:`.exposure`): as many of them reused
    (already shown to another account, least shown first) as keeps the GT repeat share at the normal
    images' one, the rest fresh (unseen by the worker first, then least used, at random among equals:
    the SQL form of :func:`choose_gt`). Among equally used ones, GT of a size like ``like``'s (a work
    image of the assignment, drawn at random) goes first, so the GT shown follows the data's mix of
    image kinds (frames, thumbnails) instead of the pool's by chance. Nothing is locked here; the
    caller counts the uses last (:func:`gt_repository.count_gt_uses`), so concurrent claims never queue
    on the same least-used rows for longer than a commit."""
    if k <= 0:
        return []
    gt_shows, gt_distinct = gt_repository.gt_exposure(session, job.id)
    wanted = reuse_picks(k, gt_shows, gt_distinct, _work_repeat_share(session, job.id))
    reused = (
        gt_repository.pick_gt(session, job.id, worker_id, wanted, reused=True, like=like) if wanted else []
    )
    if len(reused) == k:
        return reused
    return reused + gt_repository.pick_gt(session, job.id, worker_id, k - len(reused), skip=reused, like=like)
