"""Merging boxes and points from several workers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.quality.merging import (
    WorkerBoxes,
    WorkerPoints,
    flag_low_confidence,
    merge_boxes,
    merge_boxes_batch,
    merge_points,
)
from marketplace.quality.scoring import BoxSet


def wb(worker, boxes, labels=None, weight=1.0) -> WorkerBoxes:
    labels = [1] * len(boxes) if labels is None else labels
    return WorkerBoxes(worker, BoxSet.of(boxes, labels), weight)


def test_three_workers_agree() -> None:
    merged = merge_boxes(
        [
            wb("a", [[0, 0, 10, 10], [100, 100, 20, 20]]),
            wb("b", [[1, 0, 10, 10], [101, 100, 20, 20]]),
            wb("c", [[2, 0, 10, 10]]),
        ]
    )
    assert len(merged) == 2
    order = np.argsort(merged.coords[:, 0])
    np.testing.assert_allclose(merged.coords[order[0]], [1, 0, 10, 10])
    np.testing.assert_allclose(merged.coords[order[1]], [100.5, 100, 20, 20])
    assert merged.support[order].tolist() == [3, 2]
    assert merged.confidence[order[0]] > merged.confidence[order[1]]
    assert merged.confidence[order[1]] <= 2 / 3


def test_lone_box_dropped_by_quorum() -> None:
    merged = merge_boxes([wb("a", [[0, 0, 10, 10]]), wb("b", []), wb("c", [])])
    assert len(merged) == 0
    kept = merge_boxes([wb("a", [[0, 0, 10, 10]]), wb("b", []), wb("c", [])], quorum=0.3)
    assert len(kept) == 1 and kept.confidence[0] == pytest.approx(1 / 3)


def test_one_box_per_worker_per_cluster() -> None:
    # Worker a drew the same object twice; worker b once. Two clusters: {a0, b0} and {a1}.
    merged = merge_boxes([wb("a", [[0, 0, 10, 10], [0, 0, 10, 10]]), wb("b", [[0, 0, 10, 10]])], quorum=0.0)
    assert sorted(merged.support.tolist()) == [1, 2]
    for members in merged.members:
        workers = [w for w, _ in members]
        assert len(workers) == len(set(workers))


def test_weights_pull_the_merged_box() -> None:
    merged = merge_boxes([wb("good", [[0, 0, 10, 10]], weight=0.9), wb("bad", [[2, 0, 10, 10]], weight=0.1)])
    np.testing.assert_allclose(merged.coords[0], [0.2, 0, 10, 10])
    assert merged.members[0][0] == ("good", 0)


def test_labels_cluster_separately() -> None:
    merged = merge_boxes([wb("a", [[0, 0, 10, 10]], ["cat"]), wb("b", [[0, 0, 10, 10]], ["dog"])], quorum=0.5)
    assert sorted(merged.labels.tolist()) == ["cat", "dog"]
    assert (merged.support == 1).all()


def test_empty_inputs() -> None:
    assert len(merge_boxes([])) == 0
    assert len(merge_boxes([wb("a", []), wb("b", [])])) == 0
    assert merge_boxes([wb("a", [])]).coords.shape == (0, 4)


def test_points_merge() -> None:
    merged = merge_points(
        [
            WorkerPoints("a", np.array([[10.0, 10.0], [300.0, 300.0]]), np.array([1, 1])),
            WorkerPoints("b", np.array([[12.0, 10.0]]), np.array([1])),
            WorkerPoints("c", np.array([[11.0, 13.0], [600.0, 10.0]]), np.array([1, 1])),
        ],
        tolerance_px=10.0,
    )
    assert len(merged) == 1
    np.testing.assert_allclose(merged.coords[0], [11, 11])
    assert 0 < merged.confidence[0] <= 1 and merged.support[0] == 3


def test_flag_low_confidence() -> None:
    assert flag_low_confidence([0.9, 0.3, 0.5, 0.49], 0.5).tolist() == [1, 3]


box = st.tuples(
    st.floats(0, 100, width=32),
    st.floats(0, 100, width=32),
    st.floats(1, 30, width=32),
    st.floats(1, 30, width=32),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(box, max_size=5), min_size=1, max_size=4), st.floats(0.3, 0.9))
def test_merge_invariants(per_worker, threshold) -> None:
    subs = [wb(i, boxes) for i, boxes in enumerate(per_worker)]
    merged = merge_boxes(subs, iou_threshold=threshold, quorum=0.0)
    assert len(merged) <= sum(len(b) for b in per_worker)
    assert ((merged.confidence >= 0) & (merged.confidence <= 1 + 1e-9)).all()
    assert sum(len(m) for m in merged.members) == sum(len(b) for b in per_worker)
    for members in merged.members:
        assert len({w for w, _ in members}) == len(members)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.lists(box, max_size=4), min_size=1, max_size=4), min_size=1, max_size=4))
def test_batch_merge_equals_image_by_image(images) -> None:
    rows = [(i, w, b) for i, workers in enumerate(images) for w, boxes in enumerate(workers) for b in boxes]
    image = np.array([r[0] for r in rows], dtype=np.int64)
    worker = np.array([r[1] for r in rows], dtype=np.int64)
    xywh = np.array([r[2] for r in rows], dtype=float).reshape(-1, 4)
    weight = 1.0 - 0.1 * worker
    n_workers = np.array([len(w) for w in images])
    total = np.array([sum(1.0 - 0.1 * k for k in range(len(w))) for w in images])
    batch = merge_boxes_batch(image, worker, xywh, np.zeros(len(rows), np.int64), weight, n_workers, total)
    for i, workers in enumerate(images):
        single = merge_boxes([wb(w, boxes, weight=1.0 - 0.1 * w) for w, boxes in enumerate(workers)])
        mine = batch.image == i
        np.testing.assert_allclose(batch.coords[mine], single.coords)
        np.testing.assert_allclose(batch.confidence[mine], single.confidence)
