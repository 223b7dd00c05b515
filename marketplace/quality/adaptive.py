"""Label quality per dollar: how much GT a worker gets, and when an item needs one more worker.

Two decisions, both pure functions so the assignment server, the quality engine and the cost
benchmark (``benchmarks/cost.py``) run exactly the same code:

* :func:`gt_slots` - *adaptive GT*. An assignment always has the job's ``gt_per_assignment`` GT
  slots (so its length, and with it the number of GT items, says nothing). A worker the sequential
  test has no evidence for yet gets every slot as GT; as the SPRT's evidence that the worker is at
  the target grows, each slot stays GT with a falling probability, down to ``keep`` (a random spot
  check, default 0.15, :func:`keep_probability`); the other slots carry real work instead. The
  share never reaches zero, and the SPRT keeps monitoring a passed worker (CUSUM-style,
  ``SprtConfig.keep_monitoring``), so a worker who turns bad after being trusted is still banned.
* :func:`answer_posterior` / :func:`wants_another_worker` - *dynamic overlap*. The posterior of an
  item's label from the answers it has so far, each worker's answer weighted by that worker's GT
  accuracy (the one-coin model: right with probability ``a``, else one of the other labels
  uniformly). An item whose best label is below the job's confidence threshold goes to one more
  worker, until the requester's cap; only then does it go to a reviewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from marketplace.quality.sprt import SprtConfig, SprtState

DEFAULT_KEEP = 0.15  # a trusted worker's GT slot stays GT with this probability
DEFAULT_TRUST_AT = 0.25  # ... reached at this fraction of the SPRT's pass line
MIN_ACCURACY, MAX_ACCURACY = 0.05, 0.99  # no single answer is ever taken as certain


class _Random(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True)
class GtPolicy:
    """``keep``: the spot-check rate of a trusted worker's GT slots (1.0 = fixed GT, no adaptation),
    reached when the SPRT's log-likelihood ratio is ``trust_at`` of the way to its pass line."""

    keep: float = DEFAULT_KEEP
    trust_at: float = DEFAULT_TRUST_AT

    def __post_init__(self) -> None:
        if not 0.0 < self.keep <= 1.0:
            raise ValueError("keep must be in (0, 1]: a trusted worker's GT share never reaches zero")
        if not 0.0 < self.trust_at <= 1.0:
            raise ValueError("trust_at must be in (0, 1]")


def keep_probability(state: SprtState, config: SprtConfig, policy: GtPolicy) -> float:
    """The chance that one GT slot stays GT: 1 while the worker's log-likelihood ratio is at or below 0
    (no evidence that they are good), falling linearly to ``policy.keep`` at ``policy.trust_at`` of
    the SPRT's pass line (by default a quarter of the way: the evidence is then about 2:1 for "at
    target" over "at the floor"). The same line runs back up as the evidence falls (a passed worker
    stays monitored), so a worker who starts failing meets more GT within a few items."""
    progress = min(max(state.llr / (config.upper * policy.trust_at), 0.0), 1.0)
    return 1.0 - progress * (1.0 - policy.keep)


PRIOR_WEIGHT = 0.5  # evidence from other jobs counts half (other tasks, other GT)


def prior_llr(passed: int, total: int, config: SprtConfig, policy: GtPolicy) -> float:
    """A head start for this job's SPRT from the worker's GT record on other (sharing) jobs: half that
    evidence, never enough on its own to pass or ban here. A known-good worker starts at the trust
    line (the spot-check GT rate); a known-bad one starts halfway to the ban line, on full GT."""
    llr = PRIOR_WEIGHT * (passed * config.step_pass + (total - passed) * config.step_fail)
    return min(max(llr, config.lower / 2), config.upper * policy.trust_at)


def gt_slots(state: SprtState, config: SprtConfig, slots: int, policy: GtPolicy, rng: _Random) -> int:
    """How many of an assignment's ``slots`` GT slots are GT for a worker in this SPRT state."""
    if slots <= 0:
        return 0
    keep = keep_probability(state, config, policy)
    if keep >= 1.0:
        return slots
    return sum(rng.random() < keep for _ in range(slots))


def gt_accuracy(passed: float, total: float, prior_mean: float = 0.5, strength: float = 2.0) -> float:
    """A worker's accuracy as a merge weight: the posterior mean under a Beta prior of ``strength``
    pseudo-items centred on ``prior_mean`` (the crowd's accuracy on this job's GT, or the worker's
    own record on earlier jobs), so a worker seen on two GT items is neither perfect nor a coin."""
    return (passed + strength * prior_mean) / (total + strength)


def class_prior(gt_labels: Sequence[int] | np.ndarray, n_classes: int) -> np.ndarray:
    """The labels' frequencies on the job's GT (one pseudo-count each): what an item is before any answer."""
    counts = np.bincount(np.asarray(gt_labels, dtype=np.intp), minlength=n_classes)[:n_classes] + 1.0
    return counts / counts.sum()


