"""Box merging calibrated on the job's GT: worker localisation bias, reliability, lone boxes, shape.

What the workers drew on GT images, beside the GT boxes, teaches four things
(:func:`learn_box_calibration`):

1. **Localisation bias** per corner, in pixels: the population's affine offset ``a + b * size``
   (``size`` = the box's width for x corners, height for y corners; workers draw a few pixels
   outside the object whatever its size), plus each worker's own residual offset (the median,
   shrunk to 0 by ``shrink`` pseudo-boxes) and own scale (a ridge slope on size, shrunk by
   ``slope_shrink`` pseudo-boxes: a scale needs more evidence than an offset). A box
   is corrected by subtracting the predicted offset.
2. **Reliability**: the worker's residual variance after correction (shrunk to the population's);
   merge weights are its inverse, so a precise worker pulls the corners more.
3. **Lone boxes**: of the boxes a worker drew that most other workers on the image did not, the share
   the GT holds (a Beta posterior around the population's share). A box only one worker drew is kept
   when that share is at least ``lone_keep`` (default :data:`LONE_KEEP`), dropped otherwise.
4. **Shape**: the merged boxes' remaining error as a function of their size, learned by merging
   ``overlap`` random workers on each GT image like a real job does: a ridge regression of
   (centre shift / size, log width ratio, log height ratio) on (1, log width, log height). It fixes
   what averaging cannot, e.g. experts' boxes being narrower than the crowd's for tall objects.

:func:`merge_boxes_calibrated` applies them around :func:`marketplace.quality.merging.merge_boxes`
and gives each merged box an **uncertainty**: the predicted standard deviation of its corners
relative to its size, ``sqrt(1 / sum of the members' weights) / sqrt(w * h)`` (a lone box or a box of
imprecise workers scores high). :func:`needs_another_worker` turns it into dynamic-overlap requests.
With too little GT (fewer than ``min_pairs`` matched boxes) each part falls back to no correction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from marketplace.quality.merging import (
    DEFAULT_QUORUM,
    Merged,
    WorkerBoxes,
    merge_boxes,
    xyxy_to_xywh,
)
from marketplace.quality.scoring import BoxSet, iou_matrix, max_matching, xywh_to_xyxy

MATCH_IOU = 0.5
MIN_PAIRS = 20
#: Corrected boxes of one object agree more closely, so they are clustered a little more loosely than
#: raw ones (pedestrians, GT quarter: 0.4 -> 80.5% strict vs 0.5 -> 79.9%).
CALIBRATED_MERGE_IOU = 0.4
#: A lone box is kept only if the GT says that worker's lone boxes are usually real: a wrong extra box
#: spoils an image as surely as a missing one, and lone boxes are real ~1/3 of the time on pedestrians.
LONE_KEEP = 0.7
#: Above this uncertainty a merged box wants another worker (or a reviewer): on pedestrians the top
#: decile of uncertainty (>= 0.09) misses IoU 0.7 nearly half the time, the lower half 1.5%.
MAX_UNCERTAINTY = 0.1
#: Dynamic overlap asks for one more worker above this (stricter than the review flag): on the
#: pedestrian replay (benchmarks/cost.py) 0.06 matches the accuracy of three workers on every image
#: with 2.4 workers per image on average; 0.1 stops too early (2.1 workers, 2 points less accurate).
DYNAMIC_MAX_UNCERTAINTY = 0.06


@dataclass(frozen=True)
class WorkerBoxProfile:
    offset: np.ndarray  # (4,) the worker's own corner offset beyond the population's, pixels
    slope: np.ndarray  # (4,) ... and its growth per pixel of size beyond the population's mean size
    variance: float  # residual corner variance after correction, pixels^2 (shrunk)
    matched: int  # the worker's boxes matched to a GT box
    lone_reliability: float  # P(GT holds it | the worker drew a box most others did not)


@dataclass(frozen=True)
class BoxCalibration:
    population: np.ndarray = field(default_factory=lambda: np.zeros((4, 2)))  # corner offset a + b*size
    population_variance: float = 1.0
    population_lone: float = 0.5
    workers: Mapping[Hashable, WorkerBoxProfile] = field(default_factory=dict)
    shape: np.ndarray | None = None  # (3, 4) ridge coefficients of the merged-box shape correction
    matched_pairs: int = 0
    mean_size: np.ndarray = field(default_factory=lambda: np.zeros(4))  # drawn width/height per corner

    def profile(self, worker: Hashable) -> WorkerBoxProfile:
        known = self.workers.get(worker)
        if known is not None:
            return known
        return WorkerBoxProfile(np.zeros(4), np.zeros(4), self.population_variance, 0, self.population_lone)

    def offsets(self, worker: Hashable, xyxy: np.ndarray) -> np.ndarray:
        """Predicted ``(n, 4)`` corner offsets (drawn minus true) of a worker's boxes."""
        size = np.c_[xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]]
        size4 = np.c_[size, size]
        own = self.profile(worker)
        return (
            self.population[:, 0]
            + self.population[:, 1] * size4
            + own.offset
            + own.slope * (size4 - self.mean_size)
        )

    def correct(self, worker: Hashable, boxes: BoxSet) -> BoxSet:
        """The worker's boxes with their predicted localisation bias removed (xywh, labels kept)."""
        if not len(boxes):
            return boxes
        xyxy = xywh_to_xyxy(boxes.xywh)
        fixed = xyxy - self.offsets(worker, xyxy)
        fixed[:, 2:] = np.maximum(fixed[:, 2:], fixed[:, :2] + 1e-3)
        return BoxSet.of(xyxy_to_xywh(fixed), boxes.labels)

    @property
    def learned(self) -> bool:
        """Whether the GT held enough matched boxes to learn the localisation corrections."""
        return self.matched_pairs >= MIN_PAIRS and bool(self.population.any())

    def weight(self, worker: Hashable) -> float:
        return 1.0 / max(self.profile(worker).variance, 1e-6)

    def reshape(self, xywh: np.ndarray) -> np.ndarray:
        """The learned shape correction of merged boxes (identity without one)."""
        if self.shape is None or not len(xywh):
            return xywh
        return _apply_shape(xywh, self.shape)


