"""Tracks between keyframes (marketplace/geometry/tracks.py): boxes, polygons, outside, occluded."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon

from marketplace.geometry.tracks import (
    Keyframe,
    Track,
    TrackError,
    interpolate,
    resample,
    shape_at,
)


def box_track(*keys: Keyframe) -> Track:
    return Track(1, "car", "box", tuple(keys))


def square(x: float, y: float, side: float, *, start: int = 0, reverse: bool = False) -> list[float]:
    pts = [(x, y), (x + side, y), (x + side, y + side), (x, y + side)]
    if reverse:
        pts = pts[::-1]
    pts = pts[start:] + pts[:start]
    return [v for p in pts for v in p]


def area(ring: list[float]) -> float:
    return float(Polygon(np.asarray(ring).reshape(-1, 2)).area)


def test_boxes_move_linearly_between_keyframes_and_hold_after_the_last() -> None:
    track = box_track(Keyframe(2, [0, 0, 10, 10]), Keyframe(12, [10, 20, 30, 40]))
    shapes = {s.frame: s for s in interpolate(track, 20)}
    assert sorted(shapes) == list(range(2, 20))  # nothing before the first keyframe
    assert shapes[7].geometry == pytest.approx([5, 10, 20, 25])
    assert shapes[3].geometry == pytest.approx([1, 2, 12, 13])
    assert [f for f, s in shapes.items() if s.keyframe] == [2, 12]
    assert shapes[19].geometry == [10, 20, 30, 40]  # the last keyframe holds until the end
    assert interpolate(track, 10)[-1].frame == 9  # and never past it


def test_nothing_is_shown_while_outside_and_the_shape_before_it_holds() -> None:
    track = box_track(
        Keyframe(0, [0, 0, 10, 10]),
        Keyframe(4, [], outside=True),
        Keyframe(7, [50, 50, 60, 60], occluded=True),
        Keyframe(9, [70, 50, 80, 60]),
    )
    shapes = {s.frame: s for s in interpolate(track, 11)}
    assert sorted(shapes) == [0, 1, 2, 3, 7, 8, 9, 10]
    assert all(shapes[f].geometry == [0, 0, 10, 10] for f in (1, 2, 3))  # not blended towards nothing
    assert shapes[8].geometry == pytest.approx([60, 50, 70, 60])
    assert shapes[8].occluded and shapes[7].occluded and not shapes[9].occluded


def test_shape_at_is_interpolate_on_one_frame() -> None:
    track = Track(
        3,
        "person",
        "polygon",
        (
            Keyframe(1, [square(0, 0, 10)]),
            Keyframe(6, [square(20, 5, 14, start=2, reverse=True)]),
            Keyframe(9, [], outside=True),
            Keyframe(11, [square(3, 3, 3)]),
        ),
    )
    shapes = {s.frame: s for s in interpolate(track, 14)}
    for frame in range(-1, 15):
        one = shape_at(track, frame, 14)
        if frame not in shapes:
            assert one is None
        else:
            assert one is not None and one.geometry == shapes[frame].geometry
            assert one.keyframe == shapes[frame].keyframe


def test_a_translated_polygon_moves_without_changing_shape_whatever_its_start_and_turn() -> None:
    a, b = square(0, 0, 10), square(20, 10, 10, start=3, reverse=True)
    track = Track(1, "x", "polygon", (Keyframe(0, [a]), Keyframe(4, [b])))
    middle = shape_at(track, 2, 5)
    assert middle is not None
    ring = middle.geometry[0]
    assert area(ring) == pytest.approx(100.0, rel=1e-9)
    pts = np.asarray(ring).reshape(-1, 2)
    assert pts.min(axis=0) == pytest.approx([10, 5]) and pts.max(axis=0) == pytest.approx([20, 15])


def test_polygons_of_different_vertex_counts_blend_by_arc_length() -> None:
    triangle = [0.0, 0.0, 12.0, 0.0, 0.0, 12.0]
    track = Track(1, "x", "polygon", (Keyframe(0, [triangle]), Keyframe(2, [square(0, 0, 12)])))
    middle = shape_at(track, 1, 3)
    assert middle is not None
    assert len(middle.geometry[0]) == 2 * 64  # resampled to a common number of points
    assert 72 < area(middle.geometry[0]) < 144  # between the triangle's and the square's
    assert Polygon(np.asarray(middle.geometry[0]).reshape(-1, 2)).is_valid


def test_resampling_spaces_points_equally_along_the_perimeter() -> None:
    pts = np.asarray(square(0, 0, 4)).reshape(-1, 2)
    out = resample(pts, 8)
    assert out is not None
    assert out.tolist() == [[0, 0], [2, 0], [4, 0], [4, 2], [4, 4], [2, 4], [0, 4], [0, 2]]
    assert resample(np.zeros((3, 2)), 8) is None


def test_polygons_with_different_ring_counts_hold_the_earlier_keyframe() -> None:
    one, two = [square(0, 0, 5)], [square(0, 0, 5), square(10, 10, 5)]
    track = Track(1, "x", "polygon", (Keyframe(0, one), Keyframe(4, two)))
    assert all(s.geometry == one for s in interpolate(track, 4))


def test_keyframes_must_be_distinct_and_in_order() -> None:
    with pytest.raises(TrackError):
        box_track(Keyframe(3, [0, 0, 1, 1]), Keyframe(1, [0, 0, 1, 1]))
    with pytest.raises(TrackError):
        box_track(Keyframe(1, [0, 0, 1, 1]), Keyframe(1, [0, 0, 2, 2]))
    with pytest.raises(TrackError):
        Track(1, "x", "ellipse", ())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "geometry"),
    [
        ("box", [0, 0, 1]),
        ("box", [5, 0, 1, 1]),
        ("box", [0, 0, float("nan"), 1]),
        ("box", [0, 0, True, 1]),
        ("box", "0,0,1,1"),
        ("polygon", []),
        ("polygon", [[0, 0, 1, 1]]),
        ("polygon", [[0, 0, 1, 1, 2]]),
        ("polygon", [[0, 0, 1, 0, 1, float("inf")]]),
        ("polygon", [[0, 0, 1, 0, 1, 1]] * 65),
        ("polygon", [[float(v) for v in range(8002)]]),
    ],
)
def test_keyframe_geometry_is_checked(kind: str, geometry: object) -> None:
    with pytest.raises(TrackError):
        Track(1, "x", kind, (Keyframe(0, geometry),))  # type: ignore[arg-type]
    Track(1, "x", kind, (Keyframe(0, geometry, outside=True),))  # type: ignore[arg-type]  # not looked at
