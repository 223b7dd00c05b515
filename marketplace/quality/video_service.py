"""Scoring a submitted video segment on the hidden GT frames inside it, and what that says about the
worker. Never commits.

A segment holding none of its video's GT frames is not scored: it is accepted as a job without GT
accepts (its work is checked only by the worker's record on the segments that are). One holding GT
frames is scored by :func:`marketplace.quality.video_scoring.score_segment` (per-frame accuracy and
IDF1 on those frames) and counts as one item of the worker's sequential test, passed when the
segment is accepted; a worker who keeps failing is banned as on image jobs. The per-frame check of
a worker's speed is the image jobs' own (one segment, one item).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import segment_repository
from marketplace.assignments.scoring import ScoreResult
from marketplace.geometry.tracks import Track, track_from_json
from marketplace.jobs.segments import DEFAULT_IDF1_TARGET
from marketplace.models import Assignment, Job, utcnow
from marketplace.quality.scoring import accuracy_formula
from marketplace.quality.service import check_speed
from marketplace.quality.video_scoring import SegmentScore, score_segment
from marketplace.quality.workers import update_worker_record


def _tracks(stored: Any) -> list[Track]:
    return [track_from_json(t) for t in stored or []]


def segment_score(session: Session, job: Job, assignment: Assignment) -> SegmentScore | None:
    """The assignment's segment scored on its GT frames (None: the segment holds none)."""
    row = segment_repository.segment_gt_of_assignment(session, assignment.id)
    if row is None or not row.gt_frames:
        return None
    frames = [int(f) for f in row.gt_frames if row.start_frame <= int(f) < row.end_frame]
    if not frames:
        return None
    return score_segment(
        _tracks(row.gt_tracks),
        _tracks(row.answer),
        frames,
        row.end_frame,
        target=job.accuracy_target,
        idf1_target=DEFAULT_IDF1_TARGET if job.idf1_target is None else job.idf1_target,
        iou_threshold=job.iou_threshold,
    )


def score_video_and_record(session: Session, job: Job, assignment: Assignment) -> ScoreResult:
    """Score a video assignment and record the outcome in the worker's record (SPRT, speed)."""
    score = segment_score(session, job, assignment)
    if score is None:
        return ScoreResult(
            accuracy_formula(0, 0, 0),
            True,
            {"scorer": "video", "gt_frames": [], "target": job.accuracy_target},
        )
    now = utcnow()
    record = update_worker_record(session, job, assignment, [score.accepted], score.accepted, now)
    check_speed(session, job, assignment, record, now)
    return ScoreResult(score.accuracy, score.accepted, score.details())
