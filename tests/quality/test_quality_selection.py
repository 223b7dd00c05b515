"""Choosing a job's aggregator by its GT, the smoothed/pooled/GT-clamped models, and cost decisions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from marketplace.quality.aggregation import Aggregate, CrowdAnswers, dawid_skene
from marketplace.quality.aggregators import dawid_skene_smoothed, glad, one_coin, soft_majority
from marketplace.quality.selection import (
    CANDIDATES,
    MAJORITY,
    Candidate,
    choose,
    expected_costs,
    expected_hits,
    min_expected_cost,
    select_aggregator,
    validate_cost_matrix,
)


def sparse_crowd(
    seed: int, n_items: int = 600, k: int = 4, per_item: int = 5
) -> tuple[CrowdAnswers, np.ndarray]:
    """A content-rating-like crowd: a few regular workers and 1,500 workers with a handful of answers."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, size=n_items, p=[0.55, 0.25, 0.12, 0.08])
    regular = rng.uniform(0.55, 0.8, 5)
    sparse = rng.uniform(0.35, 0.75, 1500)
    triples = []
    for i in range(n_items):
        chosen: set[str] = set()
        while len(chosen) < per_item:
            chosen.add(f"r{rng.integers(5)}" if rng.random() < 0.4 else f"s{rng.integers(1500)}")
        for w in sorted(chosen):
            skill = regular[int(w[1:])] if w[0] == "r" else sparse[int(w[1:])]
            wrong = rng.choice([c for c in range(k) if c != truth[i]])
            triples.append((i, w, int(truth[i] if rng.random() < skill else wrong)))
    return CrowdAnswers.from_triples(triples, labels=list(range(k))), truth


def _accuracy(posterior: np.ndarray, items: np.ndarray, truth: np.ndarray) -> float:
    return float(expected_hits(posterior, items, truth[items]).mean())


def _overfitting_ds(answers: CrowdAnswers, known: Mapping[int, int]) -> Aggregate:
    return dawid_skene(answers)  # the former default: 0.01 smoothing, no pooling


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_workers_ds_overfits_and_the_gt_picks_majority_or_a_pooled_model(seed: int) -> None:
    answers, truth = sparse_crowd(seed)
    gt = {i: int(truth[i]) for i in range(120)}
    held_out = np.arange(120, answers.n_items)
    mv = _accuracy(soft_majority(answers), held_out, truth)
    assert _accuracy(dawid_skene(answers).posterior, held_out, truth) < mv - 0.05  # the trap is real

    pooled = next(c for c in CANDIDATES if c.name == "dawid_skene_pooled+gt")
    candidates = [CANDIDATES[0], Candidate("dawid_skene_unpooled", _overfitting_ds, False), pooled]
    picked = select_aggregator(answers, gt, candidates=candidates)
    assert picked.method in {MAJORITY, "dawid_skene_pooled+gt"}
    assert picked.scores["dawid_skene_unpooled"] < picked.scores[MAJORITY]

    product = select_aggregator(answers, gt)  # every candidate
    assert product.method != "dawid_skene_unpooled"
    assert _accuracy(product.aggregate.posterior, held_out, truth) >= mv
    report = product.report()
    assert report["method"] == product.method and report["gt_items"] == 120
    assert set(report["gt_accuracy"]) == {c.name for c in CANDIDATES} and report["reason"]


def test_pooling_keeps_sparse_workers_from_dominating() -> None:
    answers, truth = sparse_crowd(5)
    items = np.arange(answers.n_items)
    pooled = dawid_skene_smoothed(answers, prior="pooled", strength=2.0, novice_below=5)
    assert (
        _accuracy(pooled.posterior, items, truth)
        > _accuracy(dawid_skene(answers).posterior, items, truth) + 0.1
    )
    assert _accuracy(pooled.posterior, items, truth) >= _accuracy(soft_majority(answers), items, truth)


