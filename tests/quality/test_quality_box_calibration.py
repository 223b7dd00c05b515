"""GT-calibrated box merging: worker bias and scale, reliability weights, lone boxes, uncertainty."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import numpy as np
import pytest

from benchmarks._datasets import load_pedestrians
from marketplace.quality.box_calibration import (
    BoxCalibration,
    learn_box_calibration,
    merge_boxes_calibrated,
    needs_another_worker,
)
from marketplace.quality.merging import WorkerBoxes, merge_boxes
from marketplace.quality.scoring import BoxSet, iou_matrix

Crowd = dict[Hashable, dict[Hashable, BoxSet]]


def synthetic_job(seed: int, n_images: int) -> tuple[Crowd, dict[Hashable, BoxSet]]:
    """Pedestrian-like images; workers with a known style.

    * ``wide``: draws 8 px too far left and right (a bias that grows no noise);
    * ``tall``: 6 px too high, and 1.2x as tall as the object;
    * ``sloppy``: unbiased, 6 px of noise per corner; ``neat``: unbiased, 1 px of noise;
    * ``finder``: also draws the small far-away object the others miss (the GT has it);
    * ``dreamer``: adds a box where there is nothing.
    """
    rng = np.random.default_rng(seed)
    crowd: Crowd = {}
    truth: dict[Hashable, BoxSet] = {}
    for image in range(n_images):
        n = int(rng.integers(1, 4))
        heights = rng.uniform(60, 200, n)
        objects = np.c_[rng.uniform(0, 1000, n), rng.uniform(0, 500, n), 0.4 * heights, heights]
        small = np.array([[rng.uniform(0, 1000), rng.uniform(0, 500), 12.0, 30.0]])
        truth[image] = BoxSet.of(np.r_[objects, small], 0)
        answers: dict[Hashable, BoxSet] = {}
        for worker in ("wide", "tall", "sloppy", "neat", "finder", "dreamer"):
            boxes = objects.copy()
            if worker == "wide":
                boxes[:, 0] -= 8
                boxes[:, 2] += 16
            elif worker == "tall":
                boxes[:, 1] -= 6 + 0.1 * boxes[:, 3]
                boxes[:, 3] *= 1.2
            noise = {"sloppy": 6.0, "neat": 1.0}.get(worker, 2.0)
            boxes = boxes + rng.normal(0, noise, boxes.shape)
            if worker == "finder":
                boxes = np.r_[boxes, small + rng.normal(0, 1.0, (1, 4))]
            if worker == "dreamer":
                boxes = np.r_[boxes, [[rng.uniform(0, 1000), rng.uniform(0, 500), 40.0, 100.0]]]
            answers[worker] = BoxSet.of(boxes, 0)
        crowd[image] = answers
    return crowd, truth


def _strict(truth: BoxSet, coords: np.ndarray) -> bool:
    if len(truth) != len(coords):
        return False
    if not len(truth):
        return True
    iou = iou_matrix(truth.xywh, coords)
    return bool((iou.max(axis=1) >= 0.7).all())


def test_bias_and_scale_are_learned_per_worker_and_removed() -> None:
    crowd, truth = synthetic_job(0, 80)
    calibration = learn_box_calibration(crowd, truth)
    assert calibration.matched_pairs > 300 and calibration.shape is not None
    probe = BoxSet.of([[500.0, 200.0, 40.0, 100.0]], 0)
    drawn_wide = BoxSet.of([[492.0, 200.0, 56.0, 100.0]], 0)
    np.testing.assert_allclose(calibration.correct("wide", drawn_wide).xywh, probe.xywh, atol=2.0)
    drawn_tall = BoxSet.of([[500.0, 184.0, 40.0, 120.0]], 0)
    assert iou_matrix(calibration.correct("tall", drawn_tall).xywh, probe.xywh)[0, 0] > 0.9
    # precise workers weigh more than sloppy ones; an unknown worker gets the population's weight
    assert calibration.weight("neat") > 3 * calibration.weight("sloppy")
    assert calibration.weight("sloppy") < calibration.weight("nobody") < calibration.weight("neat")


def test_calibrated_three_worker_merge_beats_the_plain_merge_on_new_images() -> None:
    crowd, truth = synthetic_job(1, 60)
    calibration = learn_box_calibration(crowd, truth)
    new_crowd, new_truth = synthetic_job(2, 60)
    plain = calibrated = 0
    for image, answers in new_crowd.items():
        submissions = [WorkerBoxes(w, answers[w]) for w in ("wide", "tall", "sloppy")]
        expected = BoxSet.of(new_truth[image].xywh[:-1], 0)  # nobody here draws the small object
        plain += _strict(expected, merge_boxes(submissions).coords)
        calibrated += _strict(expected, merge_boxes_calibrated(submissions, calibration).merged.coords)
    assert calibrated >= plain + 5 and calibrated >= 57


def test_a_lone_box_is_kept_from_a_reliable_worker_and_dropped_from_an_unreliable_one() -> None:
    crowd, truth = synthetic_job(3, 60)
    calibration = learn_box_calibration(crowd, truth)
    assert calibration.profile("finder").lone_reliability > 0.8
    assert calibration.profile("dreamer").lone_reliability < 0.2
    new_crowd, new_truth = synthetic_job(4, 30)
    for image, answers in new_crowd.items():
        objects = len(new_truth[image]) - 1
        finder = merge_boxes_calibrated(
            [WorkerBoxes(w, answers[w]) for w in ("neat", "sloppy", "finder")], calibration
        )
        assert len(finder.merged) == objects + 1  # the small object only the finder drew is kept
        dreamer = merge_boxes_calibrated(
            [WorkerBoxes(w, answers[w]) for w in ("neat", "sloppy", "dreamer")], calibration
        )
        assert len(dreamer.merged) == objects  # the dreamer's extra box is dropped
        assert (finder.merged.support >= 1).all()


def test_uncertainty_is_higher_for_lone_and_sloppy_boxes_and_asks_for_another_worker() -> None:
    crowd, truth = synthetic_job(5, 60)
    calibration = learn_box_calibration(crowd, truth)
    answers = synthetic_job(6, 1)[0][0]
    neat = merge_boxes_calibrated(
        [WorkerBoxes(w, answers[w]) for w in ("neat", "wide", "finder")], calibration
    )
    sloppy = merge_boxes_calibrated([WorkerBoxes(w, answers[w]) for w in ("sloppy", "tall")], calibration)
    lone = int(np.argmin(neat.merged.support))
    assert neat.merged.support[lone] == 1
    shared = [i for i in range(len(neat.merged)) if i != lone]
    assert (neat.uncertainty[lone] > neat.uncertainty[shared]).all()
    assert lone in needs_another_worker(neat)
    matched = iou_matrix(neat.merged.coords[shared], sloppy.merged.coords).argmax(axis=1)
    assert (sloppy.uncertainty[matched] > neat.uncertainty[shared]).all()


def test_too_little_gt_means_no_correction() -> None:
    crowd, truth = synthetic_job(7, 2)
    calibration = learn_box_calibration(crowd, truth, min_pairs=50)
    assert calibration.shape is None and not calibration.population.any()
    answers = crowd[0]
    submissions = [WorkerBoxes(w, answers[w]) for w in ("neat", "sloppy", "wide")]
    plain = merge_boxes(submissions, iou_threshold=0.4)
    ours = merge_boxes_calibrated(submissions, calibration).merged
    np.testing.assert_allclose(ours.coords, plain.coords)
    empty = merge_boxes_calibrated([], BoxCalibration())
    assert len(empty.merged) == 0 and len(empty.uncertainty) == 0


@pytest.mark.shared
def test_pedestrians_three_calibrated_workers_reach_the_seven_worker_level(shared_datasets: Path) -> None:
    data = load_pedestrians(shared_datasets)
    rng = np.random.default_rng(1)
    images = sorted(data.crowd)
    rng.shuffle(images)
    cut = len(images) // 4
    calibration = learn_box_calibration(
        {i: data.crowd[i] for i in images[:cut]}, {i: data.expert[i] for i in images[:cut]}
    )
    three = seven = total = 0
    for _ in range(3):
        for image in images[cut:]:
            workers = data.crowd[image]
            names = sorted(workers)
            chosen = [names[i] for i in rng.choice(len(names), size=3, replace=False)]
            merged = merge_boxes_calibrated([WorkerBoxes(w, workers[w]) for w in chosen], calibration).merged
            three += _strict(data.expert[image], merged.coords)
            seven += _strict(
                data.expert[image], merge_boxes([WorkerBoxes(w, b) for w, b in workers.items()]).coords
            )
            total += 1
    assert three / total >= 0.78 and three >= seven
