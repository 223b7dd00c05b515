"""Regression tests on the real public data in ../shared/datasets (skipped when it is absent)."""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from marketplace.quality.aggregation import (
    CrowdAnswers,
    accuracy_against,
    dawid_skene,
    expected_accuracy,
    expected_f1,
    majority_vote,
)
from marketplace.quality.merging import WorkerBoxes, merge_boxes
from marketplace.quality.scoring import BoxSet, score_boxes


def shared_datasets() -> Path | None:
    override = os.environ.get("TILEWORK_SHARED")
    candidates = (
        [Path(override) / "datasets", Path(override)]
        if override
        else [Path(__file__).resolve().parents[2].parent / "shared" / "datasets"]
    )
    return next((c for c in candidates if (c / "vldb17_D_Product").is_dir()), None)


DATA = shared_datasets()
pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(DATA is None, reason="needs ../shared/datasets (or TILEWORK_SHARED): not found"),
]


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return [r for r in list(csv.reader(handle))[1:] if r]


def load_vldb(folder: str, strip_gold: bool = False) -> tuple[CrowdAnswers, dict[int, int]]:
    assert DATA is not None

    def question(q: str) -> str:
        return q.rsplit("_", 1)[0] if strip_gold else q  # D_Product: id1_id2_truth

    answers = CrowdAnswers.from_triples(
        (question(q), w, a) for q, w, a in _rows(DATA / folder / "answer.csv")
    )
    truth = {question(q): t for q, t in _rows(DATA / folder / "truth.csv")}  # headers vary: by position
    return answers, answers.label_indices(truth)


def test_majority_vote_reproduces_d_product() -> None:
    answers, truth = load_vldb("vldb17_D_Product", strip_gold=True)
    assert answers.n_items == 8315 and len(truth) == 8315
    counts = answers.vote_counts()
    assert round(100 * expected_accuracy(counts, truth), 2) == 89.66
    assert round(100 * expected_f1(counts, truth, positive=answers.label_ids.index("1")), 2) == 59.05
    # one seeded draw of the tie-breaks lands close to the expectation
    assert abs(accuracy_against(majority_vote(answers, rng=1), truth) - 0.8966) < 0.01


@pytest.mark.parametrize(
    ("folder", "strip", "published"), [("vldb17_D_Product", True, 93.66), ("vldb17_D_PosSent", False, 96.00)]
)
def test_dawid_skene_matches_published(folder: str, strip: bool, published: float) -> None:
    answers, truth = load_vldb(folder, strip)
    assert abs(100 * accuracy_against(dawid_skene(answers), truth) - published) <= 1.0


def test_gt_seeding_helps_on_bluebirds() -> None:
    answers, truth = load_vldb("vldb17_Duck_Bluebirds")
    items = sorted(truth)
    known = {i: truth[i] for i in items[:10]}
    rest = {i: truth[i] for i in items[10:]}
    assert accuracy_against(dawid_skene(answers, known=known), rest) >= accuracy_against(
        dawid_skene(answers), rest
    )


def _boxes(path: Path) -> dict[str, dict[str, BoxSet]]:
    raw: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    with path.open(newline="") as handle:
        for r in csv.DictReader(handle):
            boxes = raw[r["image_id"]][r["worker_id"]]
            if r["x"]:  # empty fields: the worker submitted the image with no box
                boxes.append([float(r[k]) for k in ("x", "y", "w", "h")])
    return {i: {w: BoxSet.of(b, 0) for w, b in ws.items()} for i, ws in raw.items()}


def test_merging_three_pedestrian_workers_beats_one() -> None:
    assert DATA is not None
    crowd = _boxes(DATA / "pedestrian_boxes_dev" / "crowd_boxes.csv")
    expert = {
        i: next(iter(ws.values()))
        for i, ws in _boxes(DATA / "pedestrian_boxes_dev" / "expert_boxes.csv").items()
    }
    rng = np.random.default_rng(0)
    single, merged = [], []
    for image, gt in expert.items():
        names = sorted(crowd[image])
        chosen = [names[i] for i in rng.choice(len(names), 3, replace=False)]
        single.append(
            score_boxes({0: gt}, {0: crowd[image][chosen[0]]}, target=1.0, iou_threshold=0.7).accepted
        )
        m = merge_boxes([WorkerBoxes(w, crowd[image][w]) for w in chosen])
        merged.append(
            score_boxes({0: gt}, {0: BoxSet.of(m.coords, m.labels)}, target=1.0, iou_threshold=0.7).accepted
        )
    assert len(expert) == 467
    assert np.mean(merged) > np.mean(single) + 0.05
