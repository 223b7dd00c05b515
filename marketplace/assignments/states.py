"""The assignment and chunk state machines, with every allowed transition in one place.

Assignment: ``assigned → submitted → accepted | rejected``; ``assigned → expired`` when the deadline
passes. A chunk is the pool side of it: it has ``overlap`` slots; a claim takes a slot
(``open → full`` when the last one goes), an expiry or a rejection gives it back (``full → open``),
``overlap`` acceptances finish it (``full → done``) and ``max_attempts`` rejections send it to a
reviewer (``→ in_review``) instead of back to the pool.

Slots: a worker holds at most two active (``assigned``) assignments per job, one ``current`` and one
``next`` claimed ahead (:func:`claim_slot`, the only place that decides it; the database backs it with
a partial unique index on ``(job, worker, slot)``). The ``next`` one's clock starts when the current
one ends: it is issued with ``deadline = current deadline + time limit`` and, when the current one is
submitted, it becomes ``current`` with its deadline re-based to ``now + time limit``
(:func:`promoted_deadline`); when the current one expires it becomes ``current`` as it is (its
deadline already counts from the current one's end).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case

from marketplace.errors import Conflict
from marketplace.models import Assignment, AssignmentSlot, AssignmentStatus, Chunk, ChunkStatus, utcnow
from marketplace.statemachine import StateMachine

A = AssignmentStatus
C = ChunkStatus

ASSIGNMENT_TRANSITIONS: dict[AssignmentStatus, frozenset[AssignmentStatus]] = {
    A.assigned: frozenset({A.submitted, A.expired}),
    A.submitted: frozenset({A.accepted, A.rejected}),
    A.accepted: frozenset(),
    A.rejected: frozenset(),
    A.expired: frozenset(),
}

CHUNK_TRANSITIONS: dict[ChunkStatus, frozenset[ChunkStatus]] = {
    C.open: frozenset({C.full, C.in_review}),
    C.full: frozenset({C.open, C.done, C.in_review}),
    C.done: frozenset(),
    C.in_review: frozenset({C.open, C.done}),  # a reviewer may re-open or settle it
    C.waiting: frozenset({C.open}),  # a stage in sequence: its images are done in the stage before
}

#: For set-based updates in the repository (``ASSIGNMENT.set_clause``).
ASSIGNMENT = StateMachine("assignment", ASSIGNMENT_TRANSITIONS)

FINISHED_ASSIGNMENT = frozenset({A.accepted, A.rejected, A.expired})

#: What a reviewer may do outside the worker flow: overturn a rejection.
REVIEW_TRANSITIONS: dict[AssignmentStatus, frozenset[AssignmentStatus]] = {
    A.rejected: frozenset({A.accepted}),
}


class NothingToClaim(Conflict):
    """No assignment for this worker right now; ``reason`` says why (409 with a JSON body)."""

    code = "nothing_available"

    def __init__(self, reason: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, extra={"reason": reason, **extra})


def check_assignment_move(assignment_id: int, current: AssignmentStatus, target: AssignmentStatus) -> None:
    if target not in ASSIGNMENT_TRANSITIONS[current]:
        raise Conflict(
            f"assignment {assignment_id} is {current.value}; it cannot become {target.value}",
            extra={"reason": f"assignment_{current.value}"},
        )


def move_assignment(assignment: Assignment, target: AssignmentStatus) -> None:
    check_assignment_move(assignment.id, assignment.status, target)
    assignment.status = target
    if target in FINISHED_ASSIGNMENT:
        assignment.finished_at = utcnow()


def overturn_assignment(assignment: Assignment) -> None:
    """A reviewer's override of a rejection: ``rejected → accepted``."""
    if AssignmentStatus.accepted not in REVIEW_TRANSITIONS.get(assignment.status, frozenset()):
        raise Conflict(
            f"assignment {assignment.id} is {assignment.status.value}; only a rejection is overturned",
            extra={"reason": f"assignment_{assignment.status.value}"},
        )
    assignment.status = AssignmentStatus.accepted
    assignment.finished_at = utcnow()


def has_room_for_overturn(chunk: Chunk) -> bool:
    """Whether an overturned rejection can still count as one of the chunk's ``overlap`` acceptances:
    the slot its rejection gave back is still free (nobody else took it and finished the work)."""
    return chunk.free_slots > 0 and chunk.status in (C.open, C.in_review)


