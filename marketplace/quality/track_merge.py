"""Tracks across segments and across workers: stitching a video's segments back together, and merging
several workers' tracks of one segment. Plain functions on numpy arrays.

Tracks are rows ``frame, id, x, y, w, h`` (one box per frame a track is visible, frames between
keyframes already interpolated: :func:`marketplace.geometry.tracks.interpolate`).

**Track IoU** of two tracks: the sum over frames of their boxes' IoU (0 where either is absent) over
the number of frames where either is present. It is 1 for the same boxes on the same frames and falls
with every frame they disagree on, in geometry or in presence.

**Stitching** (:func:`stitch`): neighbouring segments share a few frames. On those frames each track
of the earlier segment is paired with a track of the later one by a maximum-weight assignment on
track IoU restricted to the shared frames; a pair at or above ``threshold`` continues one id. A later
track left unpaired starts a new id. A pair whose track has a second candidate nearly as good
(within ``ambiguity`` of track IoU) is reported for review: the match may be a swap. On shared frames
the earlier segment's boxes are kept, with the later segment's unpaired tracks added.

**Merging** (:func:`merge_workers`): workers' tracks are linked into clusters, worker by worker, by a
maximum-weight assignment on track IoU against each cluster's current merged track (at least
``threshold``). A cluster is kept if the workers in it hold at least ``quorum`` of the total weight; on
each frame it is visible if the workers showing it there hold more than half the weight of the
cluster, and its box is their weighted mean.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from marketplace.quality.track_metrics import box_iou

DEFAULT_THRESHOLD = 0.5
DEFAULT_AMBIGUITY = 0.1


def _as_rows(rows: np.ndarray) -> np.ndarray:
    out = np.asarray(rows, dtype=np.float64)
    return out.reshape(-1, 6) if out.size == 0 else out[:, :6]


def track_iou_matrix(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids of ``a``, ids of ``b``, their track IoU matrix)."""
    a, b = _as_rows(a), _as_rows(b)
    ids_a, ia = np.unique(a[:, 1], return_inverse=True)
    ids_b, ib = np.unique(b[:, 1], return_inverse=True)
    overlap = np.zeros((len(ids_a), len(ids_b)))
    both = np.zeros((len(ids_a), len(ids_b)))
    for t in np.intersect1d(a[:, 0], b[:, 0]):
        ga, gb = a[:, 0] == t, b[:, 0] == t
        rows, cols = np.meshgrid(ia[ga], ib[gb], indexing="ij")
        np.add.at(overlap, (rows, cols), box_iou(a[ga, 2:6], b[gb, 2:6]))
        np.add.at(both, (rows, cols), 1.0)
    length_a = np.bincount(ia, minlength=len(ids_a)).astype(np.float64)
    length_b = np.bincount(ib, minlength=len(ids_b)).astype(np.float64)
    either = length_a[:, None] + length_b[None, :] - both
    return ids_a, ids_b, np.divide(overlap, either, out=np.zeros_like(overlap), where=either > 0)


@dataclass(frozen=True)
class Segment:
    """One segment's tracks: its first and last frame (inclusive) and its rows (ids local to it)."""

    start: int
    end: int
    rows: np.ndarray


@dataclass
class Stitched:
    rows: np.ndarray  # whole-video rows with global ids 1, 2, ...
    #: per segment, its local track ids -> the global ids they were given
    ids: list[dict[float, int]] = field(default_factory=list)
    #: (segment index, local id of the later segment's track, the global id it was given): a match with
    #: a close second candidate, for a reviewer
    ambiguous: list[tuple[int, float, int]] = field(default_factory=list)


