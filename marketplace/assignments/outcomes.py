"""What scoring and reviewing do to assignments and chunks: lock a submission, gather what the
scorer needs, record the score, accept or reject (through :mod:`marketplace.assignments.states`),
reopen a chunk a reviewer sends back. Called by the flows; never commits."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from marketplace.assignments import claim_repository, repository
from marketplace.assignments.scoring import ScoreResult
from marketplace.assignments.states import (
    move_assignment,
    move_chunk,
    nobody_left,
    record_acceptance,
    record_rejection,
)
from marketplace.errors import Conflict
from marketplace.models import Assignment, AssignmentStatus, Chunk, ChunkStatus, Job

log = logging.getLogger(__name__)


def reopen_chunk(session: Session, chunk_id: int) -> None:
    """A reviewer sends a chunk that exhausted its attempts back to the pool with fresh attempts."""
    chunk = repository.lock_chunk(session, chunk_id)
    if chunk.status is not ChunkStatus.in_review:
        raise Conflict(f"chunk {chunk.id} is {chunk.status.value}, not in review")
    chunk.rejected_count = 0
    move_chunk(chunk, ChunkStatus.open)


def lock_submitted(session: Session, assignment_id: int) -> tuple[Assignment, Job] | None:
    """A submission waiting for its score, locked (its job key-share locked first in the same
    statement, ordered against a cancel); None when there is nothing to score (scored already, or
    never submitted)."""
    found = repository.lock_assignment_with_job(session, assignment_id)
    if found is None or found[0].status is not AssignmentStatus.submitted:
        return None
    return found


def record_score(assignment: Assignment, result: ScoreResult) -> None:
    assignment.score = min(1.0, max(0.0, float(result.score)))
    assignment.score_details = result.details


def accept(session: Session, job: Job, assignment: Assignment) -> bool:
    """``submitted → accepted``; True when this acceptance finished its chunk."""
    with session.no_autoflush:  # the score just recorded is written with the status, in one UPDATE
        chunk = repository.lock_chunk(session, assignment.chunk_id)
    move_assignment(assignment, AssignmentStatus.accepted)
    return record_acceptance(chunk, chunk.overlap or job.overlap)


def accept_probing(session: Session, job: Job, assignment: Assignment, beyond: int) -> tuple[bool, bool]:
    """:func:`accept`, and whether the job had more than ``beyond`` unfinished chunks (this one
    included) when its chunk was locked, read in the same statement: more than ``beyond - 1`` are
    left (the completion check, :func:`marketplace.flows.completion.complete_if_done`)."""
    with session.no_autoflush:  # the score just recorded is written with the status, in one UPDATE
        chunk, many_left = repository.lock_chunk_probing(session, assignment.chunk_id, job.id, beyond)
    move_assignment(assignment, AssignmentStatus.accepted)
    return record_acceptance(chunk, chunk.overlap or job.overlap), many_left


def reject(session: Session, job: Job, assignment: Assignment) -> Chunk | None:
    """``submitted → rejected`` (its slot goes back to the pool); the chunk when this rejection
    exhausted its attempts and it now waits for a reviewer."""
    with session.no_autoflush:  # the score just recorded is written with the status, in one UPDATE
        chunk = repository.lock_chunk(session, assignment.chunk_id)
    move_assignment(assignment, AssignmentStatus.rejected)
    if record_rejection(chunk, job.max_attempts):
        log.info("chunk %s of job %s exhausted its attempts; waiting for review", chunk.id, chunk.job_id)
        return chunk
    return None


def strand_team_chunks(session: Session) -> list[Chunk]:
    """Chunks of team jobs that every member has held (after rejections or expiries) would wait
    forever: they go to a reviewer instead. Returns those moved."""
    moved = []
    for chunk_id in claim_repository.chunks_no_member_can_take(session):
        chunk = repository.lock_chunk(session, chunk_id)  # (holders only grow; a claim may have won)
        if nobody_left(chunk):
            moved.append(chunk)
    return moved
