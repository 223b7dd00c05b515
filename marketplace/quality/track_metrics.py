"""Identity-aware tracking scores: CLEAR MOT (MOTA, MOTP, ID switches), the identity scores (IDF1, IDP,
IDR) and HOTA (with DetA, AssA, LocA), on boxes. Plain functions on numpy arrays.

Input: one row per box, ``frame, id, x, y, w, h`` (pixels; MOTChallenge's first six columns), for the
ground truth and for the hypothesis (a worker's tracks, or a tracker's). Similarity is box IoU;
*matched* means IoU >= ``threshold`` (0.5 by default).

Definitions (the published ones; py-motmetrics and TrackEval serve only as test oracles):

* **CLEAR MOT** (Bernardin & Stiefelhagen, 2008), frame by frame: a correspondence from the previous
  frame that is still matched is kept; the other objects and hypotheses are paired by a minimum-cost
  assignment on ``1 - IoU`` that first takes as many matched pairs as possible; a ground-truth object
  paired with another hypothesis than the last one it had is an *ID switch*. Unpaired objects are
  misses, unpaired hypotheses false positives. ``MOTA = 1 - (misses + false positives + switches) /
  ground-truth boxes``; ``MOTP`` is the mean ``1 - IoU`` of the pairs.
* **Identity scores** (Ristani et al., 2016): one global one-to-one assignment of ground-truth ids to
  hypothesis ids that maximises the number of frames where the two are matched (IDTP);
  ``IDF1 = 2 IDTP / (ground-truth boxes + hypothesis boxes)``, ``IDP = IDTP / hypothesis boxes``,
  ``IDR = IDTP / ground-truth boxes``.
* **HOTA** (Luiten et al., 2021): for each localisation threshold alpha in 0.05, 0.10, ..., 0.95, a
  per-frame assignment maximising IoU weighted by how well the two ids align over the whole video;
  pairs with IoU >= alpha are true positives. ``DetA = TP / (TP + FN + FP)``; ``AssA`` = the mean over
  true positives of ``TPA / (TPA + FNA + FPA)`` of their id pair; ``HOTA = sqrt(DetA * AssA)``. Each
  figure is the mean over the 19 alphas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

DEFAULT_THRESHOLD = 0.5
HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)
_EPS = np.finfo(np.float64).eps


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (n, 4) with every box of ``b`` (m, 4), both ``x, y, w, h``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2]) - np.maximum(
        a[:, None, 0], b[None, :, 0]
    )
    iy = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3]) - np.maximum(
        a[:, None, 1], b[None, :, 1]
    )
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass(frozen=True)
class Frame:
    gt: np.ndarray  # ground-truth id indices (0..n_gt-1)
    hyp: np.ndarray  # hypothesis id indices
    iou: np.ndarray  # (len(gt), len(hyp))
    number: int = -1  # the frame's number in the video


@dataclass(frozen=True)
class Compared:
    """Both sides of one video, frame by frame, ids renumbered 0..n-1 (``gt_ids`` / ``hyp_ids`` map back)."""

    frames: list[Frame]
    gt_ids: np.ndarray
    hyp_ids: np.ndarray

    @property
    def gt_boxes(self) -> int:
        return sum(len(f.gt) for f in self.frames)

    @property
    def hyp_boxes(self) -> int:
        return sum(len(f.hyp) for f in self.frames)


def _rows(rows: np.ndarray) -> np.ndarray:
    """``frame, id, x, y, w, h`` rows as a float array sorted by frame, then id."""
    out = np.asarray(rows, dtype=np.float64)
    out = out.reshape(-1, 6) if out.size == 0 else out[:, :6]
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def sequence(gt_rows: np.ndarray, hyp_rows: np.ndarray) -> Compared:
    """Group rows ``frame, id, x, y, w, h[, ...]`` of both sides by frame (every frame either side has)."""
    gt_rows, hyp_rows = _rows(gt_rows), _rows(hyp_rows)
    frames = []
    for t in np.union1d(gt_rows[:, 0], hyp_rows[:, 0]):
        g = gt_rows[:, 0] == t
        h = hyp_rows[:, 0] == t
        frames.append((int(t), gt_rows[g, 1], hyp_rows[h, 1], box_iou(gt_rows[g, 2:6], hyp_rows[h, 2:6])))
    return compared_frames(frames)


def compared_frames(frames: Sequence[tuple[int, np.ndarray, np.ndarray, np.ndarray]]) -> Compared:
    """Both sides from ``(frame, ground-truth ids, hypothesis ids, their IoU matrix)`` per frame, in
    frame order: any similarity can stand for IoU (mask IoU for polygon tracks)."""
    gt_ids = np.unique(np.concatenate([np.asarray(f[1], dtype=np.float64) for f in frames] or [np.zeros(0)]))
    hyp_ids = np.unique(np.concatenate([np.asarray(f[2], dtype=np.float64) for f in frames] or [np.zeros(0)]))
    return Compared(
        [
            Frame(
                np.searchsorted(gt_ids, np.asarray(g, dtype=np.float64)),
                np.searchsorted(hyp_ids, np.asarray(h, dtype=np.float64)),
                np.asarray(iou, dtype=np.float64).reshape(len(g), len(h)),
                number,
            )
            for number, g, h, iou in frames
        ],
        gt_ids,
        hyp_ids,
    )


def _most_matches_least_cost(cost: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of a minimum-cost assignment among ``allowed`` entries that takes as many of them as it can
    (a disallowed pair costs more than any allowed assignment, and is dropped)."""
    if not cost.size:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    big = float(np.abs(cost[allowed]).sum()) * 2 + 1.0
    rows, cols = linear_sum_assignment(np.where(allowed, cost, big))
    keep = allowed[rows, cols]
    return rows[keep], cols[keep]


