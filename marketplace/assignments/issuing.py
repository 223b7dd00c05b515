"""Issuing an assignment once its chunk's slot is taken: GT slots filled (adaptive GT, exposure
parity, size-like GT), items placed at random, tokens drawn, the rows written. Takes a session, never
commits; :mod:`.service` decides what is claimed."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.assignments import claim_repository, gt_repository, repository, video
from marketplace.assignments.gt_slots import choose_from_candidates, pick_gt_images, work_exposure_stale
from marketplace.errors import ClaimRace
from marketplace.models import AssignmentSlot, AssignmentStatus, Job, User

_rng = secrets.SystemRandom()

ITEM_TOKEN_BYTES = 16  # 22 url-safe characters, the same for every item


# -- GT picking and item placement (pure) ---------------------------------------------------------


def choose_gt(candidates: Sequence[tuple[int, int]], seen: set[int], k: int, rng: Any = _rng) -> list[int]:
    """``k`` GT images: unseen by this worker first, then least used, at random among equals."""
    ranked = sorted(candidates, key=lambda c: (c[0] in seen, c[1], rng.random()))
    return [image_id for image_id, _ in ranked[:k]]


def gt_draw(slots: int, keep: float, rng: Any = _rng) -> int:
    """How many of ``slots`` GT slots are GT: each one with probability ``keep``."""
    return slots if keep >= 1.0 else sum(rng.random() < keep for _ in range(slots))


def place_items(real: Sequence[Any], gt: Sequence[Any], rng: Any = _rng) -> list[tuple[Any, bool]]:
    """Real images in chunk order with the GT images dropped in at random positions."""
    total = len(real) + len(gt)
    gt_positions = set(rng.sample(range(total), len(gt)))
    real_iter, gt_iter = iter(real), iter(gt)
    return [(next(gt_iter), True) if p in gt_positions else (next(real_iter), False) for p in range(total)]


def new_item_token() -> str:
    return secrets.token_urlsafe(ITEM_TOKEN_BYTES)


class Claimed:
    """A freshly issued assignment, with its items as (token, name, width, height, context) in display order
    and, in a video job, its segment."""

    __slots__ = ("id", "deadline", "items", "segment")

    def __init__(self, assignment_id: int, deadline: datetime, items: list[Any], segment: Any = None):
        self.id, self.deadline, self.items, self.segment = assignment_id, deadline, items, segment


def take(session: Session, job: Job, worker_id: int) -> claim_repository.Taken | None:
    stale = work_exposure_stale(job.id)
    return claim_repository.take_chunk(session, job.id, worker_id, job.gt_per_assignment, work_exposure=stale)


def _mix(real: Sequence[Any], extra: Sequence[Any], gt: Sequence[Any]) -> list[tuple[Any, bool]]:
    """The assignment's items in display order, each with whether it is GT (:func:`issue`'s rule)."""
    mixed_in = [(i, False) for i in extra] + [(i, True) for i in gt]
    _rng.shuffle(mixed_in)  # which mixed-in slot is GT is random too
    return [
        item if was_mixed_in else (item, False) for item, was_mixed_in in place_items(list(real), mixed_in)
    ]


def _assignment_values(
    job: Job, chunk_id: int, worker: User, slot: AssignmentSlot, deadline: datetime, now: datetime
) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "chunk_id": chunk_id,
        "worker_id": worker.id,
        "status": AssignmentStatus.assigned,
        "slot": slot,
        "deadline": deadline,
        "created_at": now,
    }


def issue_taken(
    session: Session,
    job: Job,
    taken: claim_repository.Taken,
    worker: User,
    keep: float,
    slot: AssignmentSlot,
    deadline: datetime,
    now: datetime,
) -> Claimed:
    """:func:`issue` on PostgreSQL: the chunk and the GT candidates came with the take; the
    assignment, its items and the GT use counts go in one statement."""
    slots = job.gt_per_assignment
    extra = gt_repository.pick_extra(session, job.id, worker.id, slots - gt_draw(slots, keep))
    gt = choose_from_candidates(job.id, slots - len(extra), taken)
    placed = _mix(taken.real, extra, gt)
    tokens = [new_item_token() for _ in placed]
    items = [
        {"position": position, "token": token, "image_id": image_id, "is_gt": is_gt}
        for position, ((image_id, is_gt), token) in enumerate(zip(placed, tokens, strict=True))
    ]
    values = _assignment_values(job, taken.chunk_id, worker, slot, deadline, now)
    try:
        assignment_id, info = claim_repository.issue(session, values, items, gt)
    except IntegrityError as exc:  # the same worker claiming twice at the same instant
        raise ClaimRace("another claim of yours in this job is in progress; retry") from exc
    shown = [(token, *info[image_id][1:]) for (image_id, _), token in zip(placed, tokens, strict=True)]
    return Claimed(assignment_id, deadline, shown, video.segment_row(session, job, assignment_id))


def issue(
    session: Session,
    job: Job,
    chunk_id: int,
    worker: User,
    keep: float,
    slot: AssignmentSlot,
    deadline: datetime,
    now: datetime,
) -> Claimed:
    """The chunk's slot is taken: create the assignment with its GT slots mixed in (Core inserts).

    Adaptive GT: each of the job's ``gt_per_assignment`` slots is GT with probability ``keep`` (the
    worker's rate, set by the quality engine from the SPRT); a slot that is not GT carries one more
    answer on a work image of a finished chunk. When there is none, the slot stays GT: the
    assignment's length is the same for everyone, so it never tells how many GT items it holds."""
    real = repository.chunk_image_ids(session, chunk_id)
    slots = job.gt_per_assignment
    extra = gt_repository.pick_extra(session, job.id, worker.id, slots - gt_draw(slots, keep))
    like = _rng.choice(real) if real else None  # GT of a size like a random work image's
    gt = pick_gt_images(session, job, worker.id, job.gt_per_assignment - len(extra), like=like)
    info = repository.images(session, [*real, *extra, *gt])
    placed = [(tuple(info[i]), is_gt) for i, is_gt in _mix(real, extra, gt)]
    try:
        assignment_id = repository.insert_assignment(
            session, _assignment_values(job, chunk_id, worker, slot, deadline, now)
        )
    except IntegrityError as exc:  # the same worker claiming twice at the same instant
        raise ClaimRace("another claim of yours in this job is in progress; retry") from exc
    tokens = [new_item_token() for _ in placed]
    repository.insert_items(
        session,
        [
            {
                "assignment_id": assignment_id,
                "position": position,
                "token": token,
                "image_id": image[0],
                "is_gt": is_gt,
            }
            for position, ((image, is_gt), token) in enumerate(zip(placed, tokens, strict=True))
        ],
    )
    gt_repository.count_gt_uses(session, gt)  # last: its row locks are held only until commit
    items = [(token, *image[1:5]) for (image, _), token in zip(placed, tokens, strict=True)]
    return Claimed(assignment_id, deadline, items, video.segment_row(session, job, assignment_id))
