"""Choosing a job's label aggregator by its own hidden GT, and deciding by expected cost.

Every job mixes hidden GT items into the work, so the engine need not trust one model: it runs the
candidates (majority vote, Dawid-Skene with a flat or a pooled prior, one-coin, GLAD, the
GT-clamped variants of the EM models, :mod:`marketplace.quality.aggregators`, and majority vote with
its ties given to the class the GT shows most often) and scores each by its
accuracy on GT items *it did not see*:

* a model that ignores GT is fitted once on all the answers and scored on every GT item (it never
  saw their truth);
* a GT-clamped model is cross-validated: GT is cut into folds, each fold is scored by a fit that
  clamps the other folds only.

Ties are split in expectation (a tie among k labels holding the truth scores 1/k), as for majority
vote. A method scoring no better than majority vote is never chosen (ties go to majority vote);
among the others the GT's noise decides how far to trust the ranking: the first candidate of
:data:`CANDIDATES` (an order of preference) within one paired standard error of the best score is
chosen, so a model only displaces a preferred one by winning clearly (:func:`choose`). The
:class:`Selection` says which method won and why (every candidate's score), for the dashboard.

:func:`min_expected_cost` turns posteriors into decisions under a requester's misclassification cost
matrix: the label with the least expected cost, not the most likely one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from marketplace.quality.aggregation import Aggregate, CrowdAnswers
from marketplace.quality.aggregators import dawid_skene_smoothed, glad, one_coin, soft_majority

Fit = Callable[[CrowdAnswers, Mapping[int, int]], Aggregate]
MAJORITY = "majority_vote"
DEFAULT_FOLDS = 5


def _majority(answers: CrowdAnswers, known: Mapping[int, int]) -> Aggregate:
    """Vote shares as the posterior (GT items clamped to their truth)."""
    posterior = soft_majority(answers, known)
    labels = posterior.argmax(axis=1)
    return Aggregate(labels, posterior[np.arange(len(labels)), labels], posterior)


def _majority_class_prior(answers: CrowdAnswers, known: Mapping[int, int]) -> Aggregate:
    """Majority vote whose ties go to the more frequent class (by the GT's labels, else by the votes).

    On skewed label sets (most content "general") a tie is more often the common class; the shift is
    far below one vote, so only ties move.
    """
    votes = answers.vote_counts().sum(axis=0)
    if known:
        votes = np.bincount(np.fromiter(known.values(), dtype=np.intp), minlength=answers.n_classes) + 1.0
    shares = soft_majority(answers, known)
    posterior = shares + 1e-6 * votes / votes.sum()
    posterior /= posterior.sum(axis=1, keepdims=True)
    labels = posterior.argmax(axis=1)
    return Aggregate(labels, posterior[np.arange(len(labels)), labels], posterior)


@dataclass(frozen=True)
class Candidate:
    name: str
    fit: Fit
    uses_gt: bool  # clamps the known GT items during EM (scored by cross-validation over GT)
    description: str = ""


def _ds_flat(a: CrowdAnswers, k: Mapping[int, int]) -> Aggregate:
    return dawid_skene_smoothed(a, k, prior="flat", strength=1.0)


def _ds_pooled(a: CrowdAnswers, k: Mapping[int, int]) -> Aggregate:
    return dawid_skene_smoothed(a, k, prior="pooled", strength=2.0, novice_below=5)


def _one_coin(a: CrowdAnswers, k: Mapping[int, int]) -> Aggregate:
    return one_coin(a, k)


def _glad(a: CrowdAnswers, k: Mapping[int, int]) -> Aggregate:
    return glad(a, k)


def _no_gt(fit: Fit) -> Fit:
    def fit_without_gt(a: CrowdAnswers, k: Mapping[int, int]) -> Aggregate:
        return fit(a, {})

    return fit_without_gt


def _model(name: str, fit: Fit, description: str) -> list[Candidate]:
    return [
        Candidate(f"{name}+gt", fit, True, f"{description}, GT answers clamped during EM"),
        Candidate(name, _no_gt(fit), False, description),
    ]


#: In order of preference on a tie (after majority vote).
CANDIDATES: tuple[Candidate, ...] = (
    Candidate(MAJORITY, _no_gt(_majority), False, "majority vote"),
    *_model("dawid_skene", _ds_flat, "Dawid-Skene from the majority vote, Dirichlet-smoothed confusions"),
    *_model(
        "dawid_skene_pooled",
        _ds_pooled,
        "Dawid-Skene with the population's confusion as prior; workers with < 5 answers pooled",
    ),
    *_model("one_coin", _one_coin, "one-coin Dawid-Skene (one accuracy per worker)"),
    *_model("glad", _glad, "GLAD (worker ability x item difficulty)"),
    Candidate(
        "majority_vote_class_prior",
        _majority_class_prior,
        True,
        "majority vote, ties to the class the GT shows most often",
    ),
)


def expected_hits(posterior: np.ndarray, items: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per item: 1 if the top label is the truth, 1/k if the truth is one of k tied top labels, else 0."""
    rows = posterior[items]
    top = np.isclose(rows, rows.max(axis=1, keepdims=True), rtol=1e-9, atol=1e-12)
    return top[np.arange(len(items)), labels] / top.sum(axis=1)


def gt_folds(known: Mapping[int, int], folds: int, seed: int) -> list[np.ndarray]:
    """The GT item indices shuffled (seeded) and cut into ``folds`` nearly equal parts."""
    items = np.array(sorted(known), dtype=np.intp)
    np.random.default_rng(seed).shuffle(items)
    return [f for f in np.array_split(items, max(1, min(folds, len(items)))) if len(f)]


def held_out_hits(
    answers: CrowdAnswers, known: Mapping[int, int], candidate: Candidate, folds: Sequence[np.ndarray]
) -> np.ndarray:
    """Per GT item (in sorted item order): the candidate's expected hit on it, the item held out.

    A GT-blind model is fitted once and scored on every GT item; a GT-clamped one is fitted once per
    fold, clamping the other folds, and scored on the fold.
    """
    items = np.array(sorted(known), dtype=np.intp)
    labels = np.array([known[int(i)] for i in items], dtype=np.intp)
    if not candidate.uses_gt:
        return expected_hits(candidate.fit(answers, {}).posterior, items, labels)
    position = {int(i): n for n, i in enumerate(items)}
    hits = np.zeros(len(items))
    for fold in folds:
        held_out = set(fold.tolist())
        train = {i: t for i, t in known.items() if i not in held_out}
        where = np.array([position[int(i)] for i in fold], dtype=np.intp)
        hits[where] = expected_hits(candidate.fit(answers, train).posterior, fold, labels[where])
    return hits


def cross_validated_accuracy(
    answers: CrowdAnswers, known: Mapping[int, int], candidate: Candidate, folds: Sequence[np.ndarray]
) -> float:
    """Mean held-out accuracy on GT (:func:`held_out_hits`); NaN without GT."""
    return float(held_out_hits(answers, known, candidate, folds).mean()) if known else float("nan")


def paired_noise(a: np.ndarray, b: np.ndarray, z: float) -> float:
    """``z`` standard errors of the accuracy difference of two methods scored on the same items
    (the McNemar approximation: the square root of the discordant mass over the item count)."""
    return z * float(np.sqrt(np.abs(a - b).sum())) / max(len(a), 1)


def choose(names: Sequence[str], hits: Mapping[str, np.ndarray], z: float) -> str:
    """The preferred method the GT cannot tell apart from the best one.

    Only methods scoring strictly above majority vote (``names[0]``) are eligible; among them, the
    first in ``names`` whose accuracy is within ``z`` paired standard errors of the best eligible one
    (so a lower-preference model must win by more than the GT's noise). None eligible: majority vote.
    """
    floor = float(hits[names[0]].mean())
    eligible = [n for n in names[1:] if float(hits[n].mean()) > floor + 1e-12]
    if not eligible:
        return names[0]
    best = max(eligible, key=lambda n: float(hits[n].mean()))
    top = float(hits[best].mean())
    for name in eligible:
        if top - float(hits[name].mean()) <= paired_noise(hits[name], hits[best], z) + 1e-12:
            return name
    return best


@dataclass(frozen=True)
class Selection:
    method: str
    aggregate: Aggregate  # the chosen method refitted on all answers with all GT clamped (if it uses GT)
    scores: dict[str, float]  # candidate -> held-out accuracy on GT (NaN without GT)
    gt_items: int
    folds: int
    reason: str
    descriptions: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """JSON-able: which method, why, and every candidate's GT score (for the dashboard)."""
        return {
            "method": self.method,
            "description": self.descriptions.get(self.method, ""),
            "reason": self.reason,
            "gt_items": self.gt_items,
            "folds": self.folds,
            "gt_accuracy": {k: (None if np.isnan(v) else round(v, 4)) for k, v in self.scores.items()},
        }


def select_aggregator(
    answers: CrowdAnswers,
    known: Mapping[int, int] | None = None,
    *,
    candidates: Sequence[Candidate] = CANDIDATES,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    min_gt: int = 1,
    noise_z: float = 1.0,
) -> Selection:
    """Score every candidate on the job's GT and return the best, refitted with all the GT.

    The first candidate must be majority vote (the floor); the others are in order of preference,
    and a later one is chosen over an earlier one only if it wins by more than ``noise_z`` paired
    standard errors on GT (:func:`choose`). Without at least ``min_gt`` GT items with
    answers there is no evidence: majority vote is used.
    """
    if not candidates or candidates[0].name != MAJORITY:
        raise ValueError("the first candidate must be majority vote")
    answered_items = set(np.unique(answers.item).tolist())
    known = {int(i): int(t) for i, t in (known or {}).items()}
    evidence = {i: t for i, t in known.items() if i in answered_items}
    descriptions = {c.name: c.description for c in candidates}
    if len(evidence) < max(min_gt, 1):
        scores = {c.name: float("nan") for c in candidates}
        reason = f"{len(evidence)} answered GT item(s): no evidence to prefer a model over majority vote"
        return Selection(
            MAJORITY, candidates[0].fit(answers, known), scores, len(evidence), 0, reason, descriptions
        )
    parts = gt_folds(evidence, folds, seed)
    hits = {c.name: held_out_hits(answers, evidence, c, parts) for c in candidates}
    scores = {name: float(h.mean()) for name, h in hits.items()}
    floor = scores[MAJORITY]
    best = next(c for c in candidates if c.name == choose([c.name for c in candidates], hits, noise_z))
    leader = max(scores, key=lambda n: scores[n])
    if best.name == MAJORITY:
        reason = (
            f"no model beat majority vote on {len(evidence)} GT items held out "
            f"(majority vote {100 * floor:.2f}%)"
        )
    else:
        reason = (
            f"{best.name} scored {100 * scores[best.name]:.2f}% on {len(evidence)} held-out GT items "
            f"vs majority vote {100 * floor:.2f}%"
        )
        if leader != best.name:
            reason += (
                f"; {leader} ({100 * scores[leader]:.2f}%) is within the GT's noise of it, "
                f"and {best.name} is preferred"
            )
    return Selection(
        best.name, best.fit(answers, known), scores, len(evidence), len(parts), reason, descriptions
    )


# --------------------------------------------------------------------------- cost-sensitive decisions


def validate_cost_matrix(cost: np.ndarray | Sequence[Sequence[float]], n_classes: int) -> np.ndarray:
    """``cost[t, d]`` = cost of deciding ``d`` when the truth is ``t``: square, finite, >= 0."""
    matrix = np.asarray(cost, dtype=np.float64)
    if matrix.shape != (n_classes, n_classes):
        raise ValueError(f"cost matrix must be {n_classes}x{n_classes}, got {matrix.shape}")
    if not np.isfinite(matrix).all() or (matrix < 0).any():
        raise ValueError("cost matrix entries must be finite and >= 0")
    return matrix


def expected_costs(posterior: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """``(n_items, n_classes)``: the expected cost of each decision, ``sum_t P(t) cost[t, d]``."""
    return np.asarray(posterior, dtype=np.float64) @ validate_cost_matrix(cost, posterior.shape[1])


def min_expected_cost(posterior: np.ndarray, cost: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Per item, the decision with the least expected cost (ties: the more likely label, then the lower
    index). With 0/1 costs this is the most likely label."""
    posterior = np.asarray(posterior, dtype=np.float64)
    expected = expected_costs(posterior, np.asarray(cost, dtype=np.float64))
    best = expected.min(axis=1, keepdims=True)
    tied = np.isclose(expected, best, rtol=1e-12, atol=1e-12)
    return np.where(tied, posterior, -1.0).argmax(axis=1)
