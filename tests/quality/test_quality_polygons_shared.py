"""Real masks: SA-V masklets (COCO RLE) traced into polygons and back, and a worker's polygons scored
against them (../shared/datasets; skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marketplace.geometry import polygons as geo
from marketplace.quality.polygons import PolygonSet, score_polygons
from marketplace.quality.scoring import ConflictKind, accuracy_formula

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def masklets(shared_datasets: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (shared_datasets / "sav_masklets_000001" / "sav_000001_manual.json").read_text()
    )
    return data


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


def test_every_masklet_converts_to_polygons_and_back_with_iou_of_at_least_098(
    masklets: dict[str, Any],
) -> None:
    checked = 0
    worst = 1.0
    for frame in masklets["masklet"][::4]:
        for rle in frame:
            h, w = rle["size"]
            mask = geo.decode(geo.to_rle(rle, h, w))
            if not mask.any():  # the object is out of view in this frame
                continue
            assert geo.check_rle(rle, w, h) == rle  # a GT RLE is kept as it is
            rings = geo.check_rings(geo.rle_to_rings(rle, 1000), w, h)  # what a stored polygon must pass
            worst = min(worst, _iou(geo.decode(geo.to_rle(rings, h, w)), mask))
            checked += 1
    assert checked >= 100
    assert worst >= 0.98


def test_a_workers_polygons_are_scored_against_the_real_masks(masklets: dict[str, Any]) -> None:
    frame = next(
        f for f in masklets["masklet"] if all(geo.areas([geo.to_rle(r, *r["size"])])[0] > 0 for r in f)
    )
    h, w = frame[0]["size"]
    labels = [f"object {k}" for k in range(len(frame))]
    gt = PolygonSet.of(frame, labels, h, w)
    drawn = [geo.rle_to_rings(rle, 60) for rle in frame]  # a careful worker: 60 vertices an object
    result = score_polygons({"f": gt}, {"f": PolygonSet.of(drawn, labels, h, w)}, target=0.9)
    assert result.accepted and result.accuracy == 1.0
    for k, rings in enumerate(drawn):  # the scorer's IoU is the pixels' IoU
        assert _iou(geo.decode(geo.to_rle(rings, h, w)), geo.decode(gt.masks[k])) >= 0.9
    # drop object 0, swap the labels of objects 1 and 2
    n = len(frame)
    sloppy_labels = [labels[2], labels[1], *labels[3:]]
    sloppy = score_polygons(
        {"f": gt}, {"f": PolygonSet.of(drawn[1:], sloppy_labels, h, w)}, target=0.9, low_overlap_iou=0.5
    )
    kinds = sorted(c.kind.value for _, c in sloppy.conflicts)
    assert kinds == sorted(
        [ConflictKind.MISSING.value, ConflictKind.WRONG_LABEL.value, ConflictKind.WRONG_LABEL.value]
    )
    assert sloppy.accuracy == pytest.approx(accuracy_formula(n - 3, n, n - 1))
    assert not sloppy.accepted
