"""Cutting videos into segments, and the naive stitch of the segments' tracks (pure, no database)."""

from __future__ import annotations

import pytest

from marketplace.geometry.tracks import Keyframe, Track, interpolate, track_to_json
from marketplace.jobs.segments import cut_segments, owned_range
from marketplace.quality.video_export import cut_track, file_stem, stitch_naive


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


def test_naive_stitch_gives_each_frame_one_segment_and_new_ids() -> None:
    segments = [(0, 16), (12, 28), (24, 40)]
    parts = [(s, e, [track_to_json(moving(7, s, e)), track_to_json(moving(9, s, e))]) for s, e in segments]
    tracks = stitch_naive(parts, 40)
    assert [t.id for t in tracks] == [1, 2, 3, 4, 5, 6]
    frames = sorted(s.frame for t in tracks[::2] for s in interpolate(t, 40))
    assert frames == list(range(40))
    by_frame = {s.frame: s.geometry for t in tracks[::2] for s in interpolate(t, 40)}
    assert by_frame[13][0] == 13.0 and by_frame[11][0] == 11.0 and by_frame[39][0] == 39.0


def test_result_file_names_are_safe() -> None:
    assert file_stem(2, "cams/front left/01.mp4") == "002_01.mp4"
    assert file_stem(1, "a b?.mp4") == "001_a_b_.mp4"
