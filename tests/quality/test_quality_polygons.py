"""Polygons as data, scored and merged by their masks (pure functions, no database)."""

from __future__ import annotations

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import shapely
from shapely.geometry import Polygon

from marketplace.geometry import polygons as geo
from marketplace.quality.polygons import (
    PolygonSet,
    WorkerPolygons,
    boundary_iou,
    merge_polygons,
    score_polygons,
)
from marketplace.quality.scoring import ConflictKind, accuracy_formula

H, W = 120, 160
SQUARE = [10.0, 10.0, 60.0, 10.0, 60.0, 60.0, 10.0, 60.0]
HOLE = [25.0, 25.0, 45.0, 25.0, 45.0, 45.0, 25.0, 45.0]
TRIANGLE = [100.0, 20.0, 150.0, 20.0, 125.0, 90.0]


def _mask(rings: list[list[float]]) -> np.ndarray:
    """Even-odd fill computed independently: each ring rasterised alone, XOR-ed in numpy."""
    out = np.zeros((H, W), dtype=np.uint8)
    for rle in mask_utils.frPyObjects(rings, H, W):
        out ^= mask_utils.decode(rle)
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


# -- checking and repairing -----------------------------------------------------------------------


def test_valid_rings_are_kept_exactly_as_drawn_and_a_ring_inside_is_a_hole() -> None:
    rings = geo.check_rings([SQUARE, HOLE, TRIANGLE], W, H)
    assert rings == [SQUARE, HOLE, TRIANGLE]
    mask = geo.decode(geo.to_rle(rings, H, W))
    assert mask[35, 35] == 0 and mask[15, 15] == 1 and mask[40, 125] == 1
    assert int(mask.sum()) == int(_mask(rings).sum()) == 2500 - 400 + int(_mask([TRIANGLE]).sum())


def test_a_bow_tie_is_repaired_into_its_two_triangles() -> None:
    bow_tie = [10.0, 10.0, 50.0, 50.0, 50.0, 10.0, 10.0, 50.0]
    rings = geo.check_rings([bow_tie], W, H)
    assert len(rings) == 2
    repaired = shapely.union_all([Polygon(np.asarray(r).reshape(-1, 2)) for r in rings])
    assert repaired.is_valid and repaired.area == pytest.approx(800.0)


def test_crossing_rings_are_repaired_to_the_even_odd_shape() -> None:
    other = [40.0, 40.0, 90.0, 40.0, 90.0, 90.0, 40.0, 90.0]  # overlaps SQUARE's corner
    rings = geo.check_rings([SQUARE, other], W, H)
    expected = Polygon(np.reshape(SQUARE, (-1, 2))).symmetric_difference(Polygon(np.reshape(other, (-1, 2))))
    got = shapely.union_all([Polygon(np.asarray(r).reshape(-1, 2)) for r in rings])
    assert got.symmetric_difference(expected).area < 1e-6
    assert _iou(geo.decode(geo.to_rle(rings, H, W)), _mask([SQUARE, other])) > 0.97


def test_coco_parts_that_overlap_are_unioned() -> None:
    inner = [20.0, 20.0, 30.0, 20.0, 30.0, 30.0, 20.0, 30.0]
    rings = geo.check_rings([SQUARE, inner], W, H, union=True)
    assert int(geo.decode(geo.to_rle(rings, H, W)).sum()) == 2500  # no hole: COCO unions parts