def crowd_confusion(
    truth: Sequence[int], given: Sequence[int], n_classes: int, strength: float = 2.0
) -> np.ndarray:
    """How the crowd answers, from its answers on GT: row ``k`` is the share of each label given to GT
    items whose truth is ``k``. Each row is shrunk, by ``strength`` pseudo-answers, towards the crowd's
    overall accuracy with the wrong labels equally likely, so a class seen on few GT items is not
    taken as certain."""
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (np.asarray(truth, dtype=np.intp), np.asarray(given, dtype=np.intp)), 1.0)
    overall = (np.trace(counts) + 1.0) / (counts.sum() + 2.0)
    base = np.full((n_classes, n_classes), (1.0 - overall) / (n_classes - 1))
    np.fill_diagonal(base, overall)
    rows = counts + strength * base
    return rows / rows.sum(axis=1, keepdims=True)


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(p, MIN_ACCURACY, MAX_ACCURACY)
    return np.log(p / (1.0 - p))


def answer_posterior(
    labels: Sequence[int] | np.ndarray,
    accuracies: Sequence[float] | np.ndarray,
    n_classes: int,
    prior: np.ndarray | None = None,
    confusion: np.ndarray | None = None,
) -> np.ndarray:
    """``P(truth = k | answers)`` for one item: answer ``j`` is label ``labels[j]`` from a worker right
    with probability ``accuracies[j]`` (clipped to [0.05, 0.99]), wrong labels equally likely.

    With the crowd's ``confusion`` (:func:`crowd_confusion`) the errors follow the crowd's: on an item
    of class ``k`` a worker is right with the crowd's accuracy on ``k``, moved by how much better or
    worse than the crowd the worker is (on the log-odds scale), and a wrong answer is the crowd's wrong
    answers' mix for ``k``. Classes the crowd confuses one way (a "yes" given to many "no" items) then
    count for less when answered that way."""
    if n_classes < 2:
        raise ValueError("an item needs at least two labels to be uncertain about")
    log_post = np.log(prior) if prior is not None else np.zeros(n_classes)
    acc = np.clip(np.asarray(accuracies, dtype=float), MIN_ACCURACY, MAX_ACCURACY)
    given = np.asarray(labels, dtype=np.intp)
    if len(acc) != len(given):
        raise ValueError("one accuracy per answer")
    if confusion is None:
        wrong = np.log((1.0 - acc) / (n_classes - 1))
        log_post = log_post + wrong.sum()
        np.add.at(log_post, given, np.log(acc) - wrong)
    elif len(given):
        diagonal = np.clip(np.diag(confusion), MIN_ACCURACY, MAX_ACCURACY)
        weights = prior if prior is not None else np.full(n_classes, 1.0 / n_classes)
        crowd = float((weights * diagonal).sum())
        right = 1.0 / (1.0 + np.exp(-(_logit(diagonal)[None, :] + (_logit(acc) - _logit(crowd))[:, None])))
        right = np.clip(right, MIN_ACCURACY, MAX_ACCURACY)
        wrong_mix = confusion[:, given].T / (1.0 - np.diag(confusion))[None, :]  # (answers, classes)
        likelihood = np.where(
            given[:, None] == np.arange(n_classes)[None, :], right, (1.0 - right) * wrong_mix
        )
        log_post = log_post + np.log(np.maximum(likelihood, 1e-12)).sum(axis=0)
    log_post -= log_post.max()
    post = np.exp(log_post)
    return post / post.sum()


def wants_another_worker(confidence: float, answers: int, threshold: float, cap: int) -> bool:
    """Dynamic overlap: one more worker while the best label's posterior is below the threshold and
    the item has fewer than ``cap`` answers."""
    return answers < cap and confidence < threshold


AGREEMENT_WEIGHT = 0.5  # an answer checked against a settled item counts half a GT item
AGREEMENT_SURE = 0.9  # ... when the item's other answers settle it at least this surely


def agreements(
    labels: Sequence[int] | np.ndarray,
    accuracies: Sequence[float] | np.ndarray,
    n_classes: int,
    prior: np.ndarray | None = None,
    confusion: np.ndarray | None = None,
    sure: float = AGREEMENT_SURE,
) -> list[bool | None]:
    """Evidence about workers without GT, from an item that needs no more answers: for each answer,
    whether it matches the label the item's *other* answers give with posterior at least ``sure``
    (``None``: the others alone are not that sure, so the answer says nothing either way). A worker
    whose answers keep matching settled items is trusted with a lone answer sooner
    (:func:`answer_accuracy`); this evidence never moves the SPRT, pay or bans, which stay on GT."""
    given = np.asarray(labels, dtype=np.intp)
    acc = np.asarray(accuracies, dtype=float)
    if len(given) < 2:
        return [None] * len(given)
    out: list[bool | None] = []
    for j in range(len(given)):
        others = np.arange(len(given)) != j
        posterior = answer_posterior(given[others], acc[others], n_classes, prior, confusion)
        best = int(np.argmax(posterior))
        out.append(bool(given[j] == best) if posterior[best] >= sure else None)
    return out


def answer_accuracy(
    gt_passed: int, gt_items: int, agreed: int, compared: int, prior_mean: float, strength: float
) -> float:
    """A worker's accuracy for dynamic overlap: the GT record plus the agreement record
    (:func:`agreements`) at ``AGREEMENT_WEIGHT`` per answer, shrunk towards ``prior_mean``."""
    return gt_accuracy(
        gt_passed + AGREEMENT_WEIGHT * agreed, gt_items + AGREEMENT_WEIGHT * compared, prior_mean, strength
    )
