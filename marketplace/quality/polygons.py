"""Scoring and merging polygon objects by their masks. Pure functions: no database, no I/O.

Scoring is the boxes' scoring with mask IoU in place of box IoU: per item, GT and submitted objects
are paired by the Hungarian algorithm among same-label pairs whose mask IoU reaches the job's
threshold, then across labels (``wrong_label``); accuracy is ``matched / (gt + submitted - matched)``
(:mod:`marketplace.quality.scoring`). Each item also reports the mean *boundary IoU* of its matched
pairs (Cheng et al., 2021: the IoU of the bands within ``d`` pixels inside each outline, ``d`` = 2%
of the image diagonal): two masks can share 90% of their pixels and still have sloppy edges, which
reviewers want to see, but it does not change acceptance.

Merging several workers' objects of one image:

1. Cluster per label as boxes are clustered: workers from the most to the least reliable, each
   worker's objects matched (Hungarian, at mask IoU >= threshold) against the clusters, where an
   object's similarity to a cluster is its weight-averaged mask IoU with the cluster's members. A
   cluster never holds two objects of one worker.
2. Drop clusters drawn by fewer than ``quorum`` of the image's workers.
3. Weighted pixel majority: a pixel belongs to the merged object when the workers who put it inside
   hold at least half the cluster's weight (weights: each worker's reliability on GT).
4. Trace the merged mask back into rings with at most ``vertex_budget`` vertices.

Confidence = (weight share of the workers who drew it) x (mean mask IoU of the members with the
merged object), as for boxes.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from marketplace.geometry import polygons as geo
from marketplace.quality.scoring import (
    DEFAULT_IOU_THRESHOLD,
    DEFAULT_LOW_OVERLAP_IOU,
    AssignmentScore,
    ItemId,
    ItemScore,
    _as_labels,
    _item_score,
    match_objects,
    max_matching,
    summarise,
)

DEFAULT_MERGE_IOU = 0.5
DEFAULT_QUORUM = 0.5
DEFAULT_VERTEX_BUDGET = 200
BOUNDARY_DILATION = 0.02  # of the image diagonal (the boundary IoU paper's default)
_MIN_WEIGHT = 1e-6


@dataclass(frozen=True)
class PolygonSet:
    """Objects of one image as masks: ``masks`` are pycocotools RLEs, ``labels`` is ``(n,)``, and
    ``geometries`` what they were made from (rings, or a stored RLE)."""

    masks: list[dict[str, Any]]
    labels: np.ndarray
    height: int
    width: int
    geometries: tuple[Any, ...] = ()

    @classmethod
    def of(cls, geometries: Sequence[Any], labels: Any, height: int, width: int) -> PolygonSet:
        """From stored geometries: lists of rings, or RLEs (GT)."""
        masks = [geo.to_rle(g, height, width) for g in geometries]
        return cls(masks, _as_labels(labels, len(masks)), height, width, tuple(geometries))

    def window(self, k: int, window: tuple[int, int, int, int]) -> np.ndarray:
        geometry = self.geometries[k] if self.geometries else geo.as_json_rle(self.masks[k])
        return geo.window_mask(geometry, window, self.height, self.width)

    def __len__(self) -> int:
        return len(self.masks)


# --------------------------------------------------------------------------- scoring


def boundary_iou(a: PolygonSet, i: int, b: PolygonSet, j: int, dilation: float = BOUNDARY_DILATION) -> float:
    """Boundary IoU of object ``i`` of ``a`` and ``j`` of ``b``: the IoU of the pixels of each mask
    within ``d`` px of its outline (``d`` = ``dilation`` x the image diagonal)."""
    h, w = a.height, a.width
    d = max(1, round(dilation * float(np.hypot(h, w))))
    boxes = geo.bboxes([a.masks[i], b.masks[j]])
    x0 = max(int(np.floor(boxes[:, 0].min())) - 1, 0)
    y0 = max(int(np.floor(boxes[:, 1].min())) - 1, 0)
    x1 = min(int(np.ceil((boxes[:, 0] + boxes[:, 2]).max())) + 1, w)
    y1 = min(int(np.ceil((boxes[:, 1] + boxes[:, 3]).max())) + 1, h)
    # d erosions by a 3x3 square (the paper's definition) are one erosion by a (2d+1) square
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * d + 1, 2 * d + 1))
    bands = []
    for objects, k in ((a, i), (b, j)):
        mask = np.ascontiguousarray(objects.window(k, (x0, y0, x1, y1)))
        padded = cv2.copyMakeBorder(mask, d, d, d, d, cv2.BORDER_CONSTANT, value=0)
        eroded = cv2.erode(padded, kernel)[d:-d, d:-d]
        bands.append((mask > 0) & (eroded == 0))
    union = np.count_nonzero(bands[0] | bands[1])
    return float(np.count_nonzero(bands[0] & bands[1]) / union) if union else 0.0


def score_polygon_item(
    item_id: ItemId,
    gt: PolygonSet,
    submitted: PolygonSet,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    low_overlap_iou: float = DEFAULT_LOW_OVERLAP_IOU,
    *,
    boundary: bool = True,
) -> ItemScore:
    iou = geo.mask_iou(gt.masks, submitted.masks)
    matching = match_objects(iou, iou >= iou_threshold, gt.labels, submitted.labels)
    item = _item_score(item_id, matching, gt.labels, submitted.labels, low_overlap_iou)
    if not boundary or not len(matching.pairs):
        return item
    values = [boundary_iou(gt, int(g), submitted, int(s)) for g, s in matching.pairs]
    return ItemScore(
        item.item_id,
        item.gt_count,
        item.submitted_count,
        item.matched,
        item.conflicts,
        float(np.mean(values)),
    )


def score_polygons(
    gt: Mapping[ItemId, PolygonSet],
    submitted: Mapping[ItemId, PolygonSet],
    *,
    target: float,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    low_overlap_iou: float = DEFAULT_LOW_OVERLAP_IOU,
    boundary: bool = True,
) -> AssignmentScore:
    """Score a polygon assignment on its GT images (an image absent from ``submitted`` counts as
    submitted empty), exactly like :func:`marketplace.quality.scoring.score_boxes` with mask IoU."""
    items = []
    for item_id, truth in gt.items():
        empty = PolygonSet([], _as_labels(None, 0), truth.height, truth.width)
        sub = submitted.get(item_id, empty)
        items.append(
            score_polygon_item(item_id, truth, sub, iou_threshold, low_overlap_iou, boundary=boundary)
        )
    return summarise(items, target)


# --------------------------------------------------------------------------- merging


@dataclass(frozen=True)
class WorkerPolygons:
    worker_id: Hashable
    objects: PolygonSet
    weight: float = 1.0  # e.g. the worker's accuracy on GT


@dataclass(frozen=True)
class MergedPolygon:
    rings: list[geo.Ring]
    label: Any
    confidence: float
    support: int
    mask: dict[str, Any]  # the RLE of ``rings`` (what the merged object covers)
    members: tuple[tuple[Hashable, int], ...] = field(default=())


@dataclass
class _Cluster:
    label: Any
    members: list[tuple[int, int]]  # (submission index, object index)
    weights: list[float]


def _cluster(submissions: Sequence[WorkerPolygons], threshold: float) -> list[_Cluster]:
    order = sorted(range(len(submissions)), key=lambda k: (-submissions[k].weight, k))
    clusters: list[_Cluster] = []
    for k in order:
        sub = submissions[k]
        weight = max(sub.weight, _MIN_WEIGHT)
        n = len(sub.objects)
        joined = np.zeros(n, dtype=bool)
        if clusters and n:
            member_masks = [submissions[s].objects.masks[o] for c in clusters for s, o in c.members]
            owner = np.repeat(np.arange(len(clusters)), [len(c.members) for c in clusters])
            member_w = np.concatenate([c.weights for c in clusters])
            to_cluster = np.zeros((len(member_masks), len(clusters)))
            to_cluster[np.arange(len(member_masks)), owner] = member_w
            to_cluster /= to_cluster.sum(axis=0, keepdims=True)
            similarity = geo.mask_iou(sub.objects.masks, member_masks) @ to_cluster
            same = (
                sub.objects.labels[:, None] == np.asarray([c.label for c in clusters], dtype=object)[None, :]
            )
            pairs = max_matching(similarity, (similarity >= threshold) & same)
            for o, c in pairs:
                clusters[c].members.append((k, int(o)))
                clusters[c].weights.append(weight)
                joined[o] = True
        for o in np.flatnonzero(~joined):
            clusters.append(_Cluster(sub.objects.labels[o], [(k, int(o))], [weight]))
    return clusters


def pixel_vote(
    masks: Sequence[dict[str, Any]], weights: Sequence[float]
) -> tuple[np.ndarray, tuple[int, int]]:
    """Weighted pixel majority of masks, cropped to their joint box; returns the mask and its corner."""
    h, w = (int(v) for v in masks[0]["size"])
    boxes = geo.bboxes(masks)
    x0, y0 = int(np.floor(boxes[:, 0].min())), int(np.floor(boxes[:, 1].min()))
    x1 = min(int(np.ceil((boxes[:, 0] + boxes[:, 2]).max())), w)
    y1 = min(int(np.ceil((boxes[:, 1] + boxes[:, 3]).max())), h)
    votes = np.zeros((y1 - y0, x1 - x0))
    for rle, weight in zip(masks, weights, strict=True):
        votes += weight * geo.decode(rle)[y0:y1, x0:x1]
    return (2 * votes >= sum(weights) - 1e-12).astype(np.uint8), (x0, y0)


def merge_polygons(
    submissions: Sequence[WorkerPolygons],
    *,
    iou_threshold: float = DEFAULT_MERGE_IOU,
    quorum: float = DEFAULT_QUORUM,
    vertex_budget: int = DEFAULT_VERTEX_BUDGET,
) -> list[MergedPolygon]:
    """Merge the polygons several workers drew on one image (see the module docstring)."""
    if not submissions:
        return []
    height, width = submissions[0].objects.height, submissions[0].objects.width
    total_weight = sum(max(s.weight, _MIN_WEIGHT) for s in submissions)
    merged = []
    for cluster in _cluster(submissions, iou_threshold):
        if len(cluster.members) < quorum * len(submissions) - 1e-9:
            continue
        masks = [submissions[s].objects.masks[o] for s, o in cluster.members]
        vote, corner = pixel_vote(masks, cluster.weights)
        rings = geo.mask_to_rings(vote, vertex_budget, offset=corner)
        if not rings:
            continue
        rle = geo.to_rle(rings, height, width)
        fit = float(np.mean(geo.mask_iou(masks, [rle])))
        share = sum(cluster.weights) / total_weight
        members = tuple((submissions[s].worker_id, o) for s, o in cluster.members)
        merged.append(
            MergedPolygon(rings, cluster.label, min(share * fit, 1.0), len(cluster.members), rle, members)
        )
    return merged
