"""Batched matching: the same matching over many images at once, on flat arrays (one row per object,
with the index of its image). All candidate pairs inside each image are generated and scored in one
vectorised pass; pairs whose two objects have no other candidate are matched directly, and only the
images with competing candidates go through the Hungarian algorithm. This is what bulk scoring and
the merge of a whole job use; the per-image functions of :mod:`marketplace.quality.scoring` are the
readable reference it is tested against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from marketplace.quality.scoring import DEFAULT_IOU_THRESHOLD, DEFAULT_LOW_OVERLAP_IOU, xywh_to_xyxy


def pair_up(keys_a: np.ndarray, keys_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs ``(i, j)`` with ``keys_a[i] == keys_b[j]`` (integer keys), grouped by key."""
    order_a = np.argsort(keys_a, kind="stable")
    order_b = np.argsort(keys_b, kind="stable")
    sorted_a, sorted_b = keys_a[order_a], keys_b[order_b]
    common = _sorted_common(sorted_a, sorted_b)
    start_a = np.searchsorted(sorted_a, common, "left")
    count_a = np.searchsorted(sorted_a, common, "right") - start_a
    start_b = np.searchsorted(sorted_b, common, "left")
    count_b = np.searchsorted(sorted_b, common, "right") - start_b
    per_key = count_a * count_b
    group = np.repeat(np.arange(len(common)), per_key)
    offset = np.arange(int(per_key.sum())) - np.repeat(np.cumsum(per_key) - per_key, per_key)
    ia = order_a[start_a[group] + offset // count_b[group]]
    ib = order_b[start_b[group] + offset % count_b[group]]
    return ia, ib


def _sorted_unique(sorted_keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return sorted_keys
    return sorted_keys[np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]]


def _sorted_common(sorted_a: np.ndarray, sorted_b: np.ndarray) -> np.ndarray:
    """Distinct values present in both sorted arrays (``np.intersect1d`` without re-sorting)."""
    unique_a, unique_b = _sorted_unique(sorted_a), _sorted_unique(sorted_b)
    if not len(unique_a) or not len(unique_b):
        return unique_a[:0]
    pos = np.minimum(np.searchsorted(unique_b, unique_a), len(unique_b) - 1)
    return unique_a[unique_b[pos] == unique_a]


def _best_edge_per(center: np.ndarray, edges: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """For each distinct ``center[edges]``, the edge of largest weight."""
    order = edges[np.lexsort((-weight[edges], center[edges]))]
    ends = center[order]
    return order[np.r_[True, ends[1:] != ends[:-1]]] if len(order) else order


def iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of corner boxes ``a[k]`` and ``b[k]`` (both ``(n, 4)`` xyxy)."""
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def max_matching_edges(
    rows: np.ndarray, cols: np.ndarray, weight: np.ndarray, group: np.ndarray, n_rows: int, n_cols: int
) -> np.ndarray:
    """Boolean mask of the chosen edges of a bipartite graph given as edge lists.

    Maximum cardinality first, then the largest total ``weight`` (same rule as :func:`max_matching`).
    ``group`` (one per edge) says which independent sub-problem (image) an edge belongs to.
    """
    chosen = np.zeros(len(rows), dtype=bool)
    if not len(rows):
        return chosen
    deg_r = np.bincount(rows, minlength=n_rows)
    deg_c = np.bincount(cols, minlength=n_cols)
    lone = (deg_r[rows] == 1) & (deg_c[cols] == 1)
    chosen[lone] = True
    contested = np.flatnonzero(~lone)
    # Stars: a row whose candidate columns have no other candidate (or the converse) is a component
    # of its own whose best matching is its heaviest edge; only the rest needs the Hungarian algorithm.
    for center, leaf, leaf_degree, n_center in ((rows, cols, deg_c, n_rows), (cols, rows, deg_r, n_cols)):
        if not len(contested):
            break
        leaf_free = leaf_degree[leaf[contested]] == 1
        shared = np.bincount(center[contested], weights=~leaf_free, minlength=n_center)
        star = shared[center[contested]] == 0
        chosen[_best_edge_per(center, contested[star], weight)] = True
        contested = contested[~star]
    if not len(contested):
        return chosen
    contested = contested[np.argsort(group[contested], kind="stable")]
    bounds = np.flatnonzero(np.diff(group[contested])) + 1
    for edges in np.split(contested, bounds):
        r_ids, r = np.unique(rows[edges], return_inverse=True)
        c_ids, c = np.unique(cols[edges], return_inverse=True)
        bonus = float(min(len(r_ids), len(c_ids)) + 1)
        weights = np.zeros((len(r_ids), len(c_ids)))
        weights[r, c] = bonus + weight[edges]
        edge_at = np.full((len(r_ids), len(c_ids)), -1)
        edge_at[r, c] = edges
        rr, cc = linear_sum_assignment(weights, maximize=True)
        picked = edge_at[rr, cc]
        chosen[picked[picked >= 0]] = True
    return chosen


def label_codes(*label_arrays: np.ndarray) -> list[np.ndarray]:
    """Integer codes for labels of any hashable type, consistent across the given arrays."""
    joined = np.concatenate([np.asarray(a) for a in label_arrays]) if label_arrays else np.zeros(0)
    if joined.dtype.kind in "iub":
        codes = joined.astype(np.int64) - (int(joined.min()) if len(joined) else 0)
    else:
        index: dict[Any, int] = {}
        codes = np.fromiter((index.setdefault(v, len(index)) for v in joined.tolist()), np.int64, len(joined))
    return np.split(codes, np.cumsum([len(a) for a in label_arrays])[:-1])


@dataclass(frozen=True)
class BatchMatching:
    """Matching of many images at once. Edge arrays index the flat GT / submitted object arrays."""

    matched_gt: np.ndarray
    matched_submitted: np.ndarray
    matched_similarity: np.ndarray
    wrong_gt: np.ndarray
    wrong_submitted: np.ndarray
    wrong_similarity: np.ndarray
    missing: np.ndarray  # GT object indices
    extra: np.ndarray  # submitted object indices


PairSimilarity = Callable[[np.ndarray, np.ndarray], np.ndarray]


def match_batch(
    gt_image: np.ndarray,
    submitted_image: np.ndarray,
    gt_labels: np.ndarray,
    submitted_labels: np.ndarray,
    similarity: PairSimilarity,
    threshold: float,
) -> BatchMatching:
    """CVAT-style matching of every image at once; ``similarity(gt_idx, sub_idx)`` scores pairs."""
    n_gt, n_sub = len(gt_image), len(submitted_image)
    gi, si = pair_up(np.asarray(gt_image, dtype=np.int64), np.asarray(submitted_image, dtype=np.int64))
    sim = similarity(gi, si)
    valid = sim >= threshold
    gi, si, sim = gi[valid], si[valid], sim[valid]
    group = np.asarray(gt_image)[gi]
    gt_code, sub_code = label_codes(gt_labels, submitted_labels)
    same = gt_code[gi] == sub_code[si]
    first = max_matching_edges(gi[same], si[same], sim[same], group[same], n_gt, n_sub)
    m_gt, m_sub, m_sim = gi[same][first], si[same][first], sim[same][first]
    free_gt = np.ones(n_gt, dtype=bool)
    free_sub = np.ones(n_sub, dtype=bool)
    free_gt[m_gt] = False
    free_sub[m_sub] = False
    rest = free_gt[gi] & free_sub[si]
    second = max_matching_edges(gi[rest], si[rest], sim[rest], group[rest], n_gt, n_sub)
    w_gt, w_sub, w_sim = gi[rest][second], si[rest][second], sim[rest][second]
    free_gt[w_gt] = False
    free_sub[w_sub] = False
    return BatchMatching(
        m_gt, m_sub, m_sim, w_gt, w_sub, w_sim, np.flatnonzero(free_gt), np.flatnonzero(free_sub)
    )


@dataclass(frozen=True)
class BatchCounts:
    """Per-image counts of a batch; ``accuracy`` applies the formula image by image."""

    gt: np.ndarray
    submitted: np.ndarray
    matched: np.ndarray
    wrong_label: np.ndarray
    low_overlap: np.ndarray

    @property
    def accuracy(self) -> np.ndarray:
        denominator = self.gt + self.submitted - self.matched
        out = np.ones(len(self.gt))
        np.divide(self.matched, denominator, out=out, where=denominator > 0)
        return out


def score_boxes_batch(
    gt_image: np.ndarray,
    gt_xywh: np.ndarray,
    gt_labels: np.ndarray,
    submitted_image: np.ndarray,
    submitted_xywh: np.ndarray,
    submitted_labels: np.ndarray,
    n_images: int,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    low_overlap_iou: float = DEFAULT_LOW_OVERLAP_IOU,
) -> tuple[BatchMatching, BatchCounts]:
    """Match and count boxes of ``n_images`` images given as flat arrays (image index per box)."""
    gt_xyxy = xywh_to_xyxy(gt_xywh)
    sub_xyxy = xywh_to_xyxy(submitted_xywh)

    def similarity(gi: np.ndarray, si: np.ndarray) -> np.ndarray:
        return iou_pairs(gt_xyxy[gi], sub_xyxy[si])

    matching = match_batch(gt_image, submitted_image, gt_labels, submitted_labels, similarity, iou_threshold)
    gt_image = np.asarray(gt_image)
    counts = BatchCounts(
        gt=np.bincount(gt_image, minlength=n_images),
        submitted=np.bincount(submitted_image, minlength=n_images),
        matched=np.bincount(gt_image[matching.matched_gt], minlength=n_images),
        wrong_label=np.bincount(gt_image[matching.wrong_gt], minlength=n_images),
        low_overlap=np.bincount(
            gt_image[matching.matched_gt[matching.matched_similarity < low_overlap_iou]], minlength=n_images
        ),
    )
    return matching, counts
