"""A worker's video segment scored on the hidden GT frames inside it. Plain functions, no database.

GT for video is a few frames of some segments that the requester annotated completely (every object
in view has a box and a track id). A worker's tracks are interpolated (the one definition,
:mod:`marketplace.geometry.tracks`) and compared with the GT on those frames only, two ways:

* **detection**, frame by frame: the box formula of image jobs (:func:`score_boxes`: matched pairs at
  the job's IoU threshold, labels must agree), each GT frame an item. It is blind to identity: a
  worker who swaps two people half-way still has every box right on every frame;
* **identity** across the GT frames (:mod:`marketplace.quality.track_metrics`): IDF1 (one global
  pairing of GT ids with the worker's ids), ID switches and MOTA (CLEAR MOT), and HOTA with DetA
  and AssA for reviewers. A swap makes half of one GT id's frames belong to the wrong worker id, so
  IDF1 falls while per-frame accuracy stays 1.0.

A segment is accepted when detection reaches the job's accuracy target *and* IDF1 reaches its
identity target (default :data:`DEFAULT_IDF1_TARGET`). With one GT frame there is no identity to
check (IDF1 is then the detection's own pairing); the requester is told to annotate two or more
frames per GT segment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.geometry.polygons import mask_iou
from marketplace.geometry.tracks import Track, iter_shapes, xywh
from marketplace.jobs.segments import DEFAULT_IDF1_TARGET
from marketplace.quality.polygons import PolygonSet, score_polygons
from marketplace.quality.scoring import AssignmentScore, BoxSet, score_boxes
from marketplace.quality.track_metrics import Compared, clear_mot, compared_frames, hota, id_scores, sequence

#: a segment is scored on at most this many of its GT frames (spread evenly): the scores of 150
#: frames with 20 objects take ~30 ms (``benchmarks/video_quality.py``), this bounds the worst case
MAX_SCORED_FRAMES = 200


@dataclass(frozen=True)
class FrameBoxes:
    """Boxes of tracks on chosen frames: ``rows`` is ``(n, 6)`` ``frame, id, x, y, w, h``."""

    rows: np.ndarray
    labels: list[str]

    def on(self, frame: int) -> BoxSet:
        at = self.rows[:, 0] == frame
        return BoxSet.of(
            self.rows[at, 2:6], [label for label, keep in zip(self.labels, at, strict=True) if keep]
        )


def boxes_on(tracks: Iterable[Track], frames: Iterable[int], end: int) -> FrameBoxes:
    """Each track's box (``[xtl, ytl, xbr, ybr]`` keyframes, interpolated; a polygon track's bounding
    box) on each of ``frames`` before ``end`` where it is in view, as ``x, y, w, h`` rows (track by
    track, in frame order)."""
    rows: list[list[float]] = []
    labels: list[str] = []
    for frame, track, geometry in _shapes(tracks, frames, end):
        x, y, w, h = xywh(track.kind, geometry)
        rows.append([float(frame), float(track.id), x, y, w, h])
        labels.append(track.label)
    return FrameBoxes(np.asarray(rows, dtype=np.float64).reshape(-1, 6), labels)


def _shapes(tracks: Iterable[Track], frames: Iterable[int], end: int) -> Iterator[tuple[int, Track, Any]]:
    wanted = set(frames)
    for track in tracks:
        for shape in iter_shapes(track, end):
            if shape.frame in wanted and shape.geometry:
                yield shape.frame, track, shape.geometry


@dataclass(frozen=True)
class FramePolygons:
    """Polygon tracks on chosen frames: per frame, the track ids in view and their masks."""

    ids: dict[int, list[int]]
    sets: dict[int, PolygonSet]


def polygons_on(
    tracks: Iterable[Track], frames: Sequence[int], end: int, size: tuple[int, int]
) -> FramePolygons:
    """Each polygon track's rings (interpolated) on each of ``frames`` where it is in view, as masks
    of a ``(height, width)`` frame."""
    height, width = size
    found: dict[int, list[tuple[int, str, Any]]] = {f: [] for f in frames}
    for frame, track, geometry in _shapes(tracks, frames, end):
        found[frame].append((track.id, track.label, geometry))
    return FramePolygons(
        {f: [i for i, _, _ in got] for f, got in found.items()},
        {
            f: PolygonSet.of([g for _, _, g in got], [label for _, label, _ in got], height, width)
            for f, got in found.items()
        },
    )


def compare_tracks(
    gt: Sequence[Track], other: Sequence[Track], frames: Sequence[int], end: int, size: tuple[int, int]
) -> Compared:
    """Both sets of tracks on ``frames``, frame by frame, for the identity scores: boxes by box IoU,
    polygons by mask IoU (``size``: the frame's ``(height, width)`` in the tracks' pixels)."""
    if _kind(gt, other) == "box":
        return sequence(boxes_on(gt, frames, end).rows, boxes_on(other, frames, end).rows)
    truth, given = polygons_on(gt, frames, end, size), polygons_on(other, frames, end, size)
    return compared_frames(
        [
            (
                f,
                np.asarray(truth.ids[f]),
                np.asarray(given.ids[f]),
                mask_iou(truth.sets[f].masks, given.sets[f].masks),
            )
            for f in sorted(set(frames))
            if truth.ids[f] or given.ids[f]
        ]
    )


def _kind(*sides: Sequence[Track]) -> str:
    return next((t.kind for side in sides for t in side), "box")


def spread(frames: Sequence[int], most: int = MAX_SCORED_FRAMES) -> list[int]:
    """At most ``most`` of ``frames`` (sorted), evenly spaced, first and last kept."""
    ordered = sorted(set(frames))
    if len(ordered) <= most:
        return ordered
    picks = np.linspace(0, len(ordered) - 1, most).round().astype(int)
    return [ordered[i] for i in sorted(set(picks.tolist()))]


@dataclass(frozen=True)
class SegmentScore:
    detection: AssignmentScore
    idf1: float
    id_switches: int
    mota: float
    hota: float
    deta: float
    assa: float
    idf1_target: float
    frames: tuple[int, ...]

    @property
    def accuracy(self) -> float:
        return self.detection.accuracy

    @property
    def identity_ok(self) -> bool:
        return self.idf1 >= self.idf1_target - 1e-12

    @property
    def accepted(self) -> bool:
        return self.detection.accepted and self.identity_ok

    def details(self) -> dict[str, Any]:
        """What a reviewer reads (stored on the assignment, never shown to the worker)."""
        return {
            "scorer": "video",
            "accuracy": self.accuracy,
            "target": self.detection.target,
            "matched": self.detection.matched,
            "gt_count": self.detection.gt_count,
            "submitted_count": self.detection.submitted_count,
            "gt_frames": list(self.frames),
            "identity": {
                "idf1": self.idf1,
                "idf1_target": self.idf1_target,
                "id_switches": self.id_switches,
                "mota": self.mota,
                "hota": self.hota,
                "deta": self.deta,
                "assa": self.assa,
            },
            "failed": [
                why
                for why, bad in (
                    ("detection", not self.detection.accepted),
                    ("identity", not self.identity_ok),
                )
                if bad
            ],
        }


def _finite(value: float, otherwise: float) -> float:
    return otherwise if math.isnan(value) else float(value)


def score_segment(
    gt: Sequence[Track],
    worker: Sequence[Track],
    frames: Sequence[int],
    end: int,
    *,
    target: float,
    idf1_target: float = DEFAULT_IDF1_TARGET,
    iou_threshold: float = 0.5,
    size: tuple[int, int] = (0, 0),
) -> SegmentScore:
    """Score ``worker``'s tracks against ``gt`` on the GT ``frames`` of a segment ending at ``end``
    (exclusive; a last keyframe holds until then). Box tracks are matched by box IoU; polygon tracks
    by mask IoU on a frame of ``size`` (height, width), as polygon images are."""
    scored = spread(frames)
    if _kind(gt, worker) == "box":
        truth, given = boxes_on(gt, scored, end), boxes_on(worker, scored, end)
        detection = score_boxes(
            {f: truth.on(f) for f in scored},
            {f: given.on(f) for f in scored},
            target=target,
            iou_threshold=iou_threshold,
        )
    else:
        masks_gt, masks_worker = polygons_on(gt, scored, end, size), polygons_on(worker, scored, end, size)
        detection = score_polygons(
            {f: masks_gt.sets[f] for f in scored},
            {f: masks_worker.sets[f] for f in scored},
            target=target,
            iou_threshold=iou_threshold,
            boundary=False,
        )
    compared = compare_tracks(gt, worker, scored, end, size)
    ids = id_scores(compared, iou_threshold)
    mot = clear_mot(compared, iou_threshold)
    both_empty = compared.gt_boxes + compared.hyp_boxes == 0
    h = hota(compared) if not both_empty else None
    return SegmentScore(
        detection=detection,
        idf1=_finite(ids.idf1, 1.0),  # nothing on either side: nothing to confuse
        id_switches=int(mot.switches),
        mota=_finite(mot.mota, 1.0 if both_empty else 0.0),
        hota=1.0 if h is None else h.hota,
        deta=1.0 if h is None else h.deta,
        assa=1.0 if h is None else h.assa,
        idf1_target=idf1_target,
        frames=tuple(scored),
    )