@pytest.mark.parametrize(
    ("rings", "message"),
    [
        ([], "non-empty list of rings"),
        ([[1.0, 1.0, 5.0, 5.0, 1.0, 1.0]], "at least 3 distinct vertices"),
        ([[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]], "encloses no area"),
        ([[1.0, 1.0, 5.0, 1.0, 5.0]], "even length"),
        ([[1.0, 1.0, 500.0, 1.0, 5.0, 5.0]], "outside the 160x120 image"),
        ([[-3.0, 1.0, 5.0, 1.0, 5.0, 5.0]], "outside"),
        ([[1.0, 1.0, float("nan"), 1.0, 5.0, 5.0]], "finite"),
        ([[1.0, 1.0, 10**400, 1.0, 5.0, 5.0]], "too large"),
        ([[1.0, 1.0, "5", 1.0, 5.0, 5.0]], "finite"),
        ([(1.0, 1.0)], "even length|at least 3"),
        ("square", "non-empty list of rings"),
        ([SQUARE, SQUARE], "cancel each other out"),
    ],
)
def test_bad_rings_are_refused_with_a_reason(rings: list[list[float]], message: str) -> None:
    with pytest.raises(geo.GeometryError, match=message):
        geo.check_rings(rings, W, H)


def test_vertex_and_ring_caps() -> None:
    circle = shapely.Point(80, 60).buffer(50, quad_segs=300)
    ring = [float(v) for v in np.asarray(circle.exterior.coords)[:-1].ravel()]
    assert len(ring) // 2 > 1000
    with pytest.raises(geo.GeometryError, match="at most 1000 vertices"):
        geo.check_rings([ring], W, H, max_vertices=1000)
    tiny = [[x, 1.0, x + 1.0, 1.0, x + 1.0, 2.0] for x in range(geo.MAX_RINGS + 1)]
    with pytest.raises(geo.GeometryError, match="rings"):
        geo.check_rings(tiny, W, H)


def test_rle_checks_refuse_runs_that_do_not_cover_the_image() -> None:
    good = geo.as_json_rle(geo.encode(_mask([SQUARE])))
    assert geo.check_rle(good, W, H) == good
    uncompressed = {"size": [H, W], "counts": [100, 50, H * W - 150]}
    assert geo.areas([geo.to_rle(geo.check_rle(uncompressed, W, H), H, W)])[0] == 50
    with pytest.raises(geo.GeometryError, match="cover exactly"):
        geo.check_rle({"size": [H, W], "counts": [100, 50]}, W, H)
    with pytest.raises(geo.GeometryError, match="but the image is"):
        geo.check_rle(good, W + 1, H)
    with pytest.raises(geo.GeometryError, match="alphabet"):
        geo.check_rle({"size": [H, W], "counts": "\x7f\x7f"}, W, H)


def test_areas_are_right_for_more_than_255_masks_at_once() -> None:
    rng = np.random.default_rng(3)
    masks = []
    for _ in range(300):
        m = np.zeros((H, W), dtype=np.uint8)
        x, y = rng.integers(0, 100, 2)
        m[y : y + rng.integers(1, 20), x : x + rng.integers(1, 50)] = 1
        masks.append(m)
    rles = [geo.encode(m) for m in masks]
    assert geo.areas(rles).tolist() == [float(m.sum()) for m in masks]


