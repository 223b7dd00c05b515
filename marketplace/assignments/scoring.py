"""The scorer interface the assignment server calls, and a simple built-in scorer.

A scorer sees the job, the GT objects of every GT item of one assignment and the worker's answers on
those same items (keyed by the opaque item token), and returns a score in ``[0, 1]``, whether the
assignment is accepted, and free-form details (stored, never shown to the worker).

The scoring flow (:mod:`marketplace.flows.scoring`) uses the quality engine's scorer unless one is
plugged in with :func:`set_scorer_factory`, such as :class:`SimpleScorer`: greedy same-label IoU
matching for boxes, a distance tolerance for points, set equality for classification labels; accuracy
per item is ``matched / (gt + submitted - matched)`` and the assignment score is the mean over its GT
items.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from marketplace.geometry import polygons as geo
from marketplace.models import Job, JobType


@dataclass(frozen=True)
class Annotation:
    """One object: ``geometry`` is ``[x, y, w, h]`` (boxes), ``[x, y]`` (points), None (classes), or
    for polygons a tuple of rings (or, GT only, an RLE dict)."""

    label: str
    geometry: Any = None


@dataclass(frozen=True)
class GtItem:
    width: int
    height: int
    objects: tuple[Annotation, ...]


@dataclass(frozen=True)
class ScoreResult:
    score: float
    accepted: bool
    details: dict[str, Any] = field(default_factory=dict)


class Scorer(Protocol):
    def score(
        self, job: Job, gt: Mapping[str, GtItem], answers: Mapping[str, Sequence[Annotation]]
    ) -> ScoreResult:
        """Score one assignment on its GT items (``gt`` and ``answers`` share their keys)."""
        ...


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _accuracy(matched: int, n_gt: int, n_sub: int) -> float:
    denominator = n_gt + n_sub - matched
    return 1.0 if denominator == 0 else matched / denominator


Similarity = Callable[[Annotation, Annotation], float | None]


def _greedy_matches(gt: Sequence[Annotation], sub: Sequence[Annotation], close: Similarity) -> int:
    """Count one-to-one matches, best first; ``close`` gives a similarity or None (no match)."""
    pairs = []
    for i, g in enumerate(gt):
        for j, s in enumerate(sub):
            if g.label == s.label:
                sim = close(g, s)
                if sim is not None:
                    pairs.append((sim, i, j))
    used_g: set[int] = set()
    used_s: set[int] = set()
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_g and j not in used_s:
            used_g.add(i)
            used_s.add(j)
    return len(used_g)


class SimpleScorer:
    """The stand-in scorer until the quality engine's scorer is plugged in."""

    def item_accuracy(self, job: Job, gt: GtItem, answer: Sequence[Annotation]) -> float:
        if job.type is JobType.classification:
            return 1.0 if {o.label for o in gt.objects} == {a.label for a in answer} else 0.0
        if job.type is JobType.boxes:
            threshold = job.iou_threshold

            def close(g: Annotation, s: Annotation) -> float | None:
                value = iou(g.geometry or (), s.geometry or ())
                return value if value >= threshold else None

        elif job.type is JobType.polygons:
            threshold = job.iou_threshold

            def close(g: Annotation, s: Annotation) -> float | None:
                a = geo.to_rle(g.geometry, gt.height, gt.width)
                b = geo.to_rle(s.geometry, gt.height, gt.width)
                value = float(geo.mask_iou([a], [b])[0, 0])
                return value if value >= threshold else None

        else:
            tolerance = job.point_tolerance * math.hypot(gt.width, gt.height)

            def close(g: Annotation, s: Annotation) -> float | None:
                gx, gy = g.geometry or (0.0, 0.0)
                sx, sy = s.geometry or (0.0, 0.0)
                distance = math.hypot(gx - sx, gy - sy)
                return -distance if distance <= tolerance else None

        matched = _greedy_matches(gt.objects, answer, close)
        return _accuracy(matched, len(gt.objects), len(answer))

    def score(
        self, job: Job, gt: Mapping[str, GtItem], answers: Mapping[str, Sequence[Annotation]]
    ) -> ScoreResult:
        if not gt:
            return ScoreResult(1.0, True, {"scorer": "simple", "items": {}, "note": "no GT items"})
        per_item = {key: self.item_accuracy(job, item, answers.get(key, ())) for key, item in gt.items()}
        score = sum(per_item.values()) / len(per_item)
        return ScoreResult(score, score >= job.accuracy_target, {"scorer": "simple", "items": per_item})


ScorerFactory = Callable[[Job], Scorer]
_factory: ScorerFactory | None = None


def set_scorer_factory(factory: ScorerFactory | None) -> None:
    """Plug in a scorer for every job instead of the quality engine's (None restores it): tests and
    benchmarks that want scoring without the quality statistics."""
    global _factory
    _factory = factory


def scorer_override(job: Job) -> Scorer | None:
    """The plugged-in scorer, if any; the scoring flow uses the quality engine's otherwise."""
    return _factory(job) if _factory is not None else None
