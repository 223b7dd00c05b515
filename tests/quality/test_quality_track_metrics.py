"""Identity-aware track scores: the reference figures of real tracker output on TUD-Campus and
TUD-Stadtmitte (py-motmetrics' and TrackEval's, in ../shared/datasets/mot_tud/SOURCE.txt) to four
decimals, and what a swap of identities does to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marketplace.quality.track_metrics import box_iou, clear_mot, differences, hota, id_scores, sequence

# SOURCE.txt: IDF1, IDP, IDR, MOTA, MOTP (1 - IoU), ID switches, FP, FN (py-motmetrics 1.4.0)
REFERENCE = {
    "campus": (0.557659, 0.729730, 0.451253, 0.526462, 0.277201, 7, 13, 150),
    "stadtmitte": (0.644619, 0.819760, 0.531142, 0.564014, 0.345904, 7, 45, 452),
}


def _load(root: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.loadtxt(root / "mot_tud" / f"{name}_gt.txt", delimiter=","),
        np.loadtxt(root / "mot_tud" / f"{name}_tracker.txt", delimiter=","),
    )


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_clear_mot_and_identity_scores_reproduce_the_reference(shared_datasets: Path, name: str) -> None:
    seq = sequence(*_load(shared_datasets, name))
    clear, ids = clear_mot(seq), id_scores(seq)
    idf1, idp, idr, mota, motp, switches, fp, fn = REFERENCE[name]
    got = (ids.idf1, ids.idp, ids.idr, clear.mota, clear.motp)
    assert got == pytest.approx((idf1, idp, idr, mota, motp), abs=5e-5), got
    assert (clear.switches, clear.false_positives, clear.misses) == (switches, fp, fn)


@pytest.mark.shared
def test_hota_reproduces_trackeval_on_tud_campus(shared_datasets: Path) -> None:
    h = hota(sequence(*_load(shared_datasets, "campus")))
    assert (h.hota, h.deta, h.assa) == pytest.approx((0.3914, 0.4180, 0.3691), abs=5e-5)
    assert len(h.hota_per_alpha) == 19 and h.hota_per_alpha[0] >= h.hota_per_alpha[-1]


def _two_walkers(frames: int = 60) -> np.ndarray:
    """Two people crossing: id 1 walks right, id 2 walks left, 40x80 boxes."""
    rows = []
    for t in range(1, frames + 1):
        rows.append([t, 1, 10 + 5 * t, 100, 40, 80])
        rows.append([t, 2, 320 - 5 * t, 100, 40, 80])
    return np.asarray(rows, dtype=np.float64)


def test_perfect_tracks_score_one_everywhere() -> None:
    gt = _two_walkers()
    seq = sequence(gt, gt.copy())
    assert clear_mot(seq).mota == 1.0 and clear_mot(seq).switches == 0
    assert id_scores(seq).idf1 == 1.0
    h = hota(seq)
    assert h.hota == pytest.approx(1.0) and h.deta == pytest.approx(1.0) and h.assa == pytest.approx(1.0)


def test_a_swap_of_identities_keeps_every_box_but_fails_the_identity_target() -> None:
    """Halfway through, the worker's ids 1 and 2 trade people: every box is still right (per-frame
    detection is perfect) but identity drops below the default target of 0.9."""
    gt = _two_walkers()
    worker = gt.copy()
    later = worker[:, 0] > 24
    worker[later, 1] = 3 - worker[later, 1]
    seq = sequence(gt, worker)
    clear = clear_mot(seq)
    assert clear.misses == clear.false_positives == 0  # per frame, every box matched
    assert clear.switches == 2
    assert id_scores(seq).idf1 == pytest.approx(0.6)  # 36 of 60 frames with the right identity
    assert id_scores(seq).idf1 < 0.9
    assert hota(seq).assa < 0.7 and hota(seq).deta == pytest.approx(1.0)


def test_differences_mark_the_frames_a_reviewer_should_look_at() -> None:
    gt = _two_walkers()
    renumbered = gt.copy()
    renumbered[:, 1] = np.where(renumbered[:, 1] == 1, 7, 9)
    assert differences(sequence(gt, renumbered)).as_json() == {"geometry": [], "identity": []}
    swapped = gt.copy()
    later = swapped[:, 0] > 24
    swapped[later, 1] = 3 - swapped[later, 1]
    # 36 frames pair the ids crossed, 24 straight: the 24 are where identity disagrees
    assert differences(sequence(gt, swapped)).identity == list(range(1, 25))
    edited = gt[~((gt[:, 0] == 10) & (gt[:, 1] == 1))].copy()  # a box missing on frame 10
    edited[(edited[:, 0] == 40) & (edited[:, 1] == 2), 2] += 30  # one moved off its object on 40
    edited = np.vstack([edited, [50, 5, 0, 0, 20, 20]])  # and an extra one on 50
    found = differences(sequence(gt, edited))
    assert found.geometry == [10, 40, 50] and found.identity == []


def test_box_iou_of_touching_overlapping_and_empty_boxes() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[10, 0, 10, 10], [5, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0]])
    assert box_iou(a, b)[0] == pytest.approx([0.0, 1 / 3, 1.0, 0.0])
    assert sequence(np.zeros((0, 6)), np.zeros((0, 6))).frames == []
