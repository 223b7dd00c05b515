"""Tracks in and out of the formats other tools read: MOTChallenge text and CVAT for video 1.1 XML.

* **MOTChallenge** ``gt.txt``: one box per line, ``frame, id, left, top, width, height, conf, x, y, z``
  with 1-based frames. On import every row is a keyframe (frames here are 0-based: row frame - 1);
  ``conf`` and the world position ``x, y, z`` ride along on the keyframe. A frame missing inside a
  track, and the frame after its last row, become ``outside`` keyframes, so the track shows exactly
  the rows' frames. Export writes one row per frame a track is in view (interpolated frames get
  ``conf`` 1 and no world position: ``-1, -1, -1``), ordered by frame then id; numbers are written
  shortest (``121``, ``61.08``), rounded to 6 decimals, so an imported file exports to the same rows.
* **CVAT for video 1.1** (CVAT's "interpolation mode" XML): ``<annotations><version>1.1</version>
  <meta><task>…</task></meta>``, then one ``<track id label source>`` per object holding one
  ``<box frame outside occluded keyframe xtl ytl xbr ybr z_order/>`` (or ``<polygon … points="x,y;…"/>``)
  per frame it is in view, as CVAT writes them, plus an ``outside="1"`` element where it leaves the
  view. CVAT polygons have one ring: a track of several rings is written as one CVAT track per ring,
  joined by ``group_id``.
* **COCO video** (the "CocoVID" layout of MMTracking and TAO): ``videos``, ``images`` (one per frame,
  ``frame_id`` 0-based, ``video_id``), ``annotations`` (one per frame a track is in view, with
  ``instance_id`` = the track id, ``bbox`` ``[x, y, w, h]``, ``area``, polygons as ``segmentation``
  rings, ``occluded``) and ``categories``.
* **Per-frame JSON**: every frame with the objects in view on it (track id, label, geometry, flags).

Pure data in, data out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from marketplace.geometry import polygons as geo
from marketplace.geometry.tracks import Keyframe, Shape, Track, TrackError, interpolate, xywh

MOT_FIELDS = 10
MOT_NO_WORLD = (1.0, -1.0, -1.0, -1.0)


def mot_number(value: float) -> str:
    """A number as MOT files write it: integers without a point, others shortest, 6 decimals at most."""
    rounded = round(float(value), 6)
    if rounded == 0:
        return "0"
    if rounded == math.floor(rounded) and abs(rounded) < 1e15:
        return str(int(rounded))
    return repr(rounded)


def parse_mot(text: str, *, label: str = "person") -> list[Track]:
    """The tracks of a MOTChallenge ground-truth file, in id order."""
    rows: dict[int, dict[int, tuple[float, ...]]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6:
            raise TrackError(f"line {number}: a MOT row has at least 6 comma-separated fields")
        try:
            values = tuple(float(p) for p in parts)
        except ValueError as exc:
            raise TrackError(f"line {number}: not a number ({exc})") from exc
        if not all(math.isfinite(v) for v in values):
            raise TrackError(f"line {number}: numbers must be finite")
        frame, track_id = values[0], values[1]
        if frame != int(frame) or frame < 1 or track_id != int(track_id):
            raise TrackError(f"line {number}: frame (1-based) and id must be whole numbers")
        extra = tuple(values[6:MOT_FIELDS]) + MOT_NO_WORLD[len(values[6:MOT_FIELDS]) :]
        boxes = rows.setdefault(int(track_id), {})
        if int(frame) - 1 in boxes:
            raise TrackError(f"line {number}: track {int(track_id)} has two boxes on frame {int(frame)}")
        left, top, width, height = values[2:6]
        boxes[int(frame) - 1] = (left, top, left + width, top + height, *extra)
    tracks = []
    for track_id in sorted(rows):
        boxes = rows[track_id]
        keyframes: list[Keyframe] = []
        for frame in sorted(boxes):
            if keyframes and keyframes[-1].frame < frame - 1:
                keyframes.append(Keyframe(keyframes[-1].frame + 1, [], outside=True))
            values = boxes[frame]
            keyframes.append(Keyframe(frame, list(values[:4]), extra=tuple(values[4:])))
        keyframes.append(Keyframe(keyframes[-1].frame + 1, [], outside=True))
        tracks.append(Track(track_id, label, "box", tuple(keyframes)))
    return tracks


def mot_rows(tracks: Sequence[Track], end: int) -> list[str]:
    """MOTChallenge rows of box tracks over frames ``[0, end)``, by frame then id."""
    rows: list[tuple[int, int, str]] = []
    for track in tracks:
        if track.kind != "box":
            raise TrackError(f"track {track.id}: MOT holds boxes only")
        for shape in interpolate(track, end):
            xtl, ytl, xbr, ybr = shape.geometry
            extra = shape.extra if shape.keyframe and shape.extra else MOT_NO_WORLD
            fields = [shape.frame + 1, track.id, xtl, ytl, xbr - xtl, ybr - ytl, *extra]
            rows.append((shape.frame, track.id, ",".join(mot_number(v) for v in fields)))
    rows.sort(key=lambda row: (row[0], row[1]))
    return [row[2] for row in rows]


def write_mot(tracks: Sequence[Track], end: int) -> str:
    return "".join(f"{row}\n" for row in mot_rows(tracks, end))


# -- CVAT for video 1.1 ---------------------------------------------------------------------------


def _coord(value: float) -> str:
    return f"{value:.2f}"


def _sub(parent: ET.Element, tag: str, text: str | int | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def _shape_element(
    parent: ET.Element, kind: str, shape: Shape, geometry: list[float], *, outside: bool, keyframe: bool
) -> None:
    attrs = {
        "frame": str(shape.frame),
        "outside": "1" if outside else "0",
        "occluded": "1" if shape.occluded else "0",
        "keyframe": "1" if keyframe else "0",
    }
    if kind == "box":
        xtl, ytl, xbr, ybr = geometry
        attrs |= {"xtl": _coord(xtl), "ytl": _coord(ytl), "xbr": _coord(xbr), "ybr": _coord(ybr)}
        tag = "box"
    else:
        attrs["points"] = ";".join(
            f"{_coord(geometry[i])},{_coord(geometry[i + 1])}" for i in range(0, len(geometry) - 1, 2)
        )
        tag = "polygon"
    attrs["z_order"] = "0"
    ET.SubElement(parent, tag, attrs)


def _track_parts(track: Track, end: int) -> list[list[tuple[Shape, list[float], bool, bool]]]:
    """Per CVAT track (one per ring for polygons), ``(shape, geometry, outside, keyframe)`` rows."""
    shapes = interpolate(track, end)
    by_frame = {s.frame: s for s in shapes}
    rings = 1 if track.kind == "box" else max((len(s.geometry) for s in shapes), default=0)
    parts: list[list[tuple[Shape, list[float], bool, bool]]] = [[] for _ in range(rings)]
    leaving = {k.frame for k in track.keyframes if k.outside}
    for frame in sorted(set(by_frame) | {f for f in leaving if f - 1 in by_frame and f < end}):
        if frame in by_frame:
            shape, outside = by_frame[frame], False
        else:  # the object leaves the view: CVAT keeps the last shape, marked outside
            last = by_frame[frame - 1]
            shape, outside = Shape(frame, last.geometry, last.occluded, True), True
        for r in range(rings):
            if track.kind == "box":
                geometry = list(shape.geometry)
            elif r < len(shape.geometry):
                geometry = list(shape.geometry[r])
            else:
                continue
            parts[r].append((shape, geometry, outside, shape.keyframe or outside))
    return [p for p in parts if p]


def write_cvat_video(
    tracks: Sequence[Track], *, size: int, width: int, height: int, name: str = "video", task_id: int = 0
) -> str:
    """The tracks as a CVAT for video 1.1 XML document over frames ``[0, size)``."""
    root = ET.Element("annotations")
    _sub(root, "version", "1.1")
    task = _sub(_sub(root, "meta"), "task")
    _sub(task, "id", task_id)
    _sub(task, "name", name)
    _sub(task, "size", size)
    _sub(task, "mode", "interpolation")
    _sub(task, "overlap", 0)
    _sub(task, "start_frame", 0)
    _sub(task, "stop_frame", max(size - 1, 0))
    labels = _sub(task, "labels")
    for label in dict.fromkeys(t.label for t in tracks):
        element = _sub(labels, "label")
        _sub(element, "name", label)
        _sub(element, "attributes")
    original = _sub(task, "original_size")
    _sub(original, "width", width)
    _sub(original, "height", height)
    cvat_id = 0
    for track in tracks:
        parts = _track_parts(track, size)
        for rows in parts:
            attrs = {"id": str(cvat_id), "label": track.label, "source": "manual"}
            if len(parts) > 1:
                attrs["group_id"] = str(track.id)
            element = ET.SubElement(root, "track", attrs)
            for shape, geometry, outside, keyframe in rows:
                _shape_element(element, track.kind, shape, geometry, outside=outside, keyframe=keyframe)
            cvat_id += 1
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- COCO video and per-frame JSON ----------------------------------------------------------------


def coco_video(
    tracks: Sequence[Track], *, size: int, width: int, height: int, name: str = "video", video_id: int = 1
) -> dict[str, Any]:
    """The tracks over frames ``[0, size)`` as one COCO video (images ``video_id * 10**6 + frame``)."""
    labels = list(dict.fromkeys(t.label for t in tracks))
    category = {label: i + 1 for i, label in enumerate(labels)}
    base = video_id * 1_000_000
    images = [
        {
            "id": base + f,
            "video_id": video_id,
            "frame_id": f,
            "file_name": f"{name}/{f:06d}.jpg",
            "width": width,
            "height": height,
        }
        for f in range(size)
    ]
    annotations: list[dict[str, Any]] = []
    for track in tracks:
        for shape in interpolate(track, size):
            box = xywh(track.kind, shape.geometry)
            annotation: dict[str, Any] = {
                "id": 0,
                "image_id": base + shape.frame,
                "video_id": video_id,
                "category_id": category[track.label],
                "instance_id": track.id,
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
                "occluded": shape.occluded,
                "keyframe": shape.keyframe,
            }
            if track.kind == "polygon":
                annotation["segmentation"] = shape.geometry
                annotation["area"] = float(geo.areas([geo.to_rle(shape.geometry, height, width)])[0])
            annotations.append(annotation)
    annotations.sort(key=lambda a: (a["image_id"], a["instance_id"]))
    for i, annotation in enumerate(annotations, start=1):
        annotation["id"] = i
    return {
        "videos": [{"id": video_id, "name": name, "width": width, "height": height, "length": size}],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": category[label], "name": label} for label in labels],
    }


def per_frame(tracks: Sequence[Track], size: int) -> list[dict[str, Any]]:
    """``[{"frame": f, "objects": [...]}]`` for every frame of ``[0, size)``, objects by track id."""
    frames: list[dict[str, Any]] = [{"frame": f, "objects": []} for f in range(size)]
    for track in sorted(tracks, key=lambda t: t.id):
        for shape in interpolate(track, size):
            frames[shape.frame]["objects"].append(
                {
                    "track_id": track.id,
                    "label": track.label,
                    "type": track.kind,
                    "geometry": shape.geometry,
                    "occluded": shape.occluded,
                    "keyframe": shape.keyframe,
                }
            )
    return frames
