"""Merging overlapping annotations of one image from several workers into one answer.

Boxes (and points, the same way by distance):

1. Cluster per label. Workers are visited from the most to the least reliable (their GT accuracy);
   each worker's objects are matched with the Hungarian algorithm against the current cluster
   representatives (the weighted mean of their members), a pair counting at IoU >= threshold. A
   matched object joins the cluster, the others open new clusters. So a cluster never holds two
   objects of the same worker.
2. Drop clusters supported by fewer than ``quorum`` of the image's workers (workers who submitted
   nothing count: they voted "no object here").
3. Combine the members' corners with the workers' weights, and give each merged object a
   confidence = (weight share of the workers who drew it) x (mean IoU of the members to the merged
   box). A lone worker's box on an overlap-3 image thus gets at most 1/3.

Everything runs on flat arrays for many images at once (:func:`merge_batch`, :func:`merge_boxes_batch`):
round r takes every image's r-th most reliable worker, so a whole job merges in a few vectorised
passes; :func:`merge_boxes` / :func:`merge_points` are the one-image conveniences.

Classification items are aggregated in :mod:`marketplace.quality.aggregation`.
:func:`flag_low_confidence` picks the merged objects or items that need another worker or a review.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from marketplace.quality.batch import iou_pairs, label_codes, max_matching_edges, pair_up
from marketplace.quality.scoring import BoxSet, xywh_to_xyxy

DEFAULT_MERGE_IOU = 0.5
DEFAULT_QUORUM = 0.5
_MIN_WEIGHT = 1e-6


@dataclass(frozen=True)
class WorkerBoxes:
    worker_id: Hashable
    boxes: BoxSet
    weight: float = 1.0  # e.g. the worker's accuracy on GT


@dataclass(frozen=True)
class WorkerPoints:
    worker_id: Hashable
    xy: np.ndarray  # (n, 2)
    labels: np.ndarray  # (n,)
    weight: float = 1.0


@dataclass(frozen=True)
class Merged:
    """Merged objects of one image. ``coords`` is ``(k, 4)`` xywh for boxes, ``(k, 2)`` for points."""

    coords: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray  # (k,)
    support: np.ndarray  # (k,) number of workers in the cluster
    members: tuple[tuple[tuple[Hashable, int], ...], ...] = field(default=())  # (worker id, index)

    def __len__(self) -> int:
        return len(self.coords)


@dataclass(frozen=True)
class MergedBatch:
    """Merged objects of many images (flat arrays, sorted by image).

    ``object_cluster[k]`` says which merged object input object ``k`` went into (-1: its cluster was
    dropped by the quorum).
    """

    image: np.ndarray  # (k,) image index of each merged object
    coords: np.ndarray  # (k, 4) xywh boxes or (k, 2) points
    labels: np.ndarray  # (k,)
    confidence: np.ndarray
    support: np.ndarray
    object_cluster: np.ndarray


def worker_rank(image: np.ndarray, worker: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per object: the rank of its worker within its image, most reliable (largest weight) first."""
    key = image.astype(np.int64) * (int(worker.max()) + 1) + worker
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    u_image, u_worker, u_weight = image[first], worker[first], weight[first]
    order = np.lexsort((u_worker, -u_weight, u_image))
    rank = np.empty(len(uniq), dtype=np.intp)
    sorted_image = u_image[order]
    group_start = np.r_[0, np.flatnonzero(np.diff(sorted_image)) + 1]
    starts = np.repeat(group_start, np.diff(np.r_[group_start, len(order)]))
    rank[order] = np.arange(len(order)) - starts
    return rank[inverse]