# --------------------------------------------------------------------------- learning


def _shape_features(xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, h = np.maximum(xywh[:, 2], 1e-3), np.maximum(xywh[:, 3], 1e-3)
    return np.c_[np.ones(len(xywh)), np.log(w), np.log(h)], np.c_[w, h]


def _shape_targets(merged: np.ndarray, truth: np.ndarray) -> np.ndarray:
    _, size = _shape_features(merged)
    centre_m = merged[:, :2] + merged[:, 2:] / 2
    centre_t = truth[:, :2] + truth[:, 2:] / 2
    ratio = np.log(np.maximum(truth[:, 2:], 1e-3) / size)
    return np.c_[(centre_t - centre_m) / size, ratio]


def _apply_shape(xywh: np.ndarray, coef: np.ndarray) -> np.ndarray:
    features, size = _shape_features(xywh)
    t = features @ coef
    centre = xywh[:, :2] + xywh[:, 2:] / 2 + t[:, :2] * size
    new_size = size * np.exp(np.clip(t[:, 2:], -1.0, 1.0))
    return np.c_[centre - new_size / 2, new_size]


def ridge(features: np.ndarray, targets: np.ndarray, penalty: float = 1.0) -> np.ndarray:
    k = features.shape[1]
    return np.linalg.solve(features.T @ features + penalty * np.eye(k), features.T @ targets)


def match_pairs(truth: BoxSet, drawn: BoxSet, iou_threshold: float = MATCH_IOU) -> np.ndarray:
    """Hungarian pairs ``(truth index, drawn index)`` of the same label at IoU >= threshold."""
    if not len(truth) or not len(drawn):
        return np.zeros((0, 2), dtype=np.intp)
    iou = iou_matrix(truth.xywh, drawn.xywh)
    same = np.asarray(truth.labels)[:, None] == np.asarray(drawn.labels)[None, :]
    return max_matching(iou, (iou >= iou_threshold) & same)


def _minority_boxes(image_workers: Mapping[Hashable, BoxSet], worker: Hashable) -> np.ndarray:
    """Which of ``worker``'s boxes fewer than half of the image's other workers also drew."""
    boxes = image_workers[worker]
    others = [b for w, b in image_workers.items() if w != worker]
    if not len(boxes) or not others:
        return np.zeros(len(boxes), dtype=bool)
    seen = np.zeros(len(boxes))
    for other in others:
        pairs = match_pairs(boxes, other)
        seen[pairs[:, 0]] += 1
    return seen < len(others) / 2


def learn_box_calibration(
    gt_answers: Mapping[Hashable, Mapping[Hashable, BoxSet]],
    gt: Mapping[Hashable, BoxSet],
    *,
    overlap: int = 3,
    shrink: float = 3.0,
    slope_shrink: float = 30.0,
    variance_shrink: float = 10.0,
    lone_prior: float = 4.0,
    shape_draws: int = 5,
    min_pairs: int = MIN_PAIRS,
    seed: int = 0,
) -> BoxCalibration:
    """Learn a :class:`BoxCalibration` from ``gt_answers`` (GT image -> worker -> boxes) and ``gt``
    (GT image -> GT boxes). ``overlap`` is how many workers a job's image gets (the shape correction
    is learned on merges of that many)."""
    drawn: list[np.ndarray] = []
    truth: list[np.ndarray] = []
    owner: list[Hashable] = []
    minority_seen: dict[Hashable, list[int]] = defaultdict(lambda: [0, 0])  # [minority boxes, matched]
    for image, workers in gt_answers.items():
        if image not in gt:
            continue
        for worker, boxes in workers.items():
            pairs = match_pairs(gt[image], boxes)
            drawn.append(xywh_to_xyxy(boxes.xywh[pairs[:, 1]]))
            truth.append(xywh_to_xyxy(gt[image].xywh[pairs[:, 0]]))
            owner += [worker] * len(pairs)
            minority = _minority_boxes(workers, worker)
            matched = np.zeros(len(boxes), dtype=bool)
            matched[pairs[:, 1]] = True
            minority_seen[worker][0] += int(minority.sum())
            minority_seen[worker][1] += int((minority & matched).sum())
    lone_total = np.array(list(minority_seen.values()) or [[0, 0]], dtype=np.float64).sum(axis=0)
    population_lone = float((lone_total[1] + 1.0) / (lone_total[0] + 2.0))
    lone = {
        w: float((m + lone_prior * population_lone) / (n + lone_prior)) for w, (n, m) in minority_seen.items()
    }
    n_pairs = len(owner)
    if n_pairs < min_pairs:
        profiles = {w: WorkerBoxProfile(np.zeros(4), np.zeros(4), 1.0, 0, r) for w, r in lone.items()}
        return BoxCalibration(population_lone=population_lone, workers=profiles, matched_pairs=n_pairs)
    d, t = np.concatenate(drawn), np.concatenate(truth)
    offset = d - t
    size = np.c_[d[:, 2] - d[:, 0], d[:, 3] - d[:, 1]]
    size4 = np.c_[size, size]
    population = np.zeros((4, 2))
    for c in range(4):
        population[c] = np.linalg.lstsq(np.c_[np.ones(n_pairs), size4[:, c]], offset[:, c], rcond=None)[0]
    residual = offset - (population[:, 0] + population[:, 1] * size4)
    population_variance = float(np.mean(residual**2))
    owners = np.array(owner, dtype=object)
    mean_size = size4.mean(axis=0)
    size_variance = np.maximum(size4.var(axis=0), 1e-6)
    profiles = {}
    for worker in dict.fromkeys(owner):
        mask = owners == worker
        mine, centred = residual[mask], size4[mask] - mean_size
        own = len(mine) * np.median(mine, axis=0) / (len(mine) + shrink)
        # the worker's own scale: a ridge slope of what is left, shrunk like the offset
        slope = (centred * (mine - own)).sum(axis=0) / (
            (centred**2).sum(axis=0) + slope_shrink * size_variance
        )
        left = mine - own - slope * centred
        variance = (float((left**2).sum() / 4) + variance_shrink * population_variance) / (
            len(mine) + variance_shrink
        )
        profiles[worker] = WorkerBoxProfile(
            own, slope, variance, len(mine), lone.get(worker, population_lone)
        )
    for worker, reliability in lone.items():
        profiles.setdefault(
            worker, WorkerBoxProfile(np.zeros(4), np.zeros(4), population_variance, 0, reliability)
        )
    calibration = BoxCalibration(
        population, population_variance, population_lone, profiles, None, n_pairs, mean_size
    )
    shape = _learn_shape(gt_answers, gt, calibration, overlap, shape_draws, min_pairs, seed)
    return BoxCalibration(
        population, population_variance, population_lone, profiles, shape, n_pairs, mean_size
    )


def _learn_shape(
    gt_answers: Mapping[Hashable, Mapping[Hashable, BoxSet]],
    gt: Mapping[Hashable, BoxSet],
    calibration: BoxCalibration,
    overlap: int,
    draws: int,
    min_pairs: int,
    seed: int,
) -> np.ndarray | None:
    rng = np.random.default_rng(seed)
    merged_boxes: list[np.ndarray] = []
    truth_boxes: list[np.ndarray] = []
    for _ in range(draws):
        for image, workers in gt_answers.items():
            if image not in gt or len(workers) < 2:
                continue
            names = sorted(workers, key=str)
            chosen = rng.choice(len(names), size=min(overlap, len(names)), replace=False)
            subs = [WorkerBoxes(names[i], workers[names[i]]) for i in sorted(chosen)]
            merged = merge_boxes_calibrated(subs, calibration).merged
            pairs = match_pairs(gt[image], BoxSet.of(merged.coords, merged.labels))
            merged_boxes.append(merged.coords[pairs[:, 1]])
            truth_boxes.append(gt[image].xywh[pairs[:, 0]])
    if sum(len(m) for m in merged_boxes) < min_pairs:
        return None
    m, t = np.concatenate(merged_boxes), np.concatenate(truth_boxes)
    return ridge(_shape_features(m)[0], _shape_targets(m, t))


# --------------------------------------------------------------------------- merging


@dataclass(frozen=True)
class CalibratedMerge:
    merged: Merged
    uncertainty: np.ndarray  # (k,) predicted corner SD relative to the box's size


def merge_boxes_calibrated(
    submissions: Sequence[WorkerBoxes],
    calibration: BoxCalibration,
    *,
    iou_threshold: float = CALIBRATED_MERGE_IOU,
    quorum: float = DEFAULT_QUORUM,
    lone_keep: float = LONE_KEEP,
) -> CalibratedMerge:
    """Correct each worker's boxes, merge with reliability weights (times each submission's own
    weight), keep a box below the quorum only if one reliable worker drew it alone, reshape, and rate
    each box's uncertainty."""
    corrected = [
        WorkerBoxes(
            s.worker_id, calibration.correct(s.worker_id, s.boxes), s.weight * calibration.weight(s.worker_id)
        )
        for s in submissions
    ]
    everything = merge_boxes(corrected, iou_threshold=iou_threshold, quorum=0.0)
    needed = quorum * len(submissions) - 1e-9
    keep = np.array(
        [
            support >= needed
            or (support == 1 and calibration.profile(members[0][0]).lone_reliability >= lone_keep)
            for support, members in zip(everything.support, everything.members, strict=True)
        ],
        dtype=bool,
    )
    index = np.flatnonzero(keep)
    coords = calibration.reshape(everything.coords[index])
    members = tuple(everything.members[i] for i in index)
    precision = np.array([sum(calibration.weight(w) for w, _ in m) for m in members], dtype=np.float64)
    size = np.sqrt(np.maximum(coords[:, 2] * coords[:, 3], 1e-6)) if len(coords) else np.zeros(0)
    uncertainty = np.sqrt(1.0 / np.maximum(precision, 1e-12)) / size if len(coords) else np.zeros(0)
    merged = Merged(
        coords,
        everything.labels[index],
        everything.confidence[index],
        everything.support[index],
        members,
    )
    return CalibratedMerge(merged, uncertainty)


def needs_another_worker(
    result: CalibratedMerge, max_uncertainty: float = MAX_UNCERTAINTY, min_support: int = 2
) -> np.ndarray:
    """Merged boxes to send to one more worker (dynamic overlap): too uncertain or too little support."""
    support = np.asarray(result.merged.support)
    return np.flatnonzero((result.uncertainty > max_uncertainty) | (support < min_support))
