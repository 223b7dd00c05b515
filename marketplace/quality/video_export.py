"""A completed video job's results: each video's segment tracks joined naively, in three formats.

Naive stitching (real stitching, matching tracks across the overlap frames, is issue 17): segment
``i`` speaks alone for its frames from its start to the next segment's start (the overlap goes to the
earlier segment's successor), every track of it is cut to those frames (an interpolated keyframe at
each cut, so a box between two keyframes on either side of a cut stays where it was, and an
``outside`` keyframe after the last frame it speaks for), and gets a new id, unique in its video.
So an object crossing a segment border is two tracks. With ``overlap > 1`` the first accepted answer
of a segment is used (merging workers' tracks is issue 17 too).

Files per video: CVAT for video 1.1 XML (``<n>_<name>.cvat.xml``), MOTChallenge
(``<n>_<name>.gt.txt``) and per-frame JSON (``<n>_<name>.frames.json``); for the job: COCO video
(``videos_coco.json``, every video, categories in the job's label order) and ``summary.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import segment_repository
from marketplace.geometry.track_formats import coco_video, per_frame, write_cvat_video, write_mot
from marketplace.geometry.tracks import Keyframe, Track, shape_at, track_from_json
from marketplace.jobs.segments import owned_range
from marketplace.models import Job

#: (start, end, tracks as stored) of one segment of a video, in frame order
SegmentTracks = tuple[int, int, Sequence[dict[str, Any]]]


def cut_track(track: Track, start: int, end: int, segment_end: int, video_end: int) -> Track | None:
    """``track`` (of a segment ending at ``segment_end``) showing only frames ``[start, end)``."""
    keyframes: dict[int, Keyframe] = {}
    first = shape_at(track, start, segment_end)
    if first is not None:
        keyframes[start] = Keyframe(start, first.geometry, False, first.occluded)
    for k in track.keyframes:
        if start < k.frame < end - 1:
            keyframes[k.frame] = k
    if end - 1 > start:
        last = shape_at(track, end - 1, segment_end)
        if last is not None:
            keyframes[end - 1] = Keyframe(end - 1, last.geometry, False, last.occluded)
    if not any(not k.outside for k in keyframes.values()):
        return None
    if end < video_end:
        keyframes[end] = Keyframe(end, None, True, False)
    return Track(track.id, track.label, track.kind, tuple(keyframes[f] for f in sorted(keyframes)))


def stitch_naive(segments: Sequence[SegmentTracks], video_end: int) -> list[Track]:
    """One video's tracks from its segments' (see the module docstring); ids ``1, 2, ...``."""
    ranges = [(start, end) for start, end, _ in segments]
    out: list[Track] = []
    for index, (_, end, tracks) in enumerate(segments):
        own_start, own_end = owned_range(ranges, index)
        for data in sorted(tracks, key=lambda t: int(t["id"])):
            cut = cut_track(track_from_json(data), own_start, own_end, end, video_end)
            if cut is not None:
                out.append(Track(len(out) + 1, cut.label, cut.kind, cut.keyframes))
    return out


def file_stem(index: int, name: str) -> str:
    return f"{index:03d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', name.rsplit('/', 1)[-1])[:100]}"


def build_video_files(session: Session, job: Job) -> dict[str, bytes]:
    answers: dict[int, dict[tuple[int, int], Sequence[dict[str, Any]]]] = {}
    for row in segment_repository.accepted_segment_answers(session, job.id):
        answers.setdefault(row.image_id, {}).setdefault((row.start_frame, row.end_frame), row.answer or [])
    files: dict[str, bytes] = {}
    category = {label: i + 1 for i, label in enumerate(job.labels)}
    coco: dict[str, Any] = {"videos": [], "images": [], "annotations": [], "categories": []}
    coco["categories"] = [{"id": i, "name": label} for label, i in category.items()]
    summary = []
    for index, video in enumerate(segment_repository.videos_of_job(session, job.id), start=1):
        parts = sorted(answers.get(video.image_id, {}).items())
        segments = [(start, end, tracks) for (start, end), tracks in parts]
        tracks = stitch_naive(segments, video.frame_count)
        stem = file_stem(index, video.name)
        size = {"size": video.frame_count, "width": video.width, "height": video.height}
        files[f"{stem}.cvat.xml"] = write_cvat_video(tracks, **size, name=video.name, task_id=job.id).encode()
        files[f"{stem}.gt.txt"] = write_mot(tracks, video.frame_count).encode()
        files[f"{stem}.frames.json"] = _json(per_frame(tracks, video.frame_count))
        one = coco_video(tracks, **size, name=video.name, video_id=index)
        names = {c["id"]: c["name"] for c in one["categories"]}
        for annotation in one["annotations"]:
            annotation["category_id"] = category[names[annotation["category_id"]]]
        coco["videos"] += one["videos"]
        coco["images"] += one["images"]
        coco["annotations"] += one["annotations"]
        summary.append(
            {"name": video.name, "frames": video.frame_count, "files": stem, "tracks": len(tracks)}
        )
    for i, annotation in enumerate(coco["annotations"], start=1):
        annotation["id"] = i
    files["videos_coco.json"] = _json(coco)
    files["summary.json"] = _json(
        {
            "job_id": job.id,
            "type": job.type.value,
            "overlap": job.overlap,
            "segment_frames": job.segment_frames,
            "segment_overlap": job.segment_overlap,
            "stitching": "naive: each segment's tracks cut at the next segment's start, ids renumbered",
            "videos": summary,
        }
    )
    return files


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=1).encode()