def merge_batch(
    image: np.ndarray,
    worker: np.ndarray,
    coords: np.ndarray,
    labels: np.ndarray,
    weight: np.ndarray,
    image_workers: np.ndarray,
    image_weight: np.ndarray,
    similarity: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    threshold: float,
    quorum: float = DEFAULT_QUORUM,
) -> MergedBatch:
    """Cluster and merge objects of many images at once (the algorithm of the module docstring).

    One row per object: ``image`` index, ``worker`` index, ``coords`` (corners for boxes), ``labels``
    and the worker's ``weight``. ``image_workers`` / ``image_weight`` (per image) are the number of
    workers who answered each image and the sum of their weights, including workers who drew nothing.
    ``similarity(a_coords, b_coords, image_idx)`` scores aligned rows.

    Workers are processed in rounds: round r takes every image's r-th most reliable worker and
    matches their objects against that image's clusters of the same label, all images together.
    """
    image = np.asarray(image, dtype=np.int64)
    n, dim = coords.shape
    weight = _weights(weight) if n else np.zeros(0)
    (codes,) = label_codes(np.asarray(labels))
    n_codes = int(codes.max()) + 1 if n else 1
    rank = worker_rank(image, np.asarray(worker, dtype=np.int64), weight) if n else np.zeros(0, np.intp)
    cluster_of = np.full(n, -1, dtype=np.intp)
    sums = np.zeros((n, dim))
    cluster_weight = np.zeros(n)
    cluster_key = np.zeros(n, dtype=np.int64)
    n_clusters = 0
    object_key = image * n_codes + codes
    for r in range(int(rank.max()) + 1 if n else 0):
        batch = np.flatnonzero(rank == r)
        joined = np.zeros(len(batch), dtype=bool)
        if n_clusters:
            bi, ci = pair_up(object_key[batch], cluster_key[:n_clusters])
            reps = sums[ci] / cluster_weight[ci, None]
            sim = similarity(coords[batch[bi]], reps, image[batch[bi]])
            ok = sim >= threshold
            bi, ci, sim = bi[ok], ci[ok], sim[ok]
            chosen = max_matching_edges(bi, ci, sim, object_key[batch[bi]], len(batch), n_clusters)
            bi, ci = bi[chosen], ci[chosen]
            members = batch[bi]
            cluster_of[members] = ci
            sums[ci] += weight[members, None] * coords[members]
            cluster_weight[ci] += weight[members]
            joined[bi] = True
        fresh = batch[~joined]
        new_ids = np.arange(n_clusters, n_clusters + len(fresh))
        cluster_of[fresh] = new_ids
        sums[new_ids] = weight[fresh, None] * coords[fresh]
        cluster_weight[new_ids] = weight[fresh]
        cluster_key[new_ids] = object_key[fresh]
        n_clusters += len(fresh)
    result = _finish_clusters(
        cluster_of,
        sums[:n_clusters],
        cluster_weight[:n_clusters],
        cluster_key[:n_clusters],
        n_codes,
        image,
        coords,
        image_workers,
        image_weight,
        similarity,
        quorum,
    )
    # every member of a cluster has the cluster's label: take it from any member
    label_array = np.asarray(labels)
    placed = result.object_cluster >= 0
    representative = np.zeros(len(result.coords), dtype=np.intp)
    representative[result.object_cluster[placed]] = np.flatnonzero(placed)
    return replace(result, labels=label_array[representative] if n else label_array[:0])


def _finish_clusters(
    cluster_of: np.ndarray,
    sums: np.ndarray,
    cluster_weight: np.ndarray,
    cluster_key: np.ndarray,
    n_codes: int,
    image: np.ndarray,
    coords: np.ndarray,
    image_workers: np.ndarray,
    image_weight: np.ndarray,
    similarity: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    quorum: float,
) -> MergedBatch:
    n_clusters = len(cluster_weight)
    merged = sums / cluster_weight[:, None] if n_clusters else sums
    cluster_image = cluster_key // n_codes
    support = np.bincount(cluster_of, minlength=n_clusters)
    fit = np.clip(similarity(coords, merged[cluster_of], image), 0.0, 1.0) if len(coords) else np.zeros(0)
    mean_fit = np.bincount(cluster_of, weights=fit, minlength=n_clusters) / np.maximum(support, 1)
    share = cluster_weight / np.asarray(image_weight, dtype=np.float64)[cluster_image]
    keep = support >= quorum * np.asarray(image_workers)[cluster_image] - 1e-9
    kept = np.flatnonzero(keep)
    kept = kept[np.argsort(cluster_image[kept], kind="stable")]
    new_index = np.full(n_clusters, -1, dtype=np.intp)
    new_index[kept] = np.arange(len(kept))
    return MergedBatch(
        image=cluster_image[kept],
        coords=merged[kept],
        labels=np.zeros(0),  # filled in by merge_batch
        confidence=np.minimum(share[kept] * mean_fit[kept], 1.0),
        support=support[kept],
        object_cluster=new_index[cluster_of] if len(cluster_of) else cluster_of,
    )


def _weights(values: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(values, dtype=np.float64), _MIN_WEIGHT)


def _box_similarity(a: np.ndarray, b: np.ndarray, image: np.ndarray) -> np.ndarray:
    return iou_pairs(a, b)