def stitch(
    segments: Sequence[Segment],
    threshold: float = DEFAULT_THRESHOLD,
    ambiguity: float = DEFAULT_AMBIGUITY,
    unlinked: Collection[tuple[int, float]] = (),
) -> Stitched:
    """Join segments (in frame order, neighbours sharing frames) into whole-video tracks. ``unlinked``:
    ``(segment index, local id)`` of tracks a reviewer said start anew (never joined to an earlier one)."""
    out: list[np.ndarray] = []
    ids: list[dict[float, int]] = []
    ambiguous: list[tuple[int, float, int]] = []
    next_id = 1
    previous: np.ndarray | None = None  # the previous segment's rows, with global ids
    previous_end = -1
    for k, seg in enumerate(segments):
        rows = _as_rows(seg.rows).copy()
        mapping: dict[float, int] = {}  # local id -> global id
        if previous is not None:
            shared = rows[:, 0] <= previous_end
            ids_a, ids_b, iou = track_iou_matrix(previous[previous[:, 0] >= seg.start], rows[shared])
            iou[:, np.array([(k, float(b)) in unlinked for b in ids_b], dtype=bool)] = 0.0
            if iou.size:
                for i, j in zip(*linear_sum_assignment(-iou), strict=True):
                    if iou[i, j] < threshold:
                        continue
                    mapping[float(ids_b[j])] = int(ids_a[i])
                    rivals = np.concatenate([np.delete(iou[:, j], i), np.delete(iou[i, :], j)])
                    if rivals.size and iou[i, j] - rivals.max() < ambiguity:
                        ambiguous.append((k, float(ids_b[j]), int(ids_a[i])))
        continued = set(mapping.values())
        for local in np.unique(rows[:, 1]):
            if float(local) not in mapping:
                mapping[float(local)] = next_id
                next_id += 1
        ids.append(mapping)
        rows[:, 1] = [mapping[float(i)] for i in rows[:, 1]]
        # on shared frames, a continued track keeps the earlier segment's boxes
        rows = rows[~((rows[:, 0] <= previous_end) & np.isin(rows[:, 1], list(continued)))]
        out.append(rows)
        previous = rows if previous is None else np.concatenate([previous, rows])
        previous_end = max(previous_end, seg.end)
    all_rows = np.concatenate(out) if out else np.zeros((0, 6))
    return Stitched(all_rows[np.lexsort((all_rows[:, 1], all_rows[:, 0]))], ids, ambiguous)


def merge_workers(
    workers: Sequence[tuple[np.ndarray, float]], threshold: float = DEFAULT_THRESHOLD, quorum: float = 0.5
) -> np.ndarray:
    """One segment's tracks from several workers' ``(rows, weight)``: merged rows with ids 1, 2, ..."""
    weights = [max(w, 0.0) for _, w in workers]
    merged = [_merged(c, weights, n + 1) for n, c in enumerate(linked_tracks(workers, threshold, quorum))]
    rows = np.concatenate(merged) if merged else np.zeros((0, 6))
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))] if len(rows) else rows


def linked_tracks(
    workers: Sequence[tuple[np.ndarray, float]], threshold: float = DEFAULT_THRESHOLD, quorum: float = 0.5
) -> list[dict[int, np.ndarray]]:
    """Several workers' tracks of one segment linked into clusters (worker index -> that worker's
    track rows), keeping the clusters drawn by at least ``quorum`` of the weight."""
    total = sum(max(w, 0.0) for _, w in workers)
    clusters: list[dict[int, np.ndarray]] = []  # worker index -> that worker's track rows
    weights = [max(w, 0.0) for _, w in workers]
    for wi, (rows, _) in enumerate(workers):
        rows = _as_rows(rows)
        tracks = {float(t): rows[rows[:, 1] == t] for t in np.unique(rows[:, 1])}
        if clusters and tracks:
            current = np.concatenate([_merged(c, weights, cid) for cid, c in enumerate(clusters)])
            ids_a, ids_b, iou = track_iou_matrix(current, rows)
            r, c = linear_sum_assignment(-iou)
            for i, j in zip(r, c, strict=True):
                if iou[i, j] >= threshold:
                    clusters[int(ids_a[i])][wi] = tracks.pop(float(ids_b[j]))
        clusters.extend({wi: t} for t in tracks.values())
    return [c for c in clusters if sum(weights[w] for w in c) >= quorum * total]


def _merged(cluster: dict[int, np.ndarray], weights: Sequence[float], new_id: int) -> np.ndarray:
    """A cluster's merged track: on each frame shown by more than half of its weight, the weighted
    mean box of the workers showing it (a track holds one box per frame)."""
    held = sum(weights[w] for w in cluster)
    rows = np.concatenate(list(cluster.values()))
    w = np.concatenate([np.full(len(t), weights[k]) for k, t in cluster.items()])
    frames, at = np.unique(rows[:, 0], return_inverse=True)
    shown = np.bincount(at, weights=w, minlength=len(frames))
    count = np.bincount(at, minlength=len(frames))
    boxes = np.zeros((len(frames), 4))
    for c in range(4):
        boxes[:, c] = np.bincount(at, weights=w * rows[:, 2 + c], minlength=len(frames))
    weighted = shown > 0
    boxes[weighted] /= shown[weighted, None]
    for c in range(4):  # all weights zero: the plain mean
        plain = np.bincount(at, weights=rows[:, 2 + c], minlength=len(frames)) / np.maximum(count, 1)
        boxes[~weighted, c] = plain[~weighted]
    keep = shown * 2 > held if held > 0 else count > 0
    out = np.column_stack([frames, np.full(len(frames), float(new_id)), boxes])
    return out[keep]