def move_chunk(chunk: Chunk, target: ChunkStatus) -> None:
    if target not in CHUNK_TRANSITIONS[chunk.status]:
        raise Conflict(f"chunk {chunk.id} is {chunk.status.value}; it cannot become {target.value}")
    chunk.status = target
    chunk.updated_at = utcnow()


def claim_slot(
    job_id: int,
    held: Sequence[tuple[int, AssignmentSlot, datetime]],
    ahead: bool,
    time_limit_s: int,
    now: datetime,
) -> tuple[AssignmentSlot, datetime]:
    """Which slot a new claim takes and its deadline, given the worker's live active assignments in
    the job as ``(id, slot, deadline)``; refuses with a reason otherwise.

    Without ``ahead``: only when nothing is held (one active assignment per worker and job). With
    ``ahead``: only when exactly the current one is held; the new one is ``next``.
    """
    current = [h for h in held if h[1] is AssignmentSlot.current]
    if not held:
        if ahead:
            raise NothingToClaim(
                "no_current_assignment",
                f"you hold no assignment in job {job_id} to claim ahead of: claim without ahead=true",
            )
        return AssignmentSlot.current, now + timedelta(seconds=time_limit_s)
    if len(held) >= 2 or not ahead or not current:
        ids = [h[0] for h in held]
        if ahead:
            raise NothingToClaim(
                "ahead_limit_reached",
                f"you already hold assignments {ids} in job {job_id} (the current one and one claimed "
                "ahead): submit one first",
                assignment_id=ids[0],
            )
        raise NothingToClaim(
            "already_assigned",
            f"you already hold assignment {ids[0]} in job {job_id}: submit it or let it expire first",
            assignment_id=ids[0],
        )
    return AssignmentSlot.next, current[0][2] + timedelta(seconds=time_limit_s)


def promoted_deadline(time_limit_s: int, now: datetime) -> datetime:
    """The deadline of a ``next`` assignment once the current one is submitted: a full time limit."""
    return now + timedelta(seconds=time_limit_s)


def take_slot_values(now: Any = None) -> dict[str, Any]:
    """:func:`take_slot` as SQL ``SET`` values, for an ``UPDATE`` whose ``WHERE`` selects an ``open``
    chunk with a free slot (the same precondition); ``now``: a value or a bound parameter."""
    return {
        "free_slots": Chunk.free_slots - 1,
        "status": case((Chunk.free_slots == 1, C.full.value), else_=Chunk.status),
        "updated_at": utcnow() if now is None else now,
    }


def take_slot(chunk: Chunk) -> None:
    """A claim: one slot fewer; the chunk is ``full`` when none is left."""
    if chunk.status is not C.open or chunk.free_slots < 1:
        raise Conflict(f"chunk {chunk.id} has no free slot")
    chunk.free_slots -= 1
    if chunk.free_slots == 0:
        move_chunk(chunk, C.full)


def release_slot(chunk: Chunk) -> None:
    """An expiry or a rejection: the slot goes back to the pool (unless a reviewer has the chunk)."""
    chunk.free_slots += 1
    if chunk.status is C.full:
        move_chunk(chunk, C.open)
    chunk.updated_at = utcnow()


def open_waiting(chunk: Chunk, overlap: int) -> None:
    """A waiting chunk of a stage in sequence opens: its ``overlap`` slots become free."""
    move_chunk(chunk, C.open)
    chunk.free_slots = overlap


def record_acceptance(chunk: Chunk, overlap: int) -> bool:
    """Count an accepted issue; True when this finished the chunk."""
    chunk.accepted_count += 1
    chunk.updated_at = utcnow()
    if chunk.accepted_count >= overlap and chunk.status is C.full:
        move_chunk(chunk, C.done)
        return True
    return False


def record_rejection(chunk: Chunk, max_attempts: int) -> bool:
    """Count a rejection and free its slot; True when the chunk is exhausted and goes to review."""
    chunk.rejected_count += 1
    release_slot(chunk)
    if chunk.rejected_count >= max_attempts and chunk.status is C.open:
        move_chunk(chunk, C.in_review)
        return True
    return False


def nobody_left(chunk: Chunk) -> bool:
    """A chunk no one may take any more (every member of its job's team held it): to a reviewer."""
    if chunk.status is not C.open or chunk.free_slots <= 0:
        return False
    move_chunk(chunk, C.in_review)
    return True