def test_a_unanimous_crowd_ties_everywhere_and_majority_vote_wins_the_tie() -> None:
    answers = CrowdAnswers.from_triples(
        [(i, w, i % 3) for i in range(30) for w in ("a", "b", "c")], labels=[0, 1, 2]
    )
    picked = select_aggregator(answers, {i: i % 3 for i in range(10)})
    assert picked.method == MAJORITY
    assert all(score == pytest.approx(1.0) for score in picked.scores.values())


def test_without_gt_majority_vote_is_used() -> None:
    answers, _ = sparse_crowd(0, n_items=50)
    picked = select_aggregator(answers, {})
    assert picked.method == MAJORITY and picked.gt_items == 0 and "no evidence" in picked.reason
    assert picked.report()["gt_accuracy"][MAJORITY] is None
    np.testing.assert_allclose(picked.aggregate.posterior, soft_majority(answers))


def test_never_a_method_below_majority_vote_and_noise_does_not_displace_the_preferred() -> None:
    hits = {
        "mv": np.array([1, 1, 1, 0, 0, 1, 1, 1, 1, 1], float),
        "preferred": np.array([1, 1, 1, 1, 0, 1, 1, 1, 1, 1], float),  # +1 item over mv
        "lucky": np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], float),  # +1 more: within the noise
    }
    assert choose(["mv", "preferred", "lucky"], hits, z=1.0) == "preferred"
    assert choose(["mv", "preferred", "lucky"], hits, z=0.0) == "lucky"
    below = {"mv": hits["mv"], "worse": np.zeros(10)}
    assert choose(["mv", "worse"], below, z=1.0) == "mv"
    assert choose(["mv", "same"], {"mv": hits["mv"], "same": hits["mv"][::-1]}, z=0.0) == "mv"  # tie -> MV