@dataclass(frozen=True)
class ClearMot:
    mota: float
    motp: float  # mean 1 - IoU of the pairs
    switches: int
    misses: int
    false_positives: int
    matches: int
    gt_boxes: int


def clear_mot(seq: Compared, threshold: float = DEFAULT_THRESHOLD) -> ClearMot:
    last: dict[int, int] = {}  # ground-truth id -> the hypothesis it was last paired with
    switches = misses = false_positives = matches = 0
    distance = 0.0
    for f in seq.frames:
        matched = f.iou >= threshold
        free_g = np.ones(len(f.gt), dtype=bool)
        free_h = np.ones(len(f.hyp), dtype=bool)
        pairs: list[tuple[int, int]] = []
        hyp_pos = {int(h): j for j, h in enumerate(f.hyp)}
        for i, g in enumerate(f.gt):  # correspondences still matched are kept
            j = hyp_pos.get(last.get(int(g), -1))
            if j is not None and free_h[j] and matched[i, j]:
                pairs.append((i, j))
                free_g[i] = free_h[j] = False
        gi, hj = np.flatnonzero(free_g), np.flatnonzero(free_h)
        rows, cols = _most_matches_least_cost(1.0 - f.iou[np.ix_(gi, hj)], matched[np.ix_(gi, hj)])
        for r, c in zip(gi[rows], hj[cols], strict=True):
            g, h = int(f.gt[r]), int(f.hyp[c])
            if g in last and last[g] != h:
                switches += 1
            pairs.append((int(r), int(c)))
        for i, j in pairs:
            last[int(f.gt[i])] = int(f.hyp[j])
            distance += 1.0 - float(f.iou[i, j])
        matches += len(pairs)
        misses += len(f.gt) - len(pairs)
        false_positives += len(f.hyp) - len(pairs)
    n = seq.gt_boxes
    mota = 1.0 - (misses + false_positives + switches) / n if n else float("nan")
    return ClearMot(
        mota, distance / matches if matches else float("nan"), switches, misses, false_positives, matches, n
    )


@dataclass(frozen=True)
class IdScores:
    idf1: float
    idp: float
    idr: float
    idtp: int


