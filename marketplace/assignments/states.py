"""The assignment and chunk state machines, with every allowed transition in one place.

Assignment: ``assigned → submitted → accepted | rejected``; ``assigned → expired`` when the deadline
passes. A chunk is the pool side of it: it has ``overlap`` slots; a claim takes a slot
(``open → full`` when the last one goes), an expiry or a rejection gives it back (``full → open``),
``overlap`` acceptances finish it (``full → done``) and ``max_attempts`` rejections send it to a
reviewer (``→ in_review``) instead of back to the pool.
"""

from __future__ import annotations

from marketplace.errors import Conflict
from marketplace.models import Assignment, AssignmentStatus, Chunk, ChunkStatus, utcnow

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
}

FINISHED_ASSIGNMENT = frozenset({A.accepted, A.rejected, A.expired})


def move_assignment(assignment: Assignment, target: AssignmentStatus) -> None:
    if target not in ASSIGNMENT_TRANSITIONS[assignment.status]:
        raise Conflict(
            f"assignment {assignment.id} is {assignment.status.value}; it cannot become {target.value}",
            extra={"reason": f"assignment_{assignment.status.value}"},
        )
    assignment.status = target
    if target in FINISHED_ASSIGNMENT:
        assignment.finished_at = utcnow()


def move_chunk(chunk: Chunk, target: ChunkStatus) -> None:
    if target not in CHUNK_TRANSITIONS[chunk.status]:
        raise Conflict(f"chunk {chunk.id} is {chunk.status.value}; it cannot become {target.value}")
    chunk.status = target
    chunk.updated_at = utcnow()


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
