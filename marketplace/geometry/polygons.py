"""Polygon objects as data: checking and repairing rings, rasterising them, and tracing masks back.

An object of a ``polygons`` job is a list of closed rings, each a flat ``[x0, y0, x1, y1, ...]`` list
in image pixels (the last vertex joins the first; COCO's layout). The rings are filled with the
even-odd rule, so a ring inside another ring is a hole, and rings side by side are the parts of one
object, as in COCO. A mask is a COCO run-length encoding (RLE) ``{"size": [h, w], "counts": str}``;
pixel ``(row, col)`` covers ``[col, col + 1) x [row, row + 1)``, which is how pycocotools rasterises.

Ground truth may also arrive as an RLE (SA-V, COCO crowd-style masks). It is kept as the RLE, so GT
is scored on its real pixels, and traced into rings only for display.

Everything here is plain computation on lists and numpy arrays: no database, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import shapely
from shapely.geometry import LinearRing, MultiLineString, Polygon
from shapely.geometry.base import BaseGeometry

Ring = list[float]
Rle = dict[str, Any]

#: Caps per object: a hand-drawn outline needs far fewer; a traced mask is simplified to fit.
MAX_RINGS = 64
MAX_VERTICES = 4000
MIN_RING_AREA = 1e-3  # px²: a ring with less is a line or a point, not a region
EDGE_SLACK = 0.5  # px a vertex may lie past the image border (a click on the last pixel's edge)
#: pycocotools' ``area`` overflows a uint8 counter with NumPy 2 at 256 masks; stay below it.
RLE_BATCH = 255
MAX_RLE_PIXELS = 100_000_000


class GeometryError(ValueError):
    """A polygon that cannot be stored, with a message saying what is wrong with it."""


# -- checking and repairing -----------------------------------------------------------------------


def _ring_points(ring: Any, k: int) -> np.ndarray:
    try:
        return _checked_points(ring, k)
    except OverflowError as exc:  # an integer too large for a float (JSON allows any size)
        raise GeometryError(f"ring {k} holds a number too large for a coordinate") from exc


def _checked_points(ring: Any, k: int) -> np.ndarray:
    if not isinstance(ring, list | tuple) or len(ring) % 2:
        raise GeometryError(f"ring {k} must be a flat list [x0, y0, x1, y1, ...] of an even length")
    for v in ring:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
            raise GeometryError(f"ring {k} must hold finite numbers only")
    pts = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    if len(pts) > 1 and (pts[0] == pts[-1]).all():
        pts = pts[:-1]  # a closing vertex repeating the first one is implied anyway
    if len(np.unique(pts, axis=0)) < 3:
        raise GeometryError(f"ring {k} needs at least 3 distinct vertices")
    return pts


def _polygonal(geom: BaseGeometry) -> list[Polygon]:
    """The polygons of any geometry (lines and points that ``make_valid`` may leave are dropped)."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [p for part in getattr(geom, "geoms", []) for p in _polygonal(part)]


def rings_of(polygons: Sequence[Polygon]) -> list[Ring]:
    """Flat rings (exteriors and holes) of polygons; under the even-odd rule they fill the same area."""
    out: list[Ring] = []
    for poly in polygons:
        for ring in [poly.exterior, *poly.interiors]:
            out.append([float(v) for v in np.asarray(ring.coords)[:-1].ravel()])
    return out