def inverted_crowd(seed: int = 0, n_items: int = 300) -> tuple[CrowdAnswers, np.ndarray]:
    """Five workers who all swap labels 1 and 2 most of the time: the majority is wrong on them."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n_items)
    swap = np.array([0, 2, 1])
    triples = []
    for w in range(5):
        answer = np.where(rng.random(n_items) < 0.85, swap[truth], rng.integers(0, 3, n_items))
        triples += [(i, f"w{w}", int(a)) for i, a in enumerate(answer)]
    return CrowdAnswers.from_triples(triples, labels=[0, 1, 2]), truth


@pytest.mark.parametrize(
    "fit",
    [
        lambda a, k: dawid_skene_smoothed(a, k),
        lambda a, k: dawid_skene_smoothed(a, k, prior="pooled", strength=2.0, novice_below=5),
    ],
)
def test_gt_clamped_em_learns_from_gt_answers_without_making_them_worker_answers(fit) -> None:
    answers, truth = inverted_crowd()
    before = (answers.item.copy(), answers.worker.copy(), answers.label.copy())
    gt = {i: int(truth[i]) for i in range(30)}
    others = np.arange(30, answers.n_items)
    blind, clamped = fit(answers, {}), fit(answers, gt)
    assert _accuracy(blind.posterior, others, truth) < 0.5  # the crowd's majority is inverted
    assert _accuracy(clamped.posterior, others, truth) > 0.8  # GT turns it round
    # GT items carry their truth, with certainty ...
    np.testing.assert_array_equal(clamped.labels[:30], truth[:30])
    assert np.allclose(clamped.confidence[:30], 1.0)
    # ... but the truth is never a worker's answer: the crowd's answers and workers are untouched
    for kept, now in zip(before, (answers.item, answers.worker, answers.label), strict=True):
        np.testing.assert_array_equal(kept, now)
    assert answers.n_workers == 5 and len(answers.item) == 5 * answers.n_items
    np.testing.assert_allclose(soft_majority(answers)[:30].sum(axis=1), 1.0)


def test_gt_clamped_variant_is_chosen_on_an_inverted_crowd_and_clamps_all_gt() -> None:
    answers, truth = inverted_crowd(1)
    gt = {i: int(truth[i]) for i in range(40)}
    picked = select_aggregator(answers, gt)
    assert picked.method.endswith("+gt")
    assert picked.scores[picked.method] > picked.scores[MAJORITY] + 0.3
    np.testing.assert_array_equal(picked.aggregate.labels[:40], truth[:40])
    assert _accuracy(picked.aggregate.posterior, np.arange(40, answers.n_items), truth) > 0.8


@pytest.mark.parametrize("model", [one_coin, glad])
def test_one_coin_and_glad_find_the_good_workers(model) -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 300)
    triples = []
    for w, skill in enumerate([0.95, 0.9, 0.85, 0.55, 0.55, 0.55, 0.55]):
        answer = np.where(rng.random(300) < skill, truth, 1 - truth)
        triples += [(i, w, int(a)) for i, a in enumerate(answer)]
    answers = CrowdAnswers.from_triples(triples, labels=[0, 1])
    items = np.arange(300)
    assert (
        _accuracy(model(answers).posterior, items, truth)
        > _accuracy(soft_majority(answers), items, truth) + 0.05
    )


# --------------------------------------------------------------------------- cost-sensitive decisions


def test_a_cost_matrix_changes_the_decision() -> None:
    # labels: 0 = general, 1 = adult. Calling an adult item "general" costs 5, the reverse costs 1.
    cost = np.array([[0.0, 1.0], [5.0, 0.0]])
    posterior = np.array([[0.9, 0.1], [0.7, 0.3], [0.85, 0.15], [0.2, 0.8]])
    np.testing.assert_array_equal(posterior.argmax(axis=1), [0, 0, 0, 1])
    np.testing.assert_array_equal(min_expected_cost(posterior, cost), [0, 1, 0, 1])
    np.testing.assert_allclose(expected_costs(posterior, cost)[1], [1.5, 0.7])
    np.testing.assert_array_equal(min_expected_cost(posterior, 1 - np.eye(2)), posterior.argmax(axis=1))


def test_cost_ties_go_to_the_more_likely_label_and_bad_matrices_are_refused() -> None:
    posterior = np.array([[0.4, 0.6]])
    assert min_expected_cost(posterior, np.zeros((2, 2)))[0] == 1
    with pytest.raises(ValueError, match="2x2"):
        validate_cost_matrix(np.zeros((3, 3)), 2)
    with pytest.raises(ValueError, match=">= 0"):
        validate_cost_matrix([[0, -1], [1, 0]], 2)
    with pytest.raises(ValueError, match="finite"):
        validate_cost_matrix([[0, np.inf], [1, 0]], 2)


def test_three_class_costs_pick_the_cheapest_safe_label() -> None:
    # general / teen / adult: any under-rating is expensive, over-rating is cheap
    cost = np.array([[0, 1, 2], [4, 0, 1], [10, 4, 0]], dtype=float)
    posterior = np.array([[0.5, 0.3, 0.2], [0.9, 0.08, 0.02]])
    assert min_expected_cost(posterior, cost).tolist() == [1, 0]


def test_class_prior_majority_breaks_ties_toward_the_class_the_gt_shows_most() -> None:
    # every item: one vote for 0 and one for 1; the GT says class 1 is the common one
    answers = CrowdAnswers.from_triples(
        [(i, w, label) for i in range(20) for w, label in (("a", 0), ("b", 1))], labels=[0, 1]
    )
    candidate = next(c for c in CANDIDATES if c.name == "majority_vote_class_prior")
    assert candidate.uses_gt
    tied = candidate.fit(answers, {0: 1, 1: 1, 2: 1, 3: 0})
    assert (tied.labels[4:] == 1).all() and np.allclose(tied.posterior[4:, 1], 0.5, atol=1e-5)
    # a real majority is never overruled by the prior
    lopsided = CrowdAnswers.from_triples([(0, "a", 0), (0, "b", 0), (0, "c", 1)], labels=[0, 1])
    assert candidate.fit(lopsided, {}).labels[0] == 0
