"""Tracks of a video job and the one definition of what they show between keyframes.

A *track* is an object followed through a video: an id, a label, a kind (``box`` or ``polygon``) and
*keyframes*, each a frame number, a geometry, and two flags: ``outside`` (the object is not in view
from this frame until the next keyframe) and ``occluded`` (in view but hidden behind something).
Frames between keyframes are *interpolated*:

* a box ``[xtl, ytl, xbr, ybr]`` moves linearly: ``a + (b - a) * t`` with
  ``t = (frame - a.frame) / (b.frame - a.frame)``;
* a polygon (a list of flat rings ``[x0, y0, x1, y1, ...]``, COCO's layout) is blended ring by ring:
  both rings are turned the same way round (positive shoelace area), resampled to the same number of
  points spaced equally along their perimeter (starting at their first vertex), the second one's
  start is moved to the cyclic shift that is closest to the first (least sum of squared distances,
  the smallest shift on a tie), and the points are blended linearly. Keyframes with a different
  number of rings, or a ring of no length, are not blended: the earlier one holds until the next;
* nothing is shown from an ``outside`` keyframe until the next keyframe, and the shape before an
  ``outside`` keyframe holds (it is not blended towards a shape that is not there);
* the last keyframe holds until the end of the video (``end``, exclusive), unless it is ``outside``;
  nothing is shown before the first keyframe;
* ``occluded`` is the earlier keyframe's.

The browser runs the same definition (``web/src/tracks/interpolate.js``); every sum is taken in
order (``np.cumsum``, never ``np.sum``'s pairwise order) and every formula is written the same way,
so both give the same floating-point numbers (``tests/media/test_tracks_golden.py`` checks it).

Plain computation on lists and numpy arrays: no database, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Kind = Literal["box", "polygon"]
KINDS: tuple[str, ...] = ("box", "polygon")
#: a blended ring has at least this many points (so a 4-vertex ring keeps its corners to within
#: 1/64 of its perimeter) and at most :data:`MAX_RESAMPLE`
MIN_RESAMPLE = 64
MAX_RESAMPLE = 4000
MAX_RINGS = 64
_SHIFT_CHUNK = 256


class TrackError(ValueError):
    """A track that cannot be stored, with a message saying what is wrong with it."""


@dataclass(frozen=True)
class Keyframe:
    frame: int
    #: a box ``[xtl, ytl, xbr, ybr]`` or a polygon's rings; ignored (may be empty) when ``outside``
    geometry: Any
    outside: bool = False
    occluded: bool = False
    #: format-specific values carried through imports and exports (MOT confidence and world x, y, z)
    extra: tuple[float, ...] = ()


@dataclass(frozen=True)
class Track:
    id: int
    label: str
    kind: Kind
    keyframes: tuple[Keyframe, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TrackError(f"track {self.id}: kind must be one of {', '.join(KINDS)}")
        frames = [k.frame for k in self.keyframes]
        if any(f < 0 for f in frames) or frames != sorted(set(frames)):
            raise TrackError(f"track {self.id}: keyframes must have distinct frames >= 0, in order")
        for k in self.keyframes:
            if not k.outside:
                check_geometry(self.kind, k.geometry, f"track {self.id}, frame {k.frame}")


def _finite_numbers(values: Any, where: str) -> None:
    if not isinstance(values, list | tuple):
        raise TrackError(f"{where}: expected a list of numbers")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise TrackError(f"{where}: coordinates must be finite numbers")


def check_geometry(kind: str, geometry: Any, where: str) -> None:
    """Raise :class:`TrackError` unless ``geometry`` is a box ``[xtl, ytl, xbr, ybr]`` (``xtl <= xbr``,
    ``ytl <= ybr``) or a polygon of 1 to :data:`MAX_RINGS` flat rings of 3 or more vertices."""
    if kind == "box":
        _finite_numbers(geometry, where)
        if len(geometry) != 4 or geometry[0] > geometry[2] or geometry[1] > geometry[3]:
            raise TrackError(f"{where}: a box is [xtl, ytl, xbr, ybr] with xtl <= xbr and ytl <= ybr")
        return
    if not isinstance(geometry, list | tuple) or not 1 <= len(geometry) <= MAX_RINGS:
        raise TrackError(f"{where}: a polygon is a list of 1 to {MAX_RINGS} rings")
    vertices = 0
    for ring in geometry:
        _finite_numbers(ring, where)
        if len(ring) % 2 or len(ring) < 6:
            raise TrackError(f"{where}: a ring is a flat list [x0, y0, x1, y1, ...] of 3 or more vertices")
        vertices += len(ring) // 2
    if vertices > MAX_RESAMPLE:
        raise TrackError(f"{where}: more than {MAX_RESAMPLE} vertices")


@dataclass(frozen=True)
class Shape:
    """What a track shows on one frame."""

    frame: int
    geometry: Any
    occluded: bool
    keyframe: bool
    extra: tuple[float, ...] = ()


# -- JSON (the layout the browser and the golden test use) ----------------------------------------


def track_from_json(data: dict[str, Any]) -> Track:
    keyframes = tuple(
        Keyframe(
            int(k["frame"]),
            k.get("geometry"),
            bool(k.get("outside", False)),
            bool(k.get("occluded", False)),
        )
        for k in sorted(data["keyframes"], key=lambda k: int(k["frame"]))
    )
    return Track(int(data["id"]), str(data["label"]), data["type"], keyframes)


def track_to_json(track: Track) -> dict[str, Any]:
    return {
        "id": track.id,
        "label": track.label,
        "type": track.kind,
        "keyframes": [
            {"frame": k.frame, "geometry": k.geometry, "outside": k.outside, "occluded": k.occluded}
            for k in track.keyframes
        ],
    }


def shape_to_json(shape: Shape) -> dict[str, Any]:
    return {
        "frame": shape.frame,
        "geometry": shape.geometry,
        "occluded": shape.occluded,
        "keyframe": shape.keyframe,
    }


# -- interpolation --------------------------------------------------------------------------------


def interpolate(track: Track, end: int) -> list[Shape]:
    """The track's shape on every frame it is in view, from its first keyframe to ``end`` (exclusive)."""
    return list(iter_shapes(track, end))


