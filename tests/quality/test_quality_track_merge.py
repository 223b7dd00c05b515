"""Stitching a video's segments back into whole tracks, and merging several workers' tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marketplace.quality.track_merge import Segment, merge_workers, stitch, track_iou_matrix
from marketplace.quality.track_metrics import clear_mot, id_scores, sequence


def _cut(rows: np.ndarray, length: int, overlap: int, rng: np.random.Generator) -> list[Segment]:
    """Segments of ``length`` frames sharing ``overlap`` with the next, each with its ids renumbered at
    random (as independent workers would number them)."""
    first, last = int(rows[:, 0].min()), int(rows[:, 0].max())
    segments = []
    start = first
    while True:
        end = min(start + length - 1, last)
        part = rows[(rows[:, 0] >= start) & (rows[:, 0] <= end)].copy()
        ids = np.unique(part[:, 1])
        new = dict(zip(ids.tolist(), rng.permutation(len(ids)) + 100, strict=True))
        part[:, 1] = [new[i] for i in part[:, 1].tolist()]
        segments.append(Segment(start, end, part))
        if end == last:
            return segments
        start = end - overlap + 1


def _walkers(frames: int = 90) -> np.ndarray:
    """Three people: one crossing right, one left, one entering at frame 40."""
    rows = []
    for t in range(1, frames + 1):
        rows.append([t, 1, 10 + 4 * t, 100, 40, 80])
        rows.append([t, 2, 400 - 4 * t, 120, 40, 80])
        if t >= 40:
            rows.append([t, 3, 200, 10 + t, 30, 60])
    return np.asarray(rows, dtype=np.float64)


def _identity_and_mota(truth: np.ndarray, rows: np.ndarray) -> tuple[float, float]:
    seq = sequence(truth, rows)
    return id_scores(seq).idf1, clear_mot(seq).mota


def test_segments_with_random_ids_stitch_back_to_the_original_tracks() -> None:
    truth = _walkers()
    stitched = stitch(_cut(truth, 25, 4, np.random.default_rng(1)))
    assert _identity_and_mota(truth, stitched.rows) == (1.0, 1.0)
    assert len(np.unique(stitched.rows[:, 1])) == 3
    assert len(stitched.rows) == len(truth)  # shared frames are not doubled


@pytest.mark.shared
@pytest.mark.parametrize("name", ["campus", "stadtmitte"])
def test_real_pedestrian_tracks_stitch_back_with_idf1_one(shared_datasets: Path, name: str) -> None:
    truth = np.loadtxt(shared_datasets / "mot_tud" / f"{name}_gt.txt", delimiter=",")[:, :6]
    stitched = stitch(_cut(truth, 30, 5, np.random.default_rng(7)))
    assert _identity_and_mota(truth, stitched.rows) == (1.0, 1.0)


def test_a_match_with_a_close_second_is_reported_for_review() -> None:
    # two people side by side through the shared frames: the later segment's ids could go either way
    rows = np.asarray(
        [[t, i, 100 + 2 * i, 50, 40, 80] for t in range(1, 21) for i in (1, 2)], dtype=np.float64
    )
    segments = [Segment(1, 12, rows[rows[:, 0] <= 12]), Segment(9, 20, rows[rows[:, 0] >= 9])]
    doubtful = stitch(segments)
    assert doubtful.ambiguous
    # a reviewer says the later segment's track starts anew: it gets a new id, the other still links
    k, local, _ = doubtful.ambiguous[0]
    split = stitch(segments, unlinked={(k, local)})
    assert split.ids[1][local] == 3 and len(np.unique(split.rows[:, 1])) == 3
    assert [(a, b) for a, b, _ in split.ambiguous if (a, b) == (k, local)] == []
    apart = rows.copy()
    apart[apart[:, 1] == 2, 2] += 200
    clear = [Segment(1, 12, apart[apart[:, 0] <= 12]), Segment(9, 20, apart[apart[:, 0] >= 9])]
    assert stitch(clear).ambiguous == []


def _worker(truth: np.ndarray, rng: np.random.Generator, jitter: float) -> np.ndarray:
    rows = truth.copy()
    rows[:, 2:4] += rng.normal(0, jitter, size=(len(rows), 2))
    return rows


def test_three_workers_merge_into_the_tracks_they_agree_on() -> None:
    truth = _walkers()
    rng = np.random.default_rng(3)
    careful = _worker(truth, rng, 1.0)
    missed = _worker(truth[truth[:, 1] != 3], rng, 1.0)  # never saw the third person
    swapped = _worker(truth, rng, 1.0)
    later = swapped[:, 0] > 45
    swapped[later & (swapped[:, 1] < 3), 1] = 3 - swapped[later & (swapped[:, 1] < 3), 1]
    spurious = np.asarray([[t, 9, 500, 300, 20, 20] for t in range(1, 30)], dtype=np.float64)
    swapped = np.concatenate([swapped, spurious])
    merged = merge_workers([(careful, 1.0), (missed, 1.0), (swapped, 1.0)])
    idf1, mota = _identity_and_mota(truth, merged)
    assert len(np.unique(merged[:, 1])) == 3  # the spurious track, drawn by one of three, is dropped
    assert mota > 0.98 and idf1 > 0.98
    assert _identity_and_mota(truth, swapped)[0] < 0.8  # the swapping worker alone


def test_track_iou_counts_presence_and_geometry() -> None:
    a = np.asarray([[t, 1, 0, 0, 10, 10] for t in range(1, 11)], dtype=np.float64)
    half = a[:5]
    _, _, iou = track_iou_matrix(a, half)
    assert iou[0, 0] == pytest.approx(0.5)  # present on half the frames
    shifted = a.copy()
    shifted[:, 2] += 5
    assert track_iou_matrix(a, shifted)[2][0, 0] == pytest.approx(1 / 3)
