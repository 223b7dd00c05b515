"""Scoring assignments on GT: hand-computed cases and property tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.quality.batch import max_matching_edges, score_boxes_batch
from marketplace.quality.scoring import (
    BoxSet,
    ConflictKind,
    PointSet,
    accuracy_formula,
    iou_matrix,
    match_boxes,
    max_matching,
    point_tolerances,
    score_boxes,
    score_classification,
    score_points,
)


def kinds(score) -> list[str]:
    return sorted(c.kind.value for _, c in score.conflicts)


# --------------------------------------------------------------------------- IoU


def test_iou_hand_computed() -> None:
    a = [[0, 0, 10, 10]]
    b = [[5, 0, 10, 10], [0, 0, 10, 10], [20, 20, 5, 5], [0, 0, 5, 5]]
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150, 1.0, 0.0, 25 / 100]])


def test_iou_zero_size_boxes_never_overlap() -> None:
    degenerate = [[3, 3, 0, 0], [3, 3, 0, 5], [0, 0, -4, 10]]
    iou = iou_matrix(degenerate, degenerate + [[0, 0, 10, 10]])
    assert (iou == 0).all()


def test_iou_empty_shapes() -> None:
    assert iou_matrix(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    assert iou_matrix([[0, 0, 1, 1]], np.zeros((0, 4))).shape == (1, 0)


# --------------------------------------------------------------------------- boxes

GT = {"img": BoxSet.of([[0, 0, 10, 10], [20, 0, 10, 10]], [1, 1])}


def test_perfect_answer() -> None:
    score = score_boxes(GT, {"img": BoxSet.of([[20, 0, 10, 10], [0, 0, 10, 10]], [1, 1])}, target=0.9)
    assert (score.accuracy, score.matched, score.gt_count, score.submitted_count) == (1.0, 2, 2, 2)
    assert score.accepted and score.conflicts == []


def test_empty_answer_is_all_missing() -> None:
    score = score_boxes(GT, {}, target=0.5)
    assert score.accuracy == 0.0 and not score.accepted
    assert kinds(score) == ["missing", "missing"]


def test_all_extra_on_empty_gt() -> None:
    score = score_boxes({"img": BoxSet.of()}, {"img": BoxSet.of([[0, 0, 5, 5]] * 3, [1, 1, 1])}, target=0.9)
    assert (score.accuracy, score.gt_count, score.submitted_count) == (0.0, 0, 3)
    assert kinds(score) == ["extra"] * 3


def test_empty_gt_and_empty_answer_scores_one() -> None:
    score = score_boxes({"img": BoxSet.of()}, {"img": BoxSet.of()}, target=1.0)
    assert score.accuracy == 1.0 and score.accepted
    assert accuracy_formula(0, 0, 0) == 1.0


def test_one_match_one_extra_one_missing() -> None:
    sub = {"img": BoxSet.of([[1, 0, 10, 10], [50, 50, 10, 10]], [1, 1])}
    score = score_boxes(GT, sub, target=0.5, iou_threshold=0.5)
    # matched 1 / (2 + 2 - 1)
    assert score.accuracy == pytest.approx(1 / 3)
    assert kinds(score) == ["extra", "missing"]


def test_wrong_label_is_a_conflict_not_a_match() -> None:
    sub = {"img": BoxSet.of([[0, 0, 10, 10], [20, 0, 10, 10]], [1, 2])}
    score = score_boxes(GT, sub, target=0.5)
    assert score.matched == 1 and score.accuracy == pytest.approx(1 / 3)
    (conflict,) = [c for _, c in score.conflicts]
    assert conflict.kind is ConflictKind.WRONG_LABEL
    assert (conflict.gt_index, conflict.submitted_index, conflict.gt_label, conflict.submitted_label) == (
        1,
        1,
        1,
        2,
    )


def test_same_label_is_preferred_over_a_better_overlap() -> None:
    gt = BoxSet.of([[0, 0, 10, 10]], ["cat"])
    sub = BoxSet.of([[0, 0, 10, 10], [1, 1, 10, 10]], ["dog", "cat"])
    m = match_boxes(gt, sub, 0.5)
    assert m.pairs.tolist() == [[0, 1]] and m.extra.tolist() == [0] and len(m.wrong_label) == 0


def test_low_overlap_warning_counts_as_match() -> None:
    sub = {"img": BoxSet.of([[0, 0, 10, 10], [23, 0, 10, 10]], [1, 1])}  # second IoU = 70/130
    score = score_boxes(GT, sub, target=0.9, iou_threshold=0.5, low_overlap_iou=0.8)
    assert score.accuracy == 1.0 and kinds(score) == ["low_overlap"]
    strict = score_boxes(GT, sub, target=0.9, iou_threshold=0.8, low_overlap_iou=0.8)
    assert strict.matched == 1 and kinds(strict) == ["extra", "missing"]


def test_degenerate_submitted_box_is_extra() -> None:
    score = score_boxes(GT, {"img": BoxSet.of([[0, 0, 0, 0], [20, 0, 10, 10]], [1, 1])}, target=0.5)
    assert score.matched == 1 and kinds(score) == ["extra", "missing"]


def test_hungarian_resolves_competing_candidates() -> None:
    # Submitted box 0 overlaps both GT boxes; greedy would take the wrong pair and lose one match.
    gt = BoxSet.of([[0, 0, 10, 10], [3, 0, 10, 10]], [1, 1])
    sub = BoxSet.of([[1.5, 0, 10, 10], [4, 0, 10, 10]], [1, 1])
    m = match_boxes(gt, sub, 0.6)
    assert len(m.pairs) == 2


def test_only_gt_items_are_scored() -> None:
    sub = {"img": GT["img"], "not-gt": BoxSet.of([[0, 0, 1, 1]], [1])}
    assert score_boxes(GT, sub, target=1.0).submitted_count == 2


def test_counts_sum_over_items() -> None:
    gt = {"a": BoxSet.of([[0, 0, 10, 10]], [1]), "b": BoxSet.of([[0, 0, 10, 10]] * 1, [1])}
    sub = {"a": gt["a"], "b": BoxSet.of([[30, 30, 5, 5]], [1])}
    score = score_boxes(gt, sub, target=0.3)
    assert score.accuracy == pytest.approx(1 / (2 + 2 - 1)) and score.accepted
    assert [i.matched for i in score.items] == [1, 0]


# --------------------------------------------------------------------------- points


def test_point_tolerance_box_relative_and_image_fallback() -> None:
    gt = PointSet.of(
        [[0, 0], [0, 0]], [1, 1], boxes=[[0, 0, 100, 100], [0, 0, 0, 0]], image_size=(1000, 1000)
    )
    np.testing.assert_allclose(point_tolerances(gt), [10.0, 0.02 * np.hypot(1000, 1000)])


def test_point_tolerance_needs_image_size_without_box() -> None:
    with pytest.raises(ValueError):
        point_tolerances(PointSet.of([[1, 1]], [1]))


def test_points_scoring() -> None:
    gt = {"img": PointSet.of([[50, 50], [200, 200]], [1, 1], boxes=[[0, 0, 100, 100], [150, 150, 100, 100]])}
    sub = {"img": PointSet.of([[56, 58], [200, 209], [500, 500]], [1, 1, 1])}
    score = score_points(gt, sub, target=0.5)
    # (6, 8) is exactly 10 px: within tolerance but far -> low_overlap; 9 px: fine-ish; one extra.
    assert score.matched == 2 and score.accuracy == pytest.approx(2 / 3)
    assert kinds(score) == ["extra", "low_overlap", "low_overlap"]


def test_points_wrong_label_and_far_miss() -> None:
    gt = {"img": PointSet.of([[10, 10], [500, 500]], [1, 2], image_size=(1000, 1000))}
    sub = {"img": PointSet.of([[12, 10], [600, 600]], [2, 2])}
    score = score_points(gt, sub, target=0.5)
    assert score.matched == 0 and kinds(score) == ["extra", "missing", "wrong_label"]


# --------------------------------------------------------------------------- classification


def test_classification() -> None:
    gt = {i: i % 2 for i in range(10)}
    answers = dict(gt) | {0: 1, 1: None}
    score = score_classification(gt, answers, target=0.8)
    assert score.accuracy == pytest.approx(0.8) and score.accepted
    assert kinds(score) == ["missing", "wrong_label"]
    assert score_classification({}, {}, target=0.9).accuracy == 1.0


# --------------------------------------------------------------------------- properties

coord = st.floats(min_value=-50, max_value=50, allow_nan=False, width=32)
size = st.floats(min_value=0, max_value=40, allow_nan=False, width=32)
box = st.tuples(coord, coord, size, size)
boxes = st.lists(box, min_size=0, max_size=6)
labelled = st.lists(st.tuples(box, st.integers(0, 2)), min_size=0, max_size=6)


def _boxset(pairs) -> BoxSet:
    return BoxSet.of([b for b, _ in pairs], [lab for _, lab in pairs])


@settings(max_examples=200, deadline=None)
@given(boxes, boxes)
def test_iou_symmetric_and_bounded(a, b) -> None:
    a_arr = np.asarray(a, dtype=float).reshape(-1, 4)
    b_arr = np.asarray(b, dtype=float).reshape(-1, 4)
    ab = iou_matrix(a_arr, b_arr)
    np.testing.assert_array_equal(ab, iou_matrix(b_arr, a_arr).T)
    assert ((ab >= 0) & (ab <= 1 + 1e-12)).all()


@settings(max_examples=200, deadline=None)
@given(labelled, labelled, st.randoms(use_true_random=False), st.floats(0.3, 0.9))
def test_score_is_bounded_and_permutation_invariant(gt_pairs, sub_pairs, rnd, threshold) -> None:
    gt = {"i": _boxset(gt_pairs)}
    sub = {"i": _boxset(sub_pairs)}
    score = score_boxes(gt, sub, target=0.5, iou_threshold=threshold)
    assert 0.0 <= score.accuracy <= 1.0
    assert score.matched <= min(score.gt_count, score.submitted_count)
    shuffled_gt, shuffled_sub = list(gt_pairs), list(sub_pairs)
    rnd.shuffle(shuffled_gt)
    rnd.shuffle(shuffled_sub)
    again = score_boxes(
        {"i": _boxset(shuffled_gt)}, {"i": _boxset(shuffled_sub)}, target=0.5, iou_threshold=threshold
    )
    assert again.accuracy == score.accuracy
    assert sorted(kinds(again)) == sorted(kinds(score))


@settings(max_examples=100, deadline=None)
@given(labelled)
def test_submitting_the_gt_scores_one(pairs) -> None:
    gt = _boxset([(b, lab) for b, lab in pairs if b[2] > 0.5 and b[3] > 0.5])
    assert score_boxes({"i": gt}, {"i": gt}, target=1.0).accuracy == 1.0


# --------------------------------------------------------------------------- batched path == reference


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.floats(0, 1, width=32)), max_size=25),
)
def test_edge_matching_equals_matrix_matching(edges) -> None:
    unique = {(r, c): w for r, c, w in edges}
    valid = np.zeros((6, 6), dtype=bool)
    sim = np.zeros((6, 6))
    for (r, c), w in unique.items():
        valid[r, c] = True
        sim[r, c] = w
    reference = max_matching(sim, valid)
    rows = np.array([r for r, _ in unique], dtype=np.intp)
    cols = np.array([c for _, c in unique], dtype=np.intp)
    weights = np.array(list(unique.values()), dtype=float)
    chosen = max_matching_edges(rows, cols, weights, np.zeros(len(rows), np.int64), 6, 6)
    assert chosen.sum() == len(reference)
    assert weights[chosen].sum() == pytest.approx(sim[reference[:, 0], reference[:, 1]].sum())
    assert len(set(rows[chosen])) == len(set(cols[chosen])) == chosen.sum()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(labelled, labelled), min_size=1, max_size=5), st.floats(0.3, 0.9))
def test_batch_scoring_matches_per_image_scoring(images, threshold) -> None:
    gt = {i: _boxset(g) for i, (g, _) in enumerate(images)}
    sub = {i: _boxset(s) for i, (_, s) in enumerate(images)}
    reference = score_boxes(gt, sub, target=0.5, iou_threshold=threshold)

    def flat(sets: dict[int, BoxSet]):
        image = np.concatenate([np.full(len(b), i) for i, b in sets.items()]).astype(np.int64)
        return (
            image,
            np.concatenate([b.xywh for b in sets.values()]),
            np.concatenate([b.labels for b in sets.values()]),
        )

    _, counts = score_boxes_batch(*flat(gt), *flat(sub), n_images=len(images), iou_threshold=threshold)
    assert counts.matched.tolist() == [item.matched for item in reference.items]
    wrong = [sum(c.kind is ConflictKind.WRONG_LABEL for c in item.conflicts) for item in reference.items]
    assert counts.wrong_label.tolist() == wrong
    np.testing.assert_allclose(counts.accuracy, [item.accuracy for item in reference.items])
