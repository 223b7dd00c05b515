"""A video job's hidden GT: a few frames of some segments, annotated completely by the requester.

The job's ``gt`` is an object keyed by video name; each video with GT gives either

* ``{"tracks": [...], "frames": [...]}``: tracks in the submission's layout (``id``, ``label``,
  ``keyframes`` of ``frame``, ``geometry`` in the video's upright pixels (a box ``[xtl, ytl, xbr,
  ybr]``, or a ``video_polygons`` job's rings ``[[x0, y0, x1, y1, ...], ...]``), ``outside``,
  ``occluded``), or
* ``{"mot": "<MOTChallenge gt.txt text>", "label": "person", "frames": [...]}`` (box jobs): the rows
  of a MOT ground-truth file (1-based frames), every track with ``label`` (default: the job's first
  label).

``frames`` (0-based) are the frames where the tracks are the whole truth: every object in view there
has a box. Left out, they are every frame from the first to the last frame any track is in view (a
GT clip annotated throughout). Only those frames are ever scored; a worker's segment that holds
none of them is not scored. The frames should be spread over many segments, two or more per
segment, so identity can be checked (:mod:`marketplace.quality.video_scoring`).

Everything wrong is a 422 naming the video, the track and the keyframe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.errors import InvalidInput
from marketplace.geometry import polygons as geo
from marketplace.geometry.track_formats import parse_mot
from marketplace.geometry.tracks import Kind, Track, TrackError, shape_at, track_from_json, track_to_json

MAX_GT_FRAMES = 100_000  # per job
MAX_GT_TRACKS = 10_000  # per job


@dataclass(frozen=True)
class VideoGt:
    frames: tuple[int, ...]
    tracks: tuple[Track, ...]

    def frames_json(self) -> list[int]:
        return list(self.frames)

    def tracks_json(self) -> list[dict[str, Any]]:
        return [track_to_json(t) for t in self.tracks]


@dataclass(frozen=True)
class VideoShape:
    """What the GT of one video is checked against."""

    frame_count: int
    width: int
    height: int


def _load(raw: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw or "{}")
        except ValueError as exc:
            raise InvalidInput(f"gt is not JSON: {exc}", field="gt") from exc
    if not isinstance(raw, Mapping):
        raise InvalidInput("gt for a video job is an object keyed by video name", field="gt")
    return raw


def parse_video_gt(
    raw: bytes | str | Mapping[str, Any],
    videos: Mapping[str, VideoShape],
    labels: Sequence[str],
    kind: Kind = "box",
) -> dict[str, VideoGt]:
    """Each video's GT (videos without any left out) as tracks of ``kind``, or a 422 saying what is
    wrong where."""
    out: dict[str, VideoGt] = {}
    frames_total = tracks_total = 0
    for name, entry in _load(raw).items():
        where = f"gt[{name!r}]"
        shape = videos.get(name)
        if shape is None:
            known = ", ".join(sorted(videos)[:5])
            raise InvalidInput(f"{where}: the job has no video {name!r} (its videos: {known}...)", field="gt")
        if not isinstance(entry, Mapping):
            raise InvalidInput(f'{where}: expected {{"tracks": [...], "frames": [...]}} or {{"mot": ...}}')
        tracks = _tracks(entry, labels, where, kind)
        for track in tracks:
            _check_inside(track, shape, f"{where} track {track.id}")
        frames = _frames(entry.get("frames"), tracks, shape.frame_count, where)
        if not frames:
            continue
        frames_total += len(frames)
        tracks_total += len(tracks)
        if frames_total > MAX_GT_FRAMES or tracks_total > MAX_GT_TRACKS:
            raise InvalidInput(
                f"gt: at most {MAX_GT_FRAMES} GT frames and {MAX_GT_TRACKS} GT tracks per job", field="gt"
            )
        out[name] = VideoGt(frames, tracks)
    return out


def _tracks(entry: Mapping[str, Any], labels: Sequence[str], where: str, kind: Kind) -> tuple[Track, ...]:
    if "mot" in entry:
        if kind != "box":
            raise InvalidInput(f'{where}: MOT text holds boxes; a polygon job\'s GT is "tracks" of rings')
        label = entry.get("label", labels[0])
        if label not in labels:
            raise InvalidInput(f"{where}: label {label!r} is not one of the job's labels {list(labels)}")
        if not isinstance(entry["mot"], str):
            raise InvalidInput(f"{where}.mot: the text of a MOTChallenge gt.txt file")
        try:
            return tuple(parse_mot(entry["mot"], label=label))
        except TrackError as exc:
            raise InvalidInput(f"{where}.mot: {exc}") from exc
    raw_tracks = entry.get("tracks")
    if not isinstance(raw_tracks, list):
        raise InvalidInput(f'{where}: give "tracks" (a list) or "mot" (MOT text)')
    tracks: list[Track] = []
    seen: set[int] = set()
    for n, data in enumerate(raw_tracks):
        at = f"{where}.tracks[{n}]"
        try:
            track = track_from_json({**data, "type": kind})
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # TrackError is a ValueError
            raise InvalidInput(
                f"{at}: not a track {{id, label, keyframes: [{{frame, geometry}}]}} ({exc})"
            ) from exc
        if track.label not in labels:
            raise InvalidInput(f"{at}: label {track.label!r} is not one of the job's labels {list(labels)}")
        if track.id in seen:
            raise InvalidInput(f"{at}: track id {track.id} is used twice")
        seen.add(track.id)
        tracks.append(track)
    return tuple(tracks)


def _check_inside(track: Track, shape: VideoShape, at: str) -> None:
    for k in track.keyframes:
        if not 0 <= k.frame < shape.frame_count:
            raise InvalidInput(
                f"{at}: keyframe at frame {k.frame} is outside the video's frames 0-{shape.frame_count - 1}"
            )
        if k.outside:
            continue
        if track.kind == "polygon":
            try:
                geo.check_rings(k.geometry, shape.width, shape.height)
            except geo.GeometryError as exc:
                raise InvalidInput(f"{at}, keyframe at frame {k.frame}: {exc}") from exc
            continue
        box = k.geometry or []
        if not (0 <= box[0] <= box[2] <= shape.width and 0 <= box[1] <= box[3] <= shape.height):
            raise InvalidInput(
                f"{at}, keyframe at frame {k.frame}: the box {box[:4]} is not a box [xtl, ytl, xbr, ybr] "
                f"inside the {shape.width}x{shape.height} frame"
            )


def _frames(given: Any, tracks: Sequence[Track], frame_count: int, where: str) -> tuple[int, ...]:
    if given is None:
        shown = [
            k.frame
            for t in tracks
            for k in t.keyframes
            if not k.outside and shape_at(t, k.frame, frame_count) is not None
        ]
        return tuple(range(min(shown), max(shown) + 1)) if shown else ()
    if not isinstance(given, list) or not all(isinstance(f, int) and not isinstance(f, bool) for f in given):
        raise InvalidInput(f"{where}.frames: a list of frame numbers (0-based)")
    bad = [f for f in given if not 0 <= f < frame_count]
    if bad:
        raise InvalidInput(f"{where}.frames: {bad[:5]} outside the video's frames 0-{frame_count - 1}")
    return tuple(sorted(set(given)))
