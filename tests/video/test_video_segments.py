"""Cutting videos into segments, merging workers' tracks of a segment and stitching segments back
into whole-video tracks (pure, no database)."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.geometry.tracks import Keyframe, Track, interpolate, track_to_json
from marketplace.jobs.segments import cut_segments, owned_range
from marketplace.quality.video_export import (
    cut_track,
    file_stem,
    merge_answers,
    rows_to_track,
    stitch_segments,
)


@pytest.mark.parametrize(
    ("frames", "length", "overlap", "expected"),
    [
        (40, 16, 4, [(0, 16), (12, 28), (24, 40)]),
        (16, 16, 4, [(0, 16)]),
        (17, 16, 4, [(0, 16), (12, 17)]),
        (5, 150, 5, [(0, 5)]),
        (300, 150, 0, [(0, 150), (150, 300)]),
        (0, 150, 5, []),
    ],
)
def test_segments_cover_the_video_with_the_overlap_between_neighbours(
    frames: int, length: int, overlap: int, expected: list[tuple[int, int]]
) -> None:
    segments = cut_segments(frames, length, overlap)
    assert segments == expected
    for (_, end), (start, _) in zip(segments, segments[1:], strict=False):
        assert end - start == overlap
    owned = [owned_range(segments, i) for i in range(len(segments))]
    assert [f for s, e in owned for f in range(s, e)] == list(range(frames))  # each frame once


def test_bad_segment_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        cut_segments(100, 10, 10)


def shifted(track: Track, dy: float) -> tuple[Keyframe, ...]:
    """``track``'s keyframes moved ``dy`` pixels down."""
    return tuple(
        Keyframe(
            k.frame,
            [k.geometry[0], k.geometry[1] + dy, k.geometry[2], k.geometry[3] + dy],
            k.outside,
            k.occluded,
        )
        for k in track.keyframes
    )


def moving(track_id: int, start: int, end: int) -> Track:
    """A box moving one pixel right per frame from ``start`` to ``end - 1``."""
    return Track(
        track_id,
        "car",
        "box",
        (
            Keyframe(start, [0.0 + start, 0.0, 10.0 + start, 10.0]),
            Keyframe(end - 1, [float(end - 1), 0.0, 10.0 + end - 1, 10.0], occluded=True),
        ),
    )


def test_a_cut_track_shows_its_interpolated_boxes_on_its_frames_only() -> None:
    track = moving(3, 0, 16)
    cut = cut_track(track, 0, 12, segment_end=16, video_end=40)
    assert cut is not None
    shapes = {s.frame: s.geometry for s in interpolate(cut, 40)}
    assert sorted(shapes) == list(range(12))
    assert shapes[11] == [11.0, 0.0, 21.0, 10.0]  # the interpolated box where the cut is
    assert cut.keyframes[-1] == Keyframe(12, None, True, False)
    # starting inside the segment: the box at the start is the interpolated one
    late = cut_track(track, 4, 16, segment_end=16, video_end=16)
    assert late is not None and late.keyframes[0].geometry == [4.0, 0.0, 14.0, 10.0]
    assert not late.keyframes[-1].outside  # the video ends there: nothing to close
    # a track that shows nothing on the frames: gone
    gone = Track(1, "car", "box", (Keyframe(13, [1.0, 1.0, 2.0, 2.0]),))
    assert cut_track(gone, 0, 12, segment_end=16, video_end=40) is None


def test_stitching_keeps_one_id_per_object_through_the_segments() -> None:
    segments = [(0, 16), (12, 28), (24, 40)]
    ids = [(7, 9), (2, 1), (5, 8)]  # each segment numbers its tracks its own way
    parts = [
        (s, e, [moving(a, s, e), Track(b, "car", "box", shifted(moving(b, s, e), 40.0))])
        for (s, e), (a, b) in zip(segments, ids, strict=True)
    ]
    stitched = stitch_segments(parts, 40)
    assert [t.id for t in stitched.tracks] == [1, 2] and stitched.ambiguous == []
    for track, dy in zip(stitched.tracks, (0.0, 40.0), strict=True):
        shapes = {s.frame: s for s in interpolate(track, 40)}
        assert sorted(shapes) == list(range(40))  # every frame, once
        assert all(shape.geometry == [f, dy, 10.0 + f, 10.0 + dy] for f, shape in shapes.items())
    # a segment's own keyframes survive (flags included); the cuts add interpolated ones
    assert [k.frame for k in stitched.tracks[0].keyframes] == [0, 11, 12, 23, 24, 39]
    assert stitched.tracks[0].keyframes[-1].occluded


def test_an_object_that_does_not_line_up_over_the_shared_frames_starts_a_new_track() -> None:
    first = moving(1, 0, 16)
    elsewhere = Track(1, "car", "box", shifted(moving(1, 12, 28), 30.0))
    other_label = Track(1, "person", "box", moving(1, 12, 28).keyframes)
    stitched = stitch_segments([(0, 16, [first]), (12, 28, [elsewhere, other_label])], 28)
    assert [(t.id, t.label) for t in stitched.tracks] == [(1, "car"), (2, "car"), (3, "person")]


def test_several_workers_answers_merge_into_the_tracks_most_of_the_weight_drew() -> None:
    truth = moving(1, 0, 16)
    jitter = Track(4, "car", "box", shifted(truth, 0.5))
    ghost = Track(9, "car", "box", shifted(truth, 60.0))  # one worker's extra object
    answers = [
        ([track_to_json(truth)], 1.0),
        ([track_to_json(jitter)], 1.0),
        ([track_to_json(truth), track_to_json(ghost)], 1.0),
    ]
    merged = merge_answers(answers, 0, 16)
    assert len(merged) == 1 and merged[0].label == "car"
    shapes = {s.frame: s.geometry for s in interpolate(merged[0], 16)}
    assert sorted(shapes) == list(range(16))
    assert shapes[5] == pytest.approx([5.0, 0.5 / 3, 15.0, 10.0 + 0.5 / 3])
    # one answer is used as it is
    assert merge_answers([([track_to_json(truth)], 0.3)], 0, 16) == [truth]


def test_rows_become_a_track_with_outside_after_each_gap() -> None:
    rows = np.array([[2, 1, 0, 0, 5, 5], [3, 1, 1, 0, 5, 5], [6, 1, 2, 0, 5, 5]], dtype=float)
    track = rows_to_track(rows, 4, "car", 10)
    assert [(k.frame, k.outside) for k in track.keyframes] == [
        (2, False),
        (3, False),
        (4, True),
        (6, False),
        (7, True),
    ]
    assert track.keyframes[0].geometry == [0.0, 0.0, 5.0, 5.0]


def test_result_file_names_are_safe() -> None:
    assert file_stem(2, "cams/front left/01.mp4") == "002_01.mp4"
    assert file_stem(1, "a b?.mp4") == "001_a_b_.mp4"
