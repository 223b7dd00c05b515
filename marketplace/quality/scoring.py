"""Scoring one submitted assignment against the hidden ground truth (GT) it contained.

Everything here is a pure function over numpy arrays: no database, no I/O.

Boxes are ``[x, y, w, h]`` (top-left corner, width, height, pixels). Points are ``[x, y]``.
Labels are any hashable values compared with ``==`` (category ids are cheapest).

Matching follows CVAT's quality control: per image, objects are first paired with the Hungarian
algorithm among *same-label* pairs whose similarity reaches the threshold; the objects left over are
then paired again ignoring the label, and such a pair is a ``wrong_label`` conflict (it is *not* a
match). Whatever is still unpaired is ``missing`` (GT side) or ``extra`` (submitted side). A match
whose similarity is below the warning level is reported as ``low_overlap`` but still counts.

Assignment accuracy is the CVAT/HUMAN formula ``matched / (gt + submitted - matched)`` with the
counts summed over the assignment's GT images; an assignment whose GT images are empty and which
submitted nothing on them scores 1.0.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

ItemId = Hashable

DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_LOW_OVERLAP_IOU = 0.8
DEFAULT_POINT_TOLERANCE_BOX = 0.1
DEFAULT_POINT_TOLERANCE_IMAGE = 0.02
DEFAULT_POINT_WARNING = 0.5


class ConflictKind(StrEnum):
    MISSING = "missing"
    EXTRA = "extra"
    WRONG_LABEL = "wrong_label"
    LOW_OVERLAP = "low_overlap"


@dataclass(frozen=True)
class Conflict:
    """One disagreement between GT and a submission on one item.

    ``similarity`` is the IoU for boxes and ``1 - distance / tolerance`` for points.
    """

    kind: ConflictKind
    gt_index: int | None = None
    submitted_index: int | None = None
    similarity: float | None = None
    gt_label: Any = None
    submitted_label: Any = None


@dataclass(frozen=True)
class ItemScore:
    item_id: ItemId
    gt_count: int
    submitted_count: int
    matched: int
    conflicts: tuple[Conflict, ...] = ()
    boundary_iou: float | None = None  # polygons: mean boundary IoU of the matched pairs (reported only)

    @property
    def accuracy(self) -> float:
        return accuracy_formula(self.matched, self.gt_count, self.submitted_count)


@dataclass(frozen=True)
class AssignmentScore:
    accuracy: float
    matched: int
    gt_count: int
    submitted_count: int
    accepted: bool
    target: float
    items: tuple[ItemScore, ...] = field(default_factory=tuple)

    @property
    def conflicts(self) -> list[tuple[ItemId, Conflict]]:
        return [(item.item_id, c) for item in self.items for c in item.conflicts]


# --------------------------------------------------------------------------- containers


def _as_labels(labels: Any, n: int) -> np.ndarray:
    arr = np.asarray(labels if labels is not None else np.zeros(n, dtype=np.int64))
    if arr.ndim == 0:
        arr = np.full(n, arr.item())
    if arr.shape != (n,):
        raise ValueError(f"expected {n} labels, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class BoxSet:
    """Boxes of one image: ``xywh`` is ``(n, 4)`` float, ``labels`` is ``(n,)``."""

    xywh: np.ndarray
    labels: np.ndarray

    @classmethod
    def of(cls, boxes: Any = (), labels: Any = None) -> BoxSet:
        xywh = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return cls(xywh, _as_labels(labels, len(xywh)))

    def __len__(self) -> int:
        return len(self.xywh)


@dataclass(frozen=True)
class PointSet:
    """Points of one image.

    ``xy`` is ``(n, 2)``; ``labels`` ``(n,)``; ``boxes`` optionally ``(n, 4)`` xywh, the object each
    point belongs to (GT side: it sets the point's tolerance); ``image_size`` is ``(width, height)``.
    """

    xy: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray | None = None
    image_size: tuple[float, float] | None = None

    @classmethod
    def of(
        cls,
        points: Any = (),
        labels: Any = None,
        boxes: Any = None,
        image_size: tuple[float, float] | None = None,
    ) -> PointSet:
        xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        box_arr = None if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if box_arr is not None and len(box_arr) != len(xy):
            raise ValueError("one box per point is required when boxes are given")
        return cls(xy, _as_labels(labels, len(xy)), box_arr, image_size)

    def __len__(self) -> int:
        return len(self.xy)


# --------------------------------------------------------------------------- geometry


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    """Corners of ``[x, y, w, h]`` boxes; a negative width or height is treated as zero."""
    b = np.asarray(xywh, dtype=np.float64).reshape(-1, 4)
    x1, y1 = b[:, 0], b[:, 1]
    return np.stack([x1, y1, x1 + np.maximum(b[:, 2], 0.0), y1 + np.maximum(b[:, 3], 0.0)], axis=1)


def iou_matrix(a: Any, b: Any) -> np.ndarray:
    """IoU of every box of ``a`` (n, 4) with every box of ``b`` (m, 4), both ``[x, y, w, h]``.

    Zero-area boxes have IoU 0 with everything (including an identical zero-area box): a box of no
    area cannot be said to cover an object.
    """
    a = xywh_to_xyxy(a)
    b = xywh_to_xyxy(b)
    return iou_xyxy(a, b)


def iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between points ``a`` (n, 2) and ``b`` (m, 2)."""
    d = np.asarray(a, dtype=np.float64)[:, None, :] - np.asarray(b, dtype=np.float64)[None, :, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", d, d))


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Matching:
    """Result of matching GT objects (rows) with submitted objects (columns) on one item."""

    pairs: np.ndarray  # (k, 2) int: same-label matches (gt index, submitted index)
    pair_similarity: np.ndarray  # (k,)
    wrong_label: np.ndarray  # (j, 2) int: overlapping pairs whose labels differ
    wrong_label_similarity: np.ndarray  # (j,)
    missing: np.ndarray  # GT indices left unpaired
    extra: np.ndarray  # submitted indices left unpaired


_NO_PAIRS = np.zeros((0, 2), dtype=np.intp)


def max_matching(similarity: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A maximum-cardinality assignment among ``valid`` pairs, the largest total similarity among those.

    Returns ``(k, 2)`` (row, column) pairs. When no row and no column has more than one valid
    candidate (the common case at IoU >= 0.5) the answer is read off directly without the Hungarian
    algorithm.
    """
    if not valid.any():
        return _NO_PAIRS
    if (valid.sum(axis=1) <= 1).all() and (valid.sum(axis=0) <= 1).all():
        return np.argwhere(valid)
    rows = np.flatnonzero(valid.any(axis=1))
    cols = np.flatnonzero(valid.any(axis=0))
    sub_valid = valid[np.ix_(rows, cols)]
    # Each valid pair is worth more than any total of similarities, so cardinality comes first.
    bonus = float(min(len(rows), len(cols)) + 1)
    weights = np.where(sub_valid, bonus + similarity[np.ix_(rows, cols)], 0.0)
    r, c = linear_sum_assignment(weights, maximize=True)
    keep = sub_valid[r, c]
    return np.stack([rows[r[keep]], cols[c[keep]]], axis=1)


def match_objects(
    similarity: np.ndarray, valid: np.ndarray, gt_labels: np.ndarray, submitted_labels: np.ndarray
) -> Matching:
    """CVAT-style matching: same label first, then any label (those pairs are label conflicts)."""
    n, m = similarity.shape
    same = gt_labels[:, None] == submitted_labels[None, :] if n and m else np.zeros((n, m), dtype=bool)
    pairs = max_matching(similarity, valid & same)
    free_gt = np.ones(n, dtype=bool)
    free_sub = np.ones(m, dtype=bool)
    free_gt[pairs[:, 0]] = False
    free_sub[pairs[:, 1]] = False
    leftover = valid & free_gt[:, None] & free_sub[None, :]
    wrong = max_matching(similarity, leftover)
    free_gt[wrong[:, 0]] = False
    free_sub[wrong[:, 1]] = False
    return Matching(
        pairs=pairs,
        pair_similarity=similarity[pairs[:, 0], pairs[:, 1]],
        wrong_label=wrong,
        wrong_label_similarity=similarity[wrong[:, 0], wrong[:, 1]],
        missing=np.flatnonzero(free_gt),
        extra=np.flatnonzero(free_sub),
    )


def _plain(value: Any) -> Any:
    """numpy scalar -> Python value, so conflicts serialise as they are."""
    return value.item() if isinstance(value, np.generic) else value


def _item_score(
    item_id: ItemId,
    matching: Matching,
    gt_labels: np.ndarray,
    submitted_labels: np.ndarray,
    warn_below: float,
) -> ItemScore:
    conflicts: list[Conflict] = []
    for (g, s), sim in zip(matching.wrong_label, matching.wrong_label_similarity, strict=True):
        conflicts.append(
            Conflict(
                ConflictKind.WRONG_LABEL,
                int(g),
                int(s),
                float(sim),
                _plain(gt_labels[g]),
                _plain(submitted_labels[s]),
            )
        )
    for g in matching.missing:
        conflicts.append(Conflict(ConflictKind.MISSING, gt_index=int(g), gt_label=_plain(gt_labels[g])))
    for s in matching.extra:
        conflicts.append(
            Conflict(ConflictKind.EXTRA, submitted_index=int(s), submitted_label=_plain(submitted_labels[s]))
        )
    low = matching.pair_similarity < warn_below
    for (g, s), sim in zip(matching.pairs[low], matching.pair_similarity[low], strict=True):
        conflicts.append(
            Conflict(
                ConflictKind.LOW_OVERLAP,
                int(g),
                int(s),
                float(sim),
                _plain(gt_labels[g]),
                _plain(submitted_labels[s]),
            )
        )
    return ItemScore(
        item_id=item_id,
        gt_count=len(gt_labels),
        submitted_count=len(submitted_labels),
        matched=len(matching.pairs),
        conflicts=tuple(conflicts),
    )


# --------------------------------------------------------------------------- accuracy


def accuracy_formula(matched: int, gt: int, submitted: int) -> float:
    """``matched / (gt + submitted - matched)``; 1.0 when both sides are empty."""
    denominator = gt + submitted - matched
    return 1.0 if denominator == 0 else matched / denominator


def summarise(items: Sequence[ItemScore], target: float) -> AssignmentScore:
    """Sum the per-item counts and apply the accuracy formula and the acceptance target."""
    matched = sum(i.matched for i in items)
    gt = sum(i.gt_count for i in items)
    submitted = sum(i.submitted_count for i in items)
    accuracy = accuracy_formula(matched, gt, submitted)
    return AssignmentScore(
        accuracy=accuracy,
        matched=matched,
        gt_count=gt,
        submitted_count=submitted,
        accepted=accuracy >= target,
        target=target,
        items=tuple(items),
    )


# --------------------------------------------------------------------------- boxes


def match_boxes(gt: BoxSet, submitted: BoxSet, iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> Matching:
    iou = iou_xyxy(xywh_to_xyxy(gt.xywh), xywh_to_xyxy(submitted.xywh))
    return match_objects(iou, iou >= iou_threshold, gt.labels, submitted.labels)


def score_box_item(
    item_id: ItemId,
    gt: BoxSet,
    submitted: BoxSet,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    low_overlap_iou: float = DEFAULT_LOW_OVERLAP_IOU,
) -> ItemScore:
    matching = match_boxes(gt, submitted, iou_threshold)
    return _item_score(item_id, matching, gt.labels, submitted.labels, low_overlap_iou)


def score_boxes(
    gt: Mapping[ItemId, BoxSet],
    submitted: Mapping[ItemId, BoxSet],
    *,
    target: float,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    low_overlap_iou: float = DEFAULT_LOW_OVERLAP_IOU,
) -> AssignmentScore:
    """Score a box assignment on its GT images.

    ``gt`` maps each GT image in the assignment to its boxes; ``submitted`` holds the worker's boxes
    (an image absent from it counts as submitted empty; non-GT images in it are ignored). A pair
    matches at ``IoU >= iou_threshold``; matches below ``low_overlap_iou`` are reported as
    ``low_overlap`` warnings (never when the threshold is already at or above that level).
    """
    empty = BoxSet.of()
    items = [
        score_box_item(item_id, gt_boxes, submitted.get(item_id, empty), iou_threshold, low_overlap_iou)
        for item_id, gt_boxes in gt.items()
    ]
    return summarise(items, target)


# --------------------------------------------------------------------------- points


def point_tolerances(
    gt: PointSet,
    relative_to_box: float = DEFAULT_POINT_TOLERANCE_BOX,
    relative_to_image: float = DEFAULT_POINT_TOLERANCE_IMAGE,
) -> np.ndarray:
    """Pixel tolerance of each GT point.

    * The point belongs to an object with a box: ``relative_to_box * sqrt(box area)``. With the
      default 0.1 a point on a 100 x 100 px object must land within 10 px.
    * Otherwise: ``relative_to_image * image diagonal``. With the default 0.02 that is 28 px on a
      1000 x 1000 image.

    This is deliberately stricter than CVAT's default point comparison (an OKS-style score with a
    large default sigma scaled by the image size), which accepts a point about 244 px away on a
    1000 x 1000 image - a quarter of the image - so a point put anywhere near the right region
    passes. Keypoint tasks need the object-relative scale.
    """
    n = len(gt)
    tol = np.full(n, np.nan)
    if gt.boxes is not None:
        area = np.maximum(gt.boxes[:, 2], 0.0) * np.maximum(gt.boxes[:, 3], 0.0)
        has_box = area > 0
        tol[has_box] = relative_to_box * np.sqrt(area[has_box])
    no_box = np.isnan(tol)
    if no_box.any():
        if gt.image_size is None:
            raise ValueError("points without an object box need the image size to set their tolerance")
        width, height = gt.image_size
        tol[no_box] = relative_to_image * float(np.hypot(width, height))
    return tol


def match_points(
    gt: PointSet,
    submitted: PointSet,
    relative_to_box: float = DEFAULT_POINT_TOLERANCE_BOX,
    relative_to_image: float = DEFAULT_POINT_TOLERANCE_IMAGE,
) -> Matching:
    tol = point_tolerances(gt, relative_to_box, relative_to_image)
    dist = distance_matrix(gt.xy, submitted.xy)
    with np.errstate(divide="ignore", invalid="ignore"):
        similarity = 1.0 - dist / tol[:, None]
    valid = dist <= tol[:, None]
    return match_objects(similarity, valid, gt.labels, submitted.labels)


def score_points(
    gt: Mapping[ItemId, PointSet],
    submitted: Mapping[ItemId, PointSet],
    *,
    target: float,
    relative_to_box: float = DEFAULT_POINT_TOLERANCE_BOX,
    relative_to_image: float = DEFAULT_POINT_TOLERANCE_IMAGE,
    warning_similarity: float = DEFAULT_POINT_WARNING,
) -> AssignmentScore:
    """Score a point assignment on its GT images (tolerances: see :func:`point_tolerances`).

    A matched point farther than ``(1 - warning_similarity)`` of its tolerance gets a
    ``low_overlap`` warning (by default: more than half the tolerance away).
    """
    empty = PointSet.of()
    items = []
    for item_id, gt_points in gt.items():
        sub = submitted.get(item_id, empty)
        matching = match_points(gt_points, sub, relative_to_box, relative_to_image)
        items.append(_item_score(item_id, matching, gt_points.labels, sub.labels, warning_similarity))
    return summarise(items, target)


# --------------------------------------------------------------------------- classification


def score_classification(
    gt: Mapping[ItemId, Any], submitted: Mapping[ItemId, Any], *, target: float
) -> AssignmentScore:
    """Score single-label classification (a tiled yes/no task is the two-label case) by equality.

    An unanswered GT item (absent or ``None``) is ``missing``; a different answer is ``wrong_label``.
    The accuracy is the share of GT items answered correctly. (Applying the box formula literally
    would count one wrong answer twice - a missed GT label plus an extra submitted one - so 9 of 10
    right would score 0.82 instead of 0.9.)
    """
    items = []
    for item_id, truth in gt.items():
        answer = submitted.get(item_id)
        if answer is None:
            items.append(ItemScore(item_id, 1, 0, 0, (Conflict(ConflictKind.MISSING, 0, gt_label=truth),)))
        elif answer == truth:
            items.append(ItemScore(item_id, 1, 1, 1))
        else:
            conflict = Conflict(ConflictKind.WRONG_LABEL, 0, 0, gt_label=truth, submitted_label=answer)
            items.append(ItemScore(item_id, 1, 1, 0, (conflict,)))
    correct = sum(i.matched for i in items)
    accuracy = 1.0 if not items else correct / len(items)
    return AssignmentScore(
        accuracy=accuracy,
        matched=correct,
        gt_count=len(items),
        submitted_count=sum(i.submitted_count for i in items),
        accepted=accuracy >= target,
        target=target,
        items=tuple(items),
    )
