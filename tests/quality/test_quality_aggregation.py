"""Majority vote and Dawid-Skene on small synthetic crowds."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.quality.aggregation import (
    CrowdAnswers,
    accuracy_against,
    dawid_skene,
    expected_accuracy,
    expected_f1,
    majority_vote,
    worker_confusions,
)


def test_majority_vote_and_ties() -> None:
    answers = CrowdAnswers.from_triples(
        [("q1", "a", "yes"), ("q1", "b", "yes"), ("q1", "c", "no"), ("q2", "a", "yes"), ("q2", "b", "no")]
    )
    result = majority_vote(answers, rng=0)
    labels = result.label_ids(answers)
    assert labels["q1"] == "yes" and labels["q2"] in {"yes", "no"}
    assert result.confidence[0] == pytest.approx(2 / 3)
    truth = answers.label_indices({"q1": "yes", "q2": "no"})
    assert expected_accuracy(answers.vote_counts(), truth) == pytest.approx(0.75)


def test_tie_breaking_is_seeded_and_fair() -> None:
    answers = CrowdAnswers.from_triples([(i, w, w) for i in range(2000) for w in (0, 1)])
    first = majority_vote(answers, rng=7).labels
    np.testing.assert_array_equal(first, majority_vote(answers, rng=7).labels)
    assert 0.45 < first.mean() < 0.55


def test_weighted_vote() -> None:
    answers = CrowdAnswers.from_triples([(0, "expert", 1), (0, "x", 0), (0, "y", 0)])
    weights = np.array([5.0, 1.0, 1.0])
    assert majority_vote(answers, worker_weights=weights).labels[0] == 1


def test_expected_f1_without_ties() -> None:
    counts = np.array([[0, 2], [2, 0], [0, 3], [3, 0]])
    truth = {0: 1, 1: 1, 2: 0, 3: 0}  # tp 1, fn 1, fp 1
    assert expected_f1(counts, truth) == pytest.approx(0.5)


def _simulated_crowd(seed: int, n_items: int = 400):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_items)
    skills = [0.95, 0.9, 0.85] + [0.5] * 4  # three good workers, four spammers
    triples = []
    for w, skill in enumerate(skills):
        correct = rng.random(n_items) < skill
        answers = np.where(correct, truth, 1 - truth)
        triples += [(i, w, int(a)) for i, a in enumerate(answers)]
    return CrowdAnswers.from_triples(triples, labels=[0, 1]), truth


def test_dawid_skene_beats_majority_vote_with_spammers() -> None:
    answers, truth = _simulated_crowd(0)
    truth_idx = {i: int(t) for i, t in enumerate(truth)}
    mv = expected_accuracy(answers.vote_counts(), truth_idx)
    ds = dawid_skene(answers)
    assert accuracy_against(ds, truth_idx) > mv + 0.05
    assert accuracy_against(ds, truth_idx) > 0.95
    confusions = worker_confusions(answers, ds)
    assert confusions[0].diagonal().mean() > 0.9 and abs(confusions[5].diagonal().mean() - 0.5) < 0.1
    assert ((ds.confidence >= 0.5) & (ds.confidence <= 1.0)).all()


def test_dawid_skene_clamps_known_items() -> None:
    answers = CrowdAnswers.from_triples([(0, "a", 0), (0, "b", 0), (1, "a", 1), (1, "b", 1)], labels=[0, 1])
    ds = dawid_skene(answers, known={0: 1})
    assert ds.labels[0] == 1 and ds.confidence[0] == 1.0


def test_gt_seeding_flips_an_adversarial_crowd() -> None:
    # Majority of workers systematically invert the label; GT items reveal it.
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 200)
    triples = []
    for w in range(3):
        triples += [(i, w, int(1 - t)) for i, t in enumerate(truth)]  # always wrong
    triples += [(i, 3, int(t)) for i, t in enumerate(truth)]
    answers = CrowdAnswers.from_triples(triples, labels=[0, 1])
    truth_idx = {i: int(t) for i, t in enumerate(truth)}
    unseeded = accuracy_against(dawid_skene(answers), truth_idx)
    seeded = dawid_skene(answers, known={i: int(truth[i]) for i in range(20)})
    assert unseeded < 0.1 and accuracy_against(seeded, truth_idx) == 1.0
