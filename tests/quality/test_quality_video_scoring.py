"""Scoring a video segment on its hidden GT frames: per-frame detection and identity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marketplace.geometry.track_formats import parse_mot
from marketplace.geometry.tracks import Keyframe, Track
from marketplace.quality.video_scoring import boxes_on, score_segment, spread


def _mot_text(rows: np.ndarray) -> str:
    return "".join(",".join(str(int(v)) for v in row[:6]) + "\n" for row in rows)


def _swap(rows: np.ndarray, a: int, b: int, from_frame: int) -> np.ndarray:
    """``rows`` (MOT, 1-based frames) with ids ``a`` and ``b`` exchanged from ``from_frame`` on."""
    out = rows.copy()
    late = out[:, 0] >= from_frame
    out[late & (rows[:, 1] == a), 1] = b
    out[late & (rows[:, 1] == b), 1] = a
    return out


def _walker(track_id: int, x0: float, dx: float, frames: int, label: str = "person") -> Track:
    """A box walking at ``dx`` pixels a frame, keyframed every frame."""
    keys = [Keyframe(f, [x0 + dx * f, 50.0, x0 + dx * f + 30.0, 130.0]) for f in range(frames)]
    return Track(track_id, label, "box", tuple(keys))


def _with_ids(tracks: list[Track], ids: dict[int, int]) -> list[Track]:
    return [Track(ids.get(t.id, t.id), t.label, t.kind, t.keyframes) for t in tracks]


def _swapped_halfway(a: Track, b: Track, at: int) -> list[Track]:
    """Two tracks whose identities are exchanged from frame ``at`` (each box is still right)."""
    first = Track(a.id, a.label, "box", tuple(k for k in a.keyframes if k.frame < at))
    first_rest = Track(a.id, a.label, "box", tuple(k for k in b.keyframes if k.frame >= at))
    second = Track(b.id, b.label, "box", tuple(k for k in b.keyframes if k.frame < at))
    second_rest = Track(b.id, b.label, "box", tuple(k for k in a.keyframes if k.frame >= at))
    return [
        Track(a.id, a.label, "box", first.keyframes + first_rest.keyframes),
        Track(b.id, b.label, "box", second.keyframes + second_rest.keyframes),
    ]


def test_an_identity_swap_passes_every_frame_and_fails_the_identity_target() -> None:
    frames = 60
    a, b = _walker(1, 10.0, 3.0, frames), _walker(2, 300.0, 1.0, frames)  # never overlapping
    gt_frames = list(range(0, frames, 5))  # sparse GT: every fifth frame
    good = score_segment([a, b], _with_ids([a, b], {1: 8, 2: 9}), gt_frames, frames, target=0.9)
    assert good.accepted and good.idf1 == 1.0 and good.id_switches == 0
    swapped = score_segment([a, b], _swapped_halfway(a, b, 30), gt_frames, frames, target=0.9)
    assert swapped.accuracy == 1.0 and swapped.detection.accepted  # per frame: perfect
    assert swapped.idf1 == pytest.approx(0.5) and swapped.id_switches == 2
    assert not swapped.accepted
    assert swapped.details()["failed"] == ["identity"]


@pytest.mark.shared
@pytest.mark.parametrize("name", ["campus", "stadtmitte"])
def test_a_swap_on_real_pedestrian_tracks_keeps_per_frame_accuracy_and_fails_identity(
    shared_datasets: Path, name: str
) -> None:
    rows = np.loadtxt(shared_datasets / "mot_tud" / f"{name}_gt.txt", delimiter=",")
    gt = parse_mot(_mot_text(rows))
    end = int(rows[:, 0].max())
    # the two people seen longest together; their ids are exchanged half-way through their time together
    ids, counts = np.unique(rows[:, 1], return_counts=True)
    a, b = (int(i) for i in ids[np.argsort(-counts)[:2]])
    together = np.intersect1d(rows[rows[:, 1] == a, 0], rows[rows[:, 1] == b, 0])
    worker = parse_mot(_mot_text(_swap(rows, a, b, int(np.median(together)))))
    gt_frames = list(range(0, end, 3))
    score = score_segment(gt, worker, gt_frames, end, target=0.9)
    assert score.accuracy == 1.0 and score.detection.accepted
    assert score.idf1 < 0.9 and score.id_switches >= 2
    assert not score.accepted
    honest = score_segment(gt, _with_ids(gt, {t.id: t.id + 100 for t in gt}), gt_frames, end, target=0.9)
    assert honest.accepted and honest.idf1 == 1.0 and honest.hota == pytest.approx(1.0)


def test_interpolated_keyframes_are_scored_on_the_gt_frames_between_them() -> None:
    frames = 40
    truth = _walker(1, 10.0, 2.0, frames)
    # the worker keyframes frames 0 and 39 only: linear motion is exact in between
    sparse = Track(5, "person", "box", (truth.keyframes[0], truth.keyframes[-1]))
    assert score_segment([truth], [sparse], [7, 19, 33], frames, target=0.95).accepted
    # a worker who keyframed frame 0 only leaves the box behind: frames far from 0 miss
    stuck = Track(5, "person", "box", (truth.keyframes[0],))
    late = score_segment([truth], [stuck], [7, 19, 33], frames, target=0.95)
    assert late.accuracy < 0.95 and not late.accepted and "detection" in late.details()["failed"]


def test_a_wrong_label_fails_detection_and_an_empty_gt_frame_wants_no_box() -> None:
    frames = 20
    truth = _walker(1, 10.0, 1.0, frames)
    car = Track(1, "car", "box", truth.keyframes)
    assert not score_segment([truth], [car], [0, 10], frames, target=0.8).accepted
    # GT frames where nothing is in view: a worker's box there is a false positive
    late_truth = Track(1, "person", "box", (Keyframe(10, [0, 0, 10, 10]),))
    early = Track(1, "person", "box", (Keyframe(0, [0, 0, 10, 10]),))
    score = score_segment([late_truth], [early], [2, 12], frames, target=0.8)
    assert score.detection.submitted_count == 2 and score.detection.gt_count == 1
    nothing = score_segment([], [], [3, 4], frames, target=0.8)
    assert nothing.accepted and nothing.idf1 == 1.0


def test_boxes_on_gives_xywh_rows_only_where_a_track_is_in_view() -> None:
    track = Track(3, "person", "box", (Keyframe(2, [10, 20, 30, 60]), Keyframe(4, [], outside=True)))
    got = boxes_on([track], [0, 2, 3, 4], 10)
    assert got.rows.tolist() == [[2, 3, 10, 20, 20, 40], [3, 3, 10, 20, 20, 40]]
    assert got.labels == ["person", "person"]


def test_spread_keeps_the_ends_and_the_budget() -> None:
    assert spread([5, 1, 3, 3]) == [1, 3, 5]
    picked = spread(list(range(1000)), most=10)
    assert len(picked) == 10 and picked[0] == 0 and picked[-1] == 999