def iter_shapes(track: Track, end: int) -> Iterator[Shape]:
    keys = track.keyframes
    for i, a in enumerate(keys):
        b = keys[i + 1] if i + 1 < len(keys) else None
        stop = min(b.frame, end) if b is not None else end
        if a.outside:
            continue
        blend = _blender(track.kind, a, b) if b is not None and not b.outside else None
        for frame in range(a.frame, stop):
            if frame == a.frame or blend is None or b is None:
                geometry = _copy(a.geometry)
            else:
                geometry = blend((frame - a.frame) / (b.frame - a.frame))
            yield Shape(frame, geometry, a.occluded, frame == a.frame, a.extra)


def shape_at(track: Track, frame: int, end: int) -> Shape | None:
    """The track's shape on one frame (None when it is not in view there)."""
    if frame < 0 or frame >= end:
        return None
    keys = track.keyframes
    index = None
    for i, k in enumerate(keys):
        if k.frame <= frame:
            index = i
    if index is None or keys[index].outside:
        return None
    a = keys[index]
    b = keys[index + 1] if index + 1 < len(keys) else None
    if frame == a.frame or b is None or b.outside:
        return Shape(frame, _copy(a.geometry), a.occluded, frame == a.frame, a.extra)
    blend = _blender(track.kind, a, b)
    geometry = _copy(a.geometry) if blend is None else blend((frame - a.frame) / (b.frame - a.frame))
    return Shape(frame, geometry, a.occluded, False, a.extra)


def _copy(geometry: Any) -> Any:
    if geometry and isinstance(geometry[0], list | tuple):
        return [[float(v) for v in ring] for ring in geometry]
    return [float(v) for v in geometry]