def _id_pairing(seq: Compared, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The identity scores' one global pairing of ground-truth ids with hypothesis ids (indices), and
    how many frames each id pair is matched on."""
    together = np.zeros((len(seq.gt_ids), len(seq.hyp_ids)), dtype=np.int64)
    for f in seq.frames:
        i, j = np.nonzero(f.iou >= threshold)
        np.add.at(together, (f.gt[i], f.hyp[j]), 1)
    rows, cols = linear_sum_assignment(-together) if together.size else (np.zeros(0, int), np.zeros(0, int))
    return rows, cols, together


def id_scores(seq: Compared, threshold: float = DEFAULT_THRESHOLD) -> IdScores:
    rows, cols, together = _id_pairing(seq, threshold)
    idtp = int(together[rows, cols].sum())
    n_gt, n_hyp = seq.gt_boxes, seq.hyp_boxes
    return IdScores(
        2 * idtp / (n_gt + n_hyp) if n_gt + n_hyp else float("nan"),
        idtp / n_hyp if n_hyp else float("nan"),
        idtp / n_gt if n_gt else float("nan"),
        idtp,
    )


@dataclass(frozen=True)
class Differences:
    """Frames where two versions of the same tracks disagree (what a reviewer's timeline marks)."""

    geometry: list[int]  # a box of one side has no box of the other at IoU >= threshold
    identity: list[int]  # two boxes match, but their ids are not the ids paired over the whole video

    def as_json(self) -> dict[str, list[int]]:
        return {"geometry": self.geometry, "identity": self.identity}


def differences(seq: Compared, threshold: float = DEFAULT_THRESHOLD) -> Differences:
    """Where ``seq``'s two sides disagree, frame by frame. Ids are judged against the identity scores'
    global pairing: a swap marks the frames on the side of it where fewer frames agree with that
    pairing, and an id that is consistently another number marks nothing. Boxes are paired by the
    most matches, those of ids paired over the whole video first, then the least ``1 - IoU``."""
    rows, cols, together = _id_pairing(seq, threshold)
    partner = {int(r): int(c) for r, c in zip(rows, cols, strict=True) if together[r, c] > 0}
    geometry: list[int] = []
    identity: list[int] = []
    for f in seq.frames:
        matched = f.iou >= threshold
        paired = np.array([[partner.get(int(g)) == int(h) for h in f.hyp] for g in f.gt], dtype=bool)
        # the pairing over the video wins where it matches (two boxes in one place are not a switch)
        gi, hj = _most_matches_least_cost(1.0 - f.iou - paired.reshape(matched.shape), matched)
        if len(gi) < max(len(f.gt), len(f.hyp)):
            geometry.append(f.number)
        if any(partner.get(int(f.gt[i])) != int(f.hyp[j]) for i, j in zip(gi, hj, strict=True)):
            identity.append(f.number)
    return Differences(geometry, identity)


@dataclass(frozen=True)
class Hota:
    hota: float
    deta: float
    assa: float
    loca: float
    hota_per_alpha: np.ndarray


def hota(seq: Compared) -> Hota:
    n_gt, n_hyp = len(seq.gt_ids), len(seq.hyp_ids)
    potential = np.zeros((n_gt, n_hyp))
    gt_count = np.zeros(n_gt)
    hyp_count = np.zeros(n_hyp)
    for f in seq.frames:  # how well each id pair aligns over the video (soft, by IoU)
        s = f.iou
        denom = s.sum(0)[None, :] + s.sum(1)[:, None] - s
        soft = np.divide(s, denom, out=np.zeros_like(s), where=denom > _EPS)
        potential[np.ix_(f.gt, f.hyp)] += soft
        gt_count[f.gt] += 1
        hyp_count[f.hyp] += 1
    alignment = potential / np.maximum(gt_count[:, None] + hyp_count[None, :] - potential, _EPS)
    k = len(HOTA_ALPHAS)
    tp, fn, fp, loc = np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k)
    pair_tp = np.zeros((k, n_gt, n_hyp))
    for f in seq.frames:
        if not len(f.gt) or not len(f.hyp):
            fn += len(f.gt)
            fp += len(f.hyp)
            continue
        rows, cols = linear_sum_assignment(-(alignment[np.ix_(f.gt, f.hyp)] * f.iou))
        sims = f.iou[rows, cols]
        for a, alpha in enumerate(HOTA_ALPHAS):
            ok = sims >= alpha - _EPS
            n = int(ok.sum())
            tp[a] += n
            fn[a] += len(f.gt) - n
            fp[a] += len(f.hyp) - n
            loc[a] += sims[ok].sum()
            np.add.at(pair_tp[a], (f.gt[rows[ok]], f.hyp[cols[ok]]), 1)
    union = gt_count[None, :, None] + hyp_count[None, None, :] - pair_tp
    per_pair = pair_tp / np.maximum(1.0, union)
    assa = (pair_tp * per_pair).sum(axis=(1, 2)) / np.maximum(1.0, tp)
    deta = tp / np.maximum(1.0, tp + fn + fp)
    loca = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    per_alpha = np.sqrt(deta * assa)
    return Hota(
        float(per_alpha.mean()), float(deta.mean()), float(assa.mean()), float(loca.mean()), per_alpha
    )