def test_masks_trace_back_to_rings_within_the_vertex_budget() -> None:
    disc = shapely.Point(70, 60).buffer(40, quad_segs=64).difference(shapely.Point(70, 60).buffer(15))
    rings = geo.check_rings(geo.rings_of([disc]), W, H)
    mask = geo.decode(geo.to_rle(rings, H, W))
    exact = geo.mask_to_rings(mask, 10_000)
    assert _iou(geo.decode(geo.to_rle(exact, H, W)), mask) == 1.0
    assert len(exact) == 2  # the outline and the hole
    for budget in (60, 20):
        small = geo.mask_to_rings(mask, budget)
        assert sum(len(r) // 2 for r in small) <= budget
        assert _iou(geo.decode(geo.to_rle(small, H, W)), mask) > 0.9


# -- scoring --------------------------------------------------------------------------------------


def test_scoring_matches_by_mask_iou_per_label_with_the_box_formula() -> None:
    gt = PolygonSet.of([[SQUARE], [TRIANGLE]], ["cat", "dog"], H, W)
    shifted = [[v + 2.0 for v in SQUARE]]
    far = [[5.0, 100.0, 30.0, 100.0, 30.0, 115.0]]
    sub = PolygonSet.of([shifted, [TRIANGLE], far], ["cat", "cat", "dog"], H, W)
    result = score_polygons({"i": gt}, {"i": sub}, target=0.5)
    # square: matched (cat, IoU < 1); GT triangle (dog) drawn as cat: wrong label; far: extra
    kinds = sorted(c.kind for _, c in result.conflicts)
    assert kinds == sorted([ConflictKind.WRONG_LABEL, ConflictKind.EXTRA])
    assert result.matched == 1
    assert result.accuracy == pytest.approx(accuracy_formula(1, 2, 3))
    expected_iou = _iou(_mask([SQUARE]), _mask(shifted))
    wrong = next(c for _, c in result.conflicts if c.kind is ConflictKind.WRONG_LABEL)
    assert wrong.similarity == pytest.approx(1.0)  # the triangle, drawn right, labelled cat
    assert 0.5 < expected_iou < 1.0
    assert result.items[0].boundary_iou is not None and 0.0 < result.items[0].boundary_iou < 1.0


def test_identical_masks_have_boundary_iou_one_and_an_rle_gt_scores_like_its_polygon() -> None:
    rle = geo.as_json_rle(geo.to_rle([SQUARE, HOLE], H, W))
    gt = PolygonSet.of([rle], ["cat"], H, W)
    sub = PolygonSet.of([[SQUARE, HOLE]], ["cat"], H, W)
    assert boundary_iou(gt, 0, sub, 0) == 1.0
    result = score_polygons({"i": gt}, {"i": sub}, target=0.9)
    assert result.accepted and result.accuracy == 1.0 and not result.conflicts
    no_hole = PolygonSet.of([[SQUARE]], ["cat"], H, W)
    low = score_polygons({"i": gt}, {"i": no_hole}, target=0.9, low_overlap_iou=0.9)
    assert [c.kind for _, c in low.conflicts] == [ConflictKind.LOW_OVERLAP]
    assert low.conflicts[0][1].similarity == pytest.approx(2100 / 2500)


def test_an_image_left_out_of_the_submission_counts_as_empty() -> None:
    gt = PolygonSet.of([[SQUARE]], ["cat"], H, W)
    result = score_polygons({"i": gt}, {}, target=0.5)
    assert result.accuracy == 0.0 and [c.kind for _, c in result.conflicts] == [ConflictKind.MISSING]


# -- merging --------------------------------------------------------------------------------------


def _noisy(rng: np.random.Generator, ring: list[float], sd: float) -> list[float]:
    pts = np.asarray(ring).reshape(-1, 2) + rng.normal(0, sd, (len(ring) // 2, 2))
    return [float(v) for v in np.clip(pts, 0, [W, H]).ravel()]


def test_merging_votes_pixels_with_weights_and_beats_the_average_worker() -> None:
    rng = np.random.default_rng(7)
    truth = shapely.Point(70, 60).buffer(35, quad_segs=16)
    ring = [float(v) for v in np.asarray(truth.exterior.coords)[:-1].ravel()]
    truth_mask = geo.decode(geo.to_rle([ring], H, W))
    drawn = [[_noisy(rng, ring, sd)] for sd in (2.0, 4.0, 6.0)]
    workers = [
        WorkerPolygons(f"w{k}", PolygonSet.of([rings], ["cat"], H, W), weight)
        for k, (rings, weight) in enumerate(zip(drawn, (0.9, 0.7, 0.6), strict=True))
    ]
    merged = merge_polygons(workers, vertex_budget=40)
    assert len(merged) == 1 and merged[0].support == 3 and merged[0].label == "cat"
    assert sum(len(r) // 2 for r in merged[0].rings) <= 40
    assert {w for w, _ in merged[0].members} == {"w0", "w1", "w2"}
    single = [_iou(truth_mask, geo.decode(w.objects.masks[0])) for w in workers]
    ours = _iou(truth_mask, geo.decode(merged[0].mask))
    assert ours > np.mean(single)
    # the weighted vote itself: two agreeing light workers outvote one heavy one
    a = [[10.0, 10.0, 50.0, 10.0, 50.0, 50.0, 10.0, 50.0]]
    b = [[20.0, 10.0, 60.0, 10.0, 60.0, 50.0, 20.0, 50.0]]
    vote = merge_polygons(
        [
            WorkerPolygons(1, PolygonSet.of([a], ["cat"], H, W), 0.9),
            WorkerPolygons(2, PolygonSet.of([b], ["cat"], H, W), 0.5),
            WorkerPolygons(3, PolygonSet.of([b], ["cat"], H, W), 0.5),
        ]
    )
    assert _iou(geo.decode(vote[0].mask), _mask(b)) == 1.0
    assert vote[0].confidence == pytest.approx(1.0 * np.mean([_iou(_mask(a), _mask(b)), 1.0, 1.0]))


def test_merging_keeps_one_member_per_worker_and_drops_objects_below_quorum() -> None:
    left = [[10.0, 10.0, 50.0, 10.0, 50.0, 50.0, 10.0, 50.0]]
    near = [[12.0, 10.0, 52.0, 10.0, 52.0, 50.0, 12.0, 50.0]]
    w1 = WorkerPolygons("a", PolygonSet.of([left, near, [TRIANGLE]], ["cat", "cat", "dog"], H, W), 0.9)
    w2 = WorkerPolygons("b", PolygonSet.of([left], ["cat"], H, W), 0.8)
    w3 = WorkerPolygons("c", PolygonSet.of([near], ["cat"], H, W), 0.7)
    merged = merge_polygons([w1, w2, w3])
    for m in merged:  # a's two squares never share a cluster
        workers = [w for w, _ in m.members]
        assert len(workers) == len(set(workers))
    assert "dog" not in [m.label for m in merged]  # the triangle: 1 worker of 3, below the quorum
    assert sorted(len(m.members) for m in merged) == [2, 2]


def test_the_simple_stand_in_scorer_also_matches_polygons_by_mask_iou() -> None:
    from marketplace.assignments.scoring import Annotation, GtItem, SimpleScorer
    from marketplace.models import Job, JobType

    job = Job(type=JobType.polygons, iou_threshold=0.5, accuracy_target=0.5)
    gt = GtItem(W, H, (Annotation("cat", (tuple(SQUARE),)), Annotation("dog", (tuple(TRIANGLE),))))
    near = Annotation("cat", ((12.0, 10.0, 62.0, 10.0, 62.0, 60.0, 12.0, 60.0),))
    far = Annotation("dog", ((5.0, 100.0, 30.0, 100.0, 30.0, 115.0),))
    assert SimpleScorer().item_accuracy(job, gt, [near, far]) == pytest.approx(accuracy_formula(1, 2, 2))


def test_an_rle_window_is_the_decoded_mask_cut_to_it() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        mask = np.zeros((H, W), dtype=np.uint8)
        for _ in range(int(rng.integers(1, 6))):  # blobs of any size, some touching the borders
            x, y = rng.integers(-10, W), rng.integers(-10, H)
            mask[max(y, 0) : y + rng.integers(1, 80), max(x, 0) : x + rng.integers(1, 120)] = 1
        rle = geo.as_json_rle(geo.encode(mask))
        for _ in range(5):
            x0, y0 = int(rng.integers(0, W - 1)), int(rng.integers(0, H - 1))
            x1, y1 = int(rng.integers(x0 + 1, W + 1)), int(rng.integers(y0 + 1, H + 1))
            assert np.array_equal(geo.rle_window(rle, (x0, y0, x1, y1)), mask[y0:y1, x0:x1])
    uncompressed = {"size": [H, W], "counts": [7, 300, 50, H * W - 357]}
    assert np.array_equal(
        geo.rle_window(uncompressed, (0, 0, W, H)),
        geo.decode(geo.to_rle(geo.check_rle(uncompressed, W, H), H, W)),
    )
