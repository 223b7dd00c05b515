"""The pure decisions of adaptive GT and dynamic overlap (marketplace.quality.adaptive)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from marketplace.quality.adaptive import (
    GtPolicy,
    agreements,
    answer_accuracy,
    answer_posterior,
    class_prior,
    crowd_confusion,
    gt_accuracy,
    gt_slots,
    keep_probability,
    wants_another_worker,
)
from marketplace.quality.sprt import Decision, SprtConfig, SprtState, sprt_update

CONFIG = SprtConfig(p1=0.8, p0=0.6, keep_monitoring=True)
POLICY = GtPolicy(keep=0.15, trust_at=0.25)


def test_gt_keep_falls_with_the_evidence_and_rises_again_when_the_worker_fails() -> None:
    state = SprtState()
    keeps = [keep_probability(state, CONFIG, POLICY)]
    for _ in range(12):
        state = sprt_update(state, True, CONFIG)
        keeps.append(keep_probability(state, CONFIG, POLICY))
    assert keeps[0] == 1.0 and keeps[-1] == pytest.approx(0.15)
    assert all(a >= b for a, b in zip(keeps, keeps[1:], strict=False))  # never rises on a pass
    assert state.decision is Decision.PASS
    for _ in range(4):
        state = sprt_update(state, False, CONFIG)
    assert state.decision is Decision.PASS  # still passed (monitoring) ...
    assert keep_probability(state, CONFIG, POLICY) > 0.5  # ... but four failures bring the GT back
    assert keep_probability(SprtState(llr=-1.0), CONFIG, POLICY) == 1.0


def test_gt_slots_are_all_gt_for_a_new_worker_and_a_spot_check_for_a_trusted_one() -> None:
    rng = random.Random(7)
    assert [gt_slots(SprtState(), CONFIG, 2, POLICY, rng) for _ in range(50)] == [2] * 50
    trusted = SprtState(llr=CONFIG.upper, items=20, decision=Decision.PASS)
    draws = [gt_slots(trusted, CONFIG, 2, POLICY, rng) for _ in range(4000)]
    assert np.mean(draws) == pytest.approx(0.3, abs=0.03)
    assert min(draws) == 0 and max(draws) == 2  # some assignments are all work, some all checks
    assert gt_slots(trusted, CONFIG, 2, GtPolicy(keep=1.0), rng) == 2  # fixed GT
    assert gt_slots(trusted, CONFIG, 0, POLICY, rng) == 0
    with pytest.raises(ValueError):
        GtPolicy(keep=0.0)  # a trusted worker's GT share never reaches zero


def test_answer_posterior_weighs_answers_by_accuracy() -> None:
    one_good = answer_posterior([1], [0.9], 2)
    assert one_good == pytest.approx([0.1, 0.9])
    # two weak votes against one strong one: the strong worker wins
    mixed = answer_posterior([0, 0, 1], [0.6, 0.6, 0.95], 2)
    assert mixed.argmax() == 1 and mixed.sum() == pytest.approx(1.0)
    # three labels: a wrong answer spreads over the other two
    assert answer_posterior([2], [0.8], 3) == pytest.approx([0.1, 0.1, 0.8])
    # a prior that leans to "no" needs more than one weak "yes"
    prior = class_prior([0] * 8 + [1] * 2, 2)
    assert answer_posterior([1], [0.7], 2, prior).argmax() == 0
    assert answer_posterior([], [], 2, prior) == pytest.approx(prior)
    with pytest.raises(ValueError):
        answer_posterior([1, 0], [0.9], 2)


def test_crowd_confusion_learns_one_sided_errors_and_shrinks_rare_classes() -> None:
    # the crowd says "yes" (1) to a third of the "no" (0) items and is nearly always right on "yes"
    truth = [0] * 30 + [1] * 30
    given = [0] * 20 + [1] * 10 + [1] * 29 + [0]
    confusion = crowd_confusion(truth, given, 2)
    assert confusion.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert confusion[0, 1] == pytest.approx(0.33, abs=0.03) and confusion[1, 1] > 0.9
    # a class never seen on GT is the crowd's overall accuracy, wrong answers spread evenly
    unseen = crowd_confusion([0, 0, 1, 1], [0, 0, 1, 1], 3)
    assert unseen[2] == pytest.approx([1 / 12, 1 / 12, 5 / 6])
    # one GT answer does not make a class certain
    assert 0.5 < crowd_confusion([0], [1], 2)[0, 1] < 0.9


def test_answer_posterior_with_the_crowds_confusion_discounts_its_usual_mistake() -> None:
    confusion = crowd_confusion([0] * 30 + [1] * 30, [0] * 20 + [1] * 10 + [1] * 29 + [0], 2)
    # one "yes" and one "no" from equally good workers: a "yes" is the crowd's usual error, so "no"
    assert answer_posterior([0, 1], [0.8, 0.8], 2).tolist() == pytest.approx([0.5, 0.5])
    assert answer_posterior([0, 1], [0.8, 0.8], 2, confusion=confusion).argmax() == 0
    # a lone "no" is trusted more than a lone "yes"
    no = answer_posterior([0], [0.8], 2, confusion=confusion)
    yes = answer_posterior([1], [0.8], 2, confusion=confusion)
    assert no[0] > yes[1]
    # a worker better than the crowd counts for more than one worse
    strong = answer_posterior([1], [0.97], 2, confusion=confusion)[1]
    weak = answer_posterior([1], [0.6], 2, confusion=confusion)[1]
    assert strong > yes[1] > weak
    prior = class_prior([0, 1], 2)
    assert answer_posterior([], [], 2, prior, confusion) == pytest.approx(prior)


def test_dynamic_overlap_stops_at_the_threshold_or_the_cap() -> None:
    assert wants_another_worker(0.7, 1, threshold=0.85, cap=5)
    assert not wants_another_worker(0.9, 1, threshold=0.85, cap=5)
    assert not wants_another_worker(0.6, 5, threshold=0.85, cap=5)


def test_gt_accuracy_shrinks_towards_the_prior() -> None:
    assert gt_accuracy(0, 0, prior_mean=0.8) == pytest.approx(0.8)
    assert gt_accuracy(2, 2) == pytest.approx(0.75)
    assert gt_accuracy(2, 2, prior_mean=0.8, strength=4) == pytest.approx(5.2 / 6)


def test_agreements_check_each_answer_against_the_others_only_when_they_are_sure() -> None:
    # three sure "1"s settle it: the lone "0" did not match; each "1" is checked against two "1"s and a
    # "0" (2:1 at 0.95 each: 0.95 sure) and matched
    assert agreements([1, 1, 1, 0], [0.95] * 4, 2) == [True, True, True, False]
    assert agreements([1], [0.95], 2) == [None]  # nothing to check a lone answer against
    # weak workers: one answer of theirs settles nothing, so neither answer says anything
    assert agreements([1, 0], [0.6, 0.6], 2) == [None, None]
    assert agreements([1, 0], [0.95, 0.6], 2) == [None, False]  # the sure one judges the weak one only


def test_answer_accuracy_counts_agreement_as_half_a_gt_item() -> None:
    gt_only = answer_accuracy(3, 3, 0, 0, 0.8, 4.0)
    assert gt_only == pytest.approx(gt_accuracy(3, 3, 0.8, 4.0))
    assert answer_accuracy(3, 3, 10, 10, 0.8, 4.0) == pytest.approx((3 + 5 + 3.2) / (3 + 5 + 4))
    assert answer_accuracy(3, 3, 0, 10, 0.8, 4.0) < gt_only < answer_accuracy(3, 3, 10, 10, 0.8, 4.0)
