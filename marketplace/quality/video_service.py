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

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import segment_repository
from marketplace.assignments.scoring import ScoreResult
from marketplace.assignments.video import segment_view
from marketplace.config import Settings
from marketplace.geometry.tracks import Track, track_from_json
from marketplace.jobs.segments import DEFAULT_IDF1_TARGET
from marketplace.media.service import review_video_url
from marketplace.models import Assignment, Job, utcnow
from marketplace.quality.scoring import accuracy_formula
from marketplace.quality.service import check_speed
from marketplace.quality.track_metrics import differences
from marketplace.quality.video_scoring import SegmentScore, compare_tracks, score_segment
from marketplace.quality.workers import update_worker_record


def _tracks(stored: Any) -> list[Track]:
    return [track_from_json(t) for t in stored or []]


def segment_differences(
    first: Sequence[Track],
    second: Sequence[Track],
    frames: Iterable[int],
    end: int,
    size: tuple[int, int],
    iou_threshold: float,
) -> dict[str, list[int]]:
    """The frames (of ``frames``) where two versions of a segment's tracks differ in geometry or in
    identity (:func:`marketplace.quality.track_metrics.differences`; labels are not compared)."""
    return differences(compare_tracks(first, second, list(frames), end, size), iou_threshold).as_json()


def segment_review(
    session: Session, job: Job, assignment: Assignment, settings: Settings
) -> dict[str, Any] | None:
    """What a reviewer compares on a video assignment: its segment, the hidden GT frames inside it and
    the frames where the worker's tracks differ from the GT there, and every other version of the same
    segment with the frames where it differs from this one, and the segment's frame chunks at the
    reviewers' own URLs (``player``, the layout a worker's claim has; None: not a video assignment)."""
    row = segment_repository.segment_gt_of_assignment(session, assignment.id)
    if row is None:
        return None
    start, end = int(row.start_frame), int(row.end_frame)
    mine = _tracks(row.answer)
    gt_frames = sorted(int(f) for f in row.gt_frames or [] if start <= int(f) < end)
    threshold = job.iou_threshold
    size = (int(row.height), int(row.width))
    shown = segment_repository.segment_of_assignment(session, assignment.id)
    return {
        "start_frame": start,
        "end_frame": end,
        "player": segment_view(job, shown, review_video_url(settings, shown.image_id)).model_dump(),
        "identity": (assignment.score_details or {}).get("identity"),
        "gt_frames": gt_frames,
        "gt_tracks": row.gt_tracks if gt_frames else None,
        "differences_from_gt": (
            segment_differences(_tracks(row.gt_tracks), mine, gt_frames, end, size, threshold)
            if gt_frames
            else None
        ),
        "other_versions": [
            {
                "assignment_id": other.assignment_id,
                "worker_id": other.worker_id,
                "status": other.status.value,
                "tracks": other.answer,
                "differences": segment_differences(
                    mine, _tracks(other.answer), range(start, end), end, size, threshold
                ),
            }
            for other in segment_repository.other_versions_of_segment(session, assignment.id)
        ],
    }


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
        size=(int(row.height), int(row.width)),
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