def xyxy_to_xywh(xyxy: np.ndarray) -> np.ndarray:
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)


def merge_boxes_batch(
    image: np.ndarray,
    worker: np.ndarray,
    xywh: np.ndarray,
    labels: np.ndarray,
    weight: np.ndarray,
    image_workers: np.ndarray,
    image_weight: np.ndarray,
    *,
    iou_threshold: float = DEFAULT_MERGE_IOU,
    quorum: float = DEFAULT_QUORUM,
) -> MergedBatch:
    """:func:`merge_batch` for boxes given as ``[x, y, w, h]``; the result's coords are xywh too."""
    result = merge_batch(
        image,
        worker,
        xywh_to_xyxy(xywh),
        labels,
        weight,
        image_workers,
        image_weight,
        _box_similarity,
        iou_threshold,
        quorum,
    )
    return replace(result, coords=xyxy_to_xywh(result.coords))


def _single_image(
    submissions: Sequence[WorkerBoxes] | Sequence[WorkerPoints],
    coords: list[np.ndarray],
    labels: list[np.ndarray],
    similarity: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    threshold: float,
    quorum: float,
) -> tuple[MergedBatch, np.ndarray, np.ndarray]:
    counts = [len(c) for c in coords]
    worker = np.repeat(np.arange(len(submissions)), counts)
    index = np.concatenate([np.arange(k) for k in counts]) if counts else np.zeros(0, np.intp)
    weights = _weights([s.weight for s in submissions])
    all_labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    result = merge_batch(
        np.zeros(len(worker), dtype=np.int64),
        worker,
        np.concatenate(coords),
        all_labels,
        weights[worker],
        np.array([len(submissions)]),
        np.array([weights.sum()]),
        similarity,
        threshold,
        quorum,
    )
    return result, worker, index


def _to_merged(
    result: MergedBatch,
    coords: np.ndarray,
    worker: np.ndarray,
    index: np.ndarray,
    worker_ids: Sequence[Hashable],
) -> Merged:
    members: list[list[tuple[Hashable, int]]] = [[] for _ in range(len(result.coords))]
    for k, cluster in enumerate(result.object_cluster.tolist()):
        if cluster >= 0:
            members[cluster].append((worker_ids[worker[k]], int(index[k])))
    return Merged(coords, result.labels, result.confidence, result.support, tuple(tuple(m) for m in members))


def merge_boxes(
    submissions: Sequence[WorkerBoxes],
    *,
    iou_threshold: float = DEFAULT_MERGE_IOU,
    quorum: float = DEFAULT_QUORUM,
) -> Merged:
    """Merge the boxes several workers drew on one image (see the module docstring)."""
    if not submissions:
        return Merged(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.intp))
    corners = [xywh_to_xyxy(s.boxes.xywh) for s in submissions]
    labels = [np.asarray(s.boxes.labels) for s in submissions]
    result, worker, index = _single_image(
        submissions, corners, labels, _box_similarity, iou_threshold, quorum
    )
    worker_ids = [s.worker_id for s in submissions]
    return _to_merged(result, xyxy_to_xywh(result.coords), worker, index, worker_ids)


def merge_points(
    submissions: Sequence[WorkerPoints],
    *,
    tolerance_px: float,
    quorum: float = DEFAULT_QUORUM,
) -> Merged:
    """Merge points by distance: a point joins a cluster within ``tolerance_px`` of its mean.

    The fit term of the confidence is the mean of ``1 - distance / tolerance_px`` over the members.
    A sensible tolerance is the scoring one, e.g. ``0.02 * image diagonal``
    (:func:`marketplace.quality.scoring.point_tolerances`).
    """
    if not submissions:
        return Merged(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.intp))

    def similarity(a: np.ndarray, b: np.ndarray, image: np.ndarray) -> np.ndarray:
        return 1.0 - np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]) / tolerance_px

    xy = [np.asarray(s.xy, dtype=np.float64).reshape(-1, 2) for s in submissions]
    labels = [np.asarray(s.labels) for s in submissions]
    result, worker, index = _single_image(submissions, xy, labels, similarity, 0.0, quorum)
    return _to_merged(result, result.coords, worker, index, [s.worker_id for s in submissions])


def flag_low_confidence(confidence: np.ndarray | Sequence[float], threshold: float) -> np.ndarray:
    """Indices whose confidence is below ``threshold``: they need one more worker or a review."""
    return np.flatnonzero(np.asarray(confidence, dtype=np.float64) < threshold)