def check_rings(
    rings: Any,
    width: float,
    height: float,
    *,
    union: bool = False,
    max_vertices: int = MAX_VERTICES,
) -> list[Ring]:
    """The object's rings, checked and if needed repaired, or :class:`GeometryError` saying why not.

    Refused: no ring, too many rings or vertices, a ring with fewer than 3 distinct vertices, a vertex
    outside the image, a ring without area. Repaired (with shapely's ``make_valid``): a ring that
    crosses itself (a bow-tie becomes its two triangles) or rings that cross or touch each other; the
    repaired object covers the same pixels the even-odd rule gives. Rings that are already simple and
    apart are returned exactly as given, so what a worker drew is what is stored.

    ``union``: the rings are COCO GT, whose parts are unioned (pycocotools ``merge``), not even-odd;
    overlapping parts are then merged into one outline.
    """
    if not isinstance(rings, list | tuple) or not rings:
        raise GeometryError("a polygon object is a non-empty list of rings")
    if len(rings) > MAX_RINGS:
        raise GeometryError(f"an object has at most {MAX_RINGS} rings; this one has {len(rings)}")
    points = [_ring_points(ring, k) for k, ring in enumerate(rings)]
    total = sum(len(p) for p in points)
    if total > max_vertices:
        raise GeometryError(f"an object has at most {max_vertices} vertices; this one has {total}")
    for k, pts in enumerate(points):
        low, high = pts.min(axis=0), pts.max(axis=0)
        if (low < -EDGE_SLACK).any() or high[0] > width + EDGE_SLACK or high[1] > height + EDGE_SLACK:
            raise GeometryError(f"ring {k} has a vertex outside the {width:g}x{height:g} image")
    shapes = []
    for k, pts in enumerate(points):
        shape = Polygon(pts)
        fixed = shape if shape.is_valid else shapely.make_valid(shape)
        if sum(p.area for p in _polygonal(fixed)) < MIN_RING_AREA:
            raise GeometryError(f"ring {k} encloses no area (its vertices lie on one line)")
        shapes.append((shape, fixed))
    simple = all(shape.is_valid for shape, _ in shapes)
    if simple and len(points) > 1:
        simple = MultiLineString([LinearRing(p) for p in points]).is_simple
        if simple and union:  # COCO parts: a part inside another is not a hole
            polys = [s for s, _ in shapes]
            simple = not any(a.intersects(b) for i, a in enumerate(polys) for b in polys[i + 1 :])
    if simple:
        return [[float(v) for v in pts.ravel()] for pts in points]
    combined: BaseGeometry = shapely.GeometryCollection()
    for _, fixed in shapes:
        combined = combined.union(fixed) if union else combined.symmetric_difference(fixed)
    parts = _polygonal(shapely.make_valid(combined))
    if not parts or sum(p.area for p in parts) < MIN_RING_AREA:
        raise GeometryError("the rings cancel each other out: the object encloses no area")
    repaired = rings_of(parts)
    if sum(len(r) // 2 for r in repaired) > max_vertices:
        raise GeometryError(f"repaired, the object would exceed {max_vertices} vertices")
    return repaired


def parts_overlap(rings: Sequence[Ring]) -> bool:
    """Whether any ring lies inside or across another (then COCO's union of polygons is not the
    even-odd shape, and the object is exported as an RLE)."""
    if len(rings) < 2:
        return False
    polys = [Polygon(np.asarray(r, dtype=np.float64).reshape(-1, 2)) for r in rings]
    return any(a.intersects(b) for i, a in enumerate(polys) for b in polys[i + 1 :])


# -- RLE ------------------------------------------------------------------------------------------


def _rle_counts(text: str) -> list[int]:
    """Decode pycocotools' compressed counts string (checked here so malformed input never reaches C)."""
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(text):
                raise GeometryError("RLE counts string ends in the middle of a number")
            c = ord(text[pos]) - 48
            if not 0 <= c < 64:
                raise GeometryError("RLE counts string holds a character outside its alphabet")
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            pos += 1
            shift += 1
            if shift > 7:
                raise GeometryError("RLE counts string holds a number too large")
            if not more and c & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def check_rle(segmentation: Any, width: int | None, height: int | None) -> Rle:
    """A COCO RLE (compressed string or uncompressed list counts) as a compressed RLE, checked: its
    size matches the image and its runs cover exactly its pixels."""
    if not isinstance(segmentation, dict) or set(segmentation) - {"size", "counts"}:
        raise GeometryError("an RLE is {'size': [height, width], 'counts': ...}")
    size = segmentation.get("size")
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 100_000 for v in size)
    ):
        raise GeometryError("an RLE's size must be [height, width], two positive integers")
    h, w = size
    if h * w > MAX_RLE_PIXELS:
        raise GeometryError(f"an RLE mask has at most {MAX_RLE_PIXELS} pixels")
    if (height, width) != (None, None) and (h, w) != (height, width):
        raise GeometryError(f"the RLE is {w}x{h} but the image is {width}x{height}")
    counts = segmentation.get("counts")
    if isinstance(counts, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
            raise GeometryError("uncompressed RLE counts must be integers")
        runs = counts
    elif isinstance(counts, str) and counts.isascii():
        runs = _rle_counts(counts)
    else:
        raise GeometryError("RLE counts must be a list of integers or a COCO compressed string")
    if any(v < 0 for v in runs) or sum(runs) != h * w:
        raise GeometryError(f"the RLE runs must be non-negative and cover exactly {h}x{w} pixels")
    rle = (
        mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
        if isinstance(counts, list)
        else {
            "size": [h, w],
            "counts": counts.encode(),
        }
    )
    if float(mask_utils.area(rle)) <= 0:
        raise GeometryError("the RLE mask is empty")
    return as_json_rle(rle)


def as_json_rle(rle: dict[str, Any]) -> Rle:
    counts = rle["counts"]
    return {
        "size": [int(v) for v in rle["size"]],
        "counts": counts.decode() if isinstance(counts, bytes) else counts,
    }


def _c_rle(rle: Rle) -> dict[str, Any]:
    counts = rle["counts"]
    return {"size": rle["size"], "counts": counts.encode() if isinstance(counts, str) else counts}


def is_rle(geometry: Any) -> bool:
    return isinstance(geometry, dict)


def to_rle(geometry: Any, height: int, width: int) -> dict[str, Any]:
    """The pycocotools RLE of an object: its stored RLE, or its rings filled even-odd."""
    if is_rle(geometry):
        return _c_rle(geometry)
    rings = [list(r) for r in geometry]
    if len(rings) == 1:
        return mask_utils.frPyObjects(rings, height, width)[0]
    if not parts_overlap(rings):
        # parts apart: even-odd is their union, as COCO readers rasterise an exported polygon list
        # (a pixel two parts both touch belongs to the object once, not zero times)
        return mask_utils.merge(mask_utils.frPyObjects(rings, height, width), intersect=False)
    x0, y0, x1, y1 = _rings_window(rings, height, width)
    mask = np.zeros((height, width), dtype=np.uint8, order="F")
    mask[y0:y1, x0:x1] = window_mask(geometry, (x0, y0, x1, y1), height, width)
    return mask_utils.encode(mask)


def _rings_window(rings: Sequence[Ring], height: int, width: int) -> tuple[int, int, int, int]:
    pts = np.concatenate([np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in rings])
    x0, y0 = (max(int(v) - 1, 0) for v in np.floor(pts.min(axis=0)))
    x1, y1 = int(np.ceil(pts[:, 0].max())) + 1, int(np.ceil(pts[:, 1].max())) + 1
    return x0, y0, min(max(x1, x0 + 1), width), min(max(y1, y0 + 1), height)


def window_mask(geometry: Any, window: tuple[int, int, int, int], height: int, width: int) -> np.ndarray:
    """The object's mask inside ``window = (x0, y0, x1, y1)`` only: rings are rasterised straight into
    the window (much cheaper than a whole-image mask); an RLE is decoded and cut."""
    x0, y0, x1, y1 = window
    if is_rle(geometry):
        return rle_window(geometry, window)
    shifted = [[float(v) - (x0 if i % 2 == 0 else y0) for i, v in enumerate(ring)] for ring in geometry]
    out = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    for rle in mask_utils.frPyObjects(shifted, y1 - y0, x1 - x0):
        out ^= mask_utils.decode(rle)
    return out


def rle_counts(counts: str | bytes) -> np.ndarray:
    """The run lengths of a compressed counts string (pycocotools' format), vectorised: each number is
    5-bit groups, low first, 0x20 meaning "more follows", 0x10 in the last group the sign; from the
    third number on, each is stored as the difference to the one two places before."""
    c = (
        np.frombuffer(counts.encode() if isinstance(counts, str) else counts, dtype=np.uint8).astype(np.int64)
        - 48
    )
    if not len(c):
        return np.zeros(0, dtype=np.int64)
    last = (c & 0x20) == 0
    number = np.concatenate([[0], np.cumsum(last)[:-1]])
    starts = np.flatnonzero(np.concatenate([[True], last[:-1]]))
    k = np.arange(len(c)) - starts[number]
    values = np.bincount(number, weights=(c & 0x1F) << (5 * k)).astype(np.int64)
    ends = np.flatnonzero(last)
    negative = (c[ends] & 0x10) != 0
    values[negative] -= np.int64(1) << (5 * (k[ends][negative] + 1))
    out = values.copy()
    out[3::2] = np.cumsum(values[1::2])[1:] if len(values) > 3 else out[3::2]
    out[4::2] = np.cumsum(values[2::2])[1:] if len(values) > 4 else out[4::2]
    return out


def rle_window(rle: Rle, window: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of a stored RLE inside ``window = (x0, y0, x1, y1)``, without decoding the rest of the
    image (column-major runs: only those crossing the window's columns are drawn)."""
    h = int(rle["size"][0])
    x0, y0, x1, y1 = window
    counts = rle["counts"]
    runs = np.asarray(counts, dtype=np.int64) if isinstance(counts, list) else rle_counts(counts)
    bounds = np.concatenate([[0], np.cumsum(runs)])
    lo, hi = x0 * h, x1 * h
    start, stop = bounds[1:-1:2], bounds[2::2]  # runs of ones: every second run, from the second
    start, stop = np.clip(start, lo, hi) - lo, np.clip(stop, lo, hi) - lo
    keep = stop > start
    size = hi - lo + 1
    edges = np.bincount(start[keep], minlength=size) - np.bincount(stop[keep], minlength=size)
    column_major = np.cumsum(edges[:-1]).astype(np.uint8).reshape(x1 - x0, h)
    return np.ascontiguousarray(column_major.T[y0:y1])


def encode(mask: np.ndarray) -> dict[str, Any]:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def areas(rles: Sequence[dict[str, Any]]) -> np.ndarray:
    """Pixel areas, in batches below 256 masks (pycocotools' counter overflows with NumPy 2 there)."""
    if not rles:
        return np.zeros(0)
    parts = [mask_utils.area(list(rles[i : i + RLE_BATCH])) for i in range(0, len(rles), RLE_BATCH)]
    return np.concatenate([np.atleast_1d(np.asarray(p, dtype=np.float64)) for p in parts])


def bboxes(rles: Sequence[dict[str, Any]]) -> np.ndarray:
    """``(n, 4)`` xywh boxes of the masks."""
    if not rles:
        return np.zeros((0, 4))
    return np.asarray(mask_utils.toBbox(list(rles)), dtype=np.float64).reshape(-1, 4)


def mask_iou(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> np.ndarray:
    """``(len(a), len(b))`` mask IoU."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    return np.asarray(mask_utils.iou(list(a), list(b), [0] * len(b)), dtype=np.float64).reshape(
        len(a), len(b)
    )


def decode(rle: dict[str, Any]) -> np.ndarray:
    return np.asarray(mask_utils.decode(rle), dtype=np.uint8)


# -- masks back to rings --------------------------------------------------------------------------


def _traced(mask: np.ndarray, offset: tuple[int, int]) -> list[Polygon]:
    """Pixel-exact outlines of a mask: OpenCV traces boundary pixel centres (outer rings and holes),
    which are then pushed out half a pixel to the pixel edges."""
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    links = hierarchy[0]
    shift = np.array([offset[0] + 0.5, offset[1] + 0.5])
    shapes: list[BaseGeometry] = []
    for i, contour in enumerate(contours):
        if links[i][3] != -1:
            continue  # a hole: taken with its outer ring below
        outer = contour[:, 0, :] + shift
        holes = []
        child = links[i][2]
        while child != -1:
            hole = contours[child][:, 0, :] + shift
            if len(hole) >= 3:
                holes.append(hole)
            child = links[child][0]
        if len(outer) < 3:  # a one-pixel-wide sliver: its pixels as squares
            shapes.append(shapely.MultiPoint(outer).buffer(0.5, cap_style="square"))
            continue
        shapes.append(
            shapely.make_valid(Polygon(outer, holes)).buffer(0.5, join_style="mitre", mitre_limit=2.0)
        )
    return _polygonal(shapely.unary_union(shapes)) if shapes else []


def _vertex_count(polygons: Sequence[Polygon]) -> int:
    return sum(len(r.coords) - 1 for p in polygons for r in [p.exterior, *p.interiors])


def _simplified(polygons: Sequence[Polygon], tolerance: float) -> list[Polygon]:
    # GEOS's topology-preserving simplifier keeps the parts and holes of one multipolygon apart
    simplified = shapely.simplify(shapely.MultiPolygon(list(polygons)), tolerance, preserve_topology=True)
    return [p for p in _polygonal(simplified) if p.area >= 1.0]


def _largest_that_fit(polygons: Sequence[Polygon], vertex_budget: int) -> list[Polygon]:
    """When no simplification fits (many parts): the largest parts, without holes if need be."""
    kept, used = [], 0
    for p in sorted(polygons, key=lambda p: -p.area):
        for candidate in (p, Polygon(p.exterior)):
            n = _vertex_count([candidate])
            if used + n <= vertex_budget:
                kept.append(candidate)
                used += n
                break
    return kept


def mask_to_rings(
    mask: np.ndarray, vertex_budget: int = 200, *, offset: tuple[int, int] = (0, 0)
) -> list[Ring]:
    """Rings (outer rings and holes) outlining a binary mask with at most ``vertex_budget`` vertices:
    the pixel-exact outline when it fits, else the least Douglas-Peucker simplification that fits
    (tolerance found by bisection; parts that shrink below a pixel are dropped). ``offset`` is the
    mask's top-left corner in the image (x, y)."""
    polygons = _traced(mask, offset)
    if _vertex_count(polygons) <= vertex_budget:
        return rings_of(polygons)
    low, high = 0.0, 0.5
    fit = _simplified(polygons, high)
    while _vertex_count(fit) > vertex_budget and high < max(mask.shape):
        low, high = high, high * 2
        fit = _simplified(polygons, high)
    if _vertex_count(fit) > vertex_budget:
        return rings_of(_largest_that_fit(fit, vertex_budget))
    for _ in range(8):
        middle = (low + high) / 2
        candidate = _simplified(polygons, middle)
        if candidate and _vertex_count(candidate) <= vertex_budget:
            high, fit = middle, candidate
        else:
            low = middle
    return rings_of(fit)


def rle_to_rings(rle: Rle, vertex_budget: int = MAX_VERTICES) -> list[Ring]:
    """An RLE traced into rings (for display and export as polygons)."""
    return mask_to_rings(decode(_c_rle(rle)), vertex_budget)