def _blender(kind: str, a: Keyframe, b: Keyframe) -> Any:
    if kind == "box":
        start = np.asarray(a.geometry, dtype=np.float64)
        delta = np.asarray(b.geometry, dtype=np.float64) - start
        return lambda t: (start + delta * t).tolist()
    pairs = polygon_pairs(a.geometry, b.geometry)
    if pairs is None:
        return None
    return lambda t: [(p + (q - p) * t).reshape(-1).tolist() for p, q in pairs]


# -- polygons: arc-length resampling --------------------------------------------------------------


def polygon_pairs(
    rings_a: Sequence[Sequence[float]], rings_b: Sequence[Sequence[float]]
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Each ring of ``a`` and the ring of ``b`` at the same position as two ``(n, 2)`` arrays of
    matching points (resampled, turned and aligned), ready to blend; None when they cannot be."""
    if len(rings_a) != len(rings_b) or not rings_a:
        return None
    pairs = []
    for ring_a, ring_b in zip(rings_a, rings_b, strict=True):
        p, q = _distinct(ring_a), _distinct(ring_b)
        if len(p) < 3 or len(q) < 3:
            return None
        n = min(max(len(p), len(q), MIN_RESAMPLE), MAX_RESAMPLE)
        even_p, even_q = resample(_counter_clockwise(p), n), resample(_counter_clockwise(q), n)
        if even_p is None or even_q is None:
            return None
        pairs.append((even_p, np.roll(even_q, -best_shift(even_p, even_q), axis=0)))
    return pairs


def _distinct(ring: Sequence[float]) -> np.ndarray:
    """The ring's vertices without consecutive repeats (nor a last one repeating the first)."""
    pts = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return pts
    keep = np.ones(len(pts), dtype=bool)
    keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
    pts = pts[keep]
    while len(pts) > 1 and np.all(pts[-1] == pts[0]):
        pts = pts[:-1]
    return pts


def signed_area2(pts: np.ndarray) -> float:
    """Twice the signed (shoelace) area, summed in vertex order."""
    nxt = np.roll(pts, -1, axis=0)
    terms = pts[:, 0] * nxt[:, 1] - nxt[:, 0] * pts[:, 1]
    return float(np.cumsum(terms)[-1])


def _counter_clockwise(pts: np.ndarray) -> np.ndarray:
    return pts[::-1].copy() if signed_area2(pts) < 0 else pts


def resample(pts: np.ndarray, n: int) -> np.ndarray | None:
    """``n`` points spaced equally along the closed ring ``pts``, the first at its first vertex
    (None for a ring of no length)."""
    closed = np.vstack([pts, pts[:1]])
    d = closed[1:] - closed[:-1]
    seg = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    if not total > 0:
        return None
    s = total * np.arange(n, dtype=np.float64) / n
    j = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(pts) - 1)
    u = (s - cum[j]) / seg[j]
    return closed[j] + (closed[j + 1] - closed[j]) * u[:, None]


def best_shift(p: np.ndarray, q: np.ndarray) -> int:
    """The cyclic shift ``k`` of ``q`` (``q[k]`` first) closest to ``p``: least sum of squared
    distances, summed in point order; the smallest ``k`` on a tie."""
    n = len(p)
    best, best_cost = 0, np.inf
    for start in range(0, n, _SHIFT_CHUNK):
        shifts = np.arange(start, min(start + _SHIFT_CHUNK, n))
        idx = (np.arange(n)[None, :] + shifts[:, None]) % n
        dx = p[None, :, 0] - q[idx, 0]
        dy = p[None, :, 1] - q[idx, 1]
        costs = np.cumsum(dx * dx + dy * dy, axis=1)[:, -1]
        k = int(np.argmin(costs))  # the first of equal minima
        if costs[k] < best_cost:
            best, best_cost = int(shifts[k]), float(costs[k])
    return best


def xywh(kind: str, geometry: Any) -> list[float]:
    """``[x, y, w, h]`` of a box or of a polygon's rings."""
    if kind == "box":
        xtl, ytl, xbr, ybr = (float(v) for v in geometry)
        return [xtl, ytl, xbr - xtl, ybr - ytl]
    pts = np.concatenate([np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in geometry])
    low, high = pts.min(axis=0), pts.max(axis=0)
    return [float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])]
