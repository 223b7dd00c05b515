"""A completed video job's results: each segment's tracks (merged across workers), stitched into
whole-video tracks, in three formats.

* **One segment, several workers** (``overlap`` > 1): their tracks are merged label by label with
  :func:`marketplace.quality.track_merge.merge_workers` (tracks linked by track IoU, kept when
  workers holding half the weight drew them, visibility voted and boxes averaged per frame by
  weight), each worker weighted by their GT record on the job (:func:`worker_weight`). Polygon
  tracks are linked the same way on their bounding boxes and merged frame by frame by weighted pixel
  majority (:func:`merged_outline`). A merged track has a keyframe on every frame it is shown (its
  ``occluded`` flags are not merged). One accepted answer is used as it is.
* **Stitching**: neighbouring segments share ``segment_overlap`` frames. Label by label, each
  track of a segment is matched with one of the previous segment's over those frames
  (:func:`marketplace.quality.track_merge.stitch`: a maximum-weight assignment on track IoU, at
  least 0.5); a matched track continues the earlier one's id, so a person keeps one id through the
  video. A match with a close rival is listed in ``summary.json`` (``ambiguous_links``) and opened
  as an ``ambiguous_stitch`` dispute (a reviewer who decides ``unlink`` makes that segment's track
  start a new id at the re-export). A segment speaks for its frames from its start to the next
  segment's start: each of its tracks is cut there (an interpolated keyframe at each cut), and the
  parts of one id are joined.

Files per video: CVAT for video 1.1 XML (``<n>_<name>.cvat.xml``), MOTChallenge
(``<n>_<name>.gt.txt``) and per-frame JSON (``<n>_<name>.frames.json``); for the job: COCO video
(``videos_coco.json``, every video, categories in the job's label order) and ``summary.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from marketplace.assignments import segment_repository
from marketplace.geometry import polygons as geo
from marketplace.geometry.track_formats import coco_video, per_frame, write_cvat_video, write_mot
from marketplace.geometry.tracks import Keyframe, Track, shape_at, track_from_json
from marketplace.jobs.segments import owned_range
from marketplace.models import DisputeKind, Job
from marketplace.quality import repository as quality_repo
from marketplace.quality.polygons import DEFAULT_VERTEX_BUDGET, pixel_vote
from marketplace.quality.track_merge import Segment, linked_tracks, merge_workers, stitch
from marketplace.quality.video_scoring import boxes_on
from marketplace.quality.workers import worker_weight
from marketplace.reviews import service as reviews

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


def merge_answers(
    answers: Sequence[tuple[Sequence[dict[str, Any]], float]],
    start: int,
    end: int,
    size: tuple[int, int] = (0, 0),
) -> list[Track]:
    """One segment's tracks from its accepted answers ``(stored tracks, worker weight)``; ``size``
    (height, width) is the frame's, for polygon tracks."""
    if len(answers) == 1:
        return [track_from_json(t) for t in answers[0][0]]
    parsed = [([track_from_json(t) for t in stored], weight) for stored, weight in answers]
    out: list[Track] = []
    for label in sorted({t.label for tracks, _ in parsed for t in tracks}):
        of_label = [([t for t in tracks if t.label == label], weight) for tracks, weight in parsed]
        workers = [(boxes_on(tracks, range(start, end), end).rows, weight) for tracks, weight in of_label]
        if any(t.kind == "polygon" for tracks, _ in of_label for t in tracks):
            for cluster in linked_tracks(workers):
                members = [
                    (next(t for t in of_label[wi][0] if t.id == int(rows[0, 1])), max(of_label[wi][1], 0.0))
                    for wi, rows in cluster.items()
                ]
                merged = merged_outline(members, len(out) + 1, label, start, end, size)
                if merged is not None:
                    out.append(merged)
            continue
        merged_rows = merge_workers(workers)
        for track_id in np.unique(merged_rows[:, 1]):
            out.append(rows_to_track(merged_rows[merged_rows[:, 1] == track_id], len(out) + 1, label, end))
    return out


def merged_outline(
    members: Sequence[tuple[Track, float]],
    track_id: int,
    label: str,
    start: int,
    end: int,
    size: tuple[int, int],
) -> Track | None:
    """Linked polygon tracks of several workers as one: on each frame that more than half of their
    weight shows, the weighted pixel majority of their outlines, traced back into rings."""
    height, width = size
    held = sum(w for _, w in members)
    keyframes: list[Keyframe] = []
    shown_before = False
    for frame in range(start, end):
        shown = [(s.geometry, w) for t, w in members if (s := shape_at(t, frame, end)) is not None]
        in_view = 2 * sum(w for _, w in shown) > held if held > 0 else bool(shown)
        rings = None
        if in_view:
            masks = [geo.to_rle(g, height, width) for g, _ in shown]
            vote, corner = pixel_vote(masks, [max(w, 1e-6) for _, w in shown])
            rings = geo.mask_to_rings(vote, DEFAULT_VERTEX_BUDGET, offset=corner) or None
        if rings is not None:
            keyframes.append(Keyframe(frame, rings))
        elif shown_before:
            keyframes.append(Keyframe(frame, None, outside=True))
        shown_before = rings is not None
    if not any(not k.outside for k in keyframes):
        return None
    return Track(track_id, label, "polygon", tuple(keyframes))


def as_boxes(tracks: Sequence[Track], end: int) -> list[Track]:
    """Box tracks as they are; a polygon track as its bounding box on each frame it is in view (what
    MOTChallenge files hold)."""
    return [
        t if t.kind == "box" else rows_to_track(boxes_on([t], range(end), end).rows, t.id, t.label, end)
        for t in tracks
    ]


def rows_to_track(rows: np.ndarray, track_id: int, label: str, end: int) -> Track:
    """A track with a keyframe on each row's frame (rows ``frame, id, x, y, w, h``, frame order) and an
    ``outside`` keyframe after each run of frames (unless the run reaches ``end``)."""
    keyframes: list[Keyframe] = []
    for n, (frame, _, x, y, w, h) in enumerate(rows.tolist()):
        keyframes.append(Keyframe(int(frame), [x, y, x + w, y + h]))
        following = int(rows[n + 1, 0]) if n + 1 < len(rows) else end
        if following > frame + 1:
            keyframes.append(Keyframe(int(frame) + 1, None, outside=True))
    return Track(track_id, label, "box", tuple(keyframes))


@dataclass
class StitchedVideo:
    tracks: list[Track]
    #: matches a reviewer should look at: ``{"label", "frame", "segment_track", "track"}`` (the
    #: segment starting at ``frame`` had its merged track ``segment_track`` continue exported ``track``)
    ambiguous: list[dict[str, Any]]


#: ``(label, segment start frame, segment track)``: a track a reviewer said starts anew
Unlink = tuple[str, int, int]


def stitch_segments(
    segments: Sequence[tuple[int, int, Sequence[Track]]], video_end: int, unlinked: Collection[Unlink] = ()
) -> StitchedVideo:
    """One video's tracks from its segments' ``(start, end, tracks)`` (frame order; see the module
    docstring); ids ``1, 2, ...`` in order of first appearance."""
    ranges = [(start, end) for start, end, _ in segments]
    parts: dict[tuple[str, int], list[Track]] = {}
    doubtful: list[tuple[str, int, int, tuple[str, int]]] = []
    for label in sorted({t.label for _, _, tracks in segments for t in tracks}):
        of_label = [[t for t in tracks if t.label == label] for _, _, tracks in segments]
        linked = stitch(
            [
                Segment(start, end - 1, boxes_on(tracks, range(start, end), end).rows)
                for (start, end, _), tracks in zip(segments, of_label, strict=True)
            ],
            unlinked={
                (k, float(local))
                for k, (start, _, _) in enumerate(segments)
                for name, frame, local in unlinked
                if name == label and frame == start
            },
        )
        for k, ((_, end, _), tracks) in enumerate(zip(segments, of_label, strict=True)):
            own_start, own_end = owned_range(ranges, k)
            for track in tracks:
                global_id = linked.ids[k].get(float(track.id))
                cut = cut_track(track, own_start, own_end, end, video_end)
                if global_id is not None and cut is not None:
                    parts.setdefault((label, global_id), []).append(cut)
        doubtful += [
            (label, segments[k][0], int(local), (label, joined)) for k, local, joined in linked.ambiguous
        ]
    keyed = sorted(
        ((key, _join(p)) for key, p in parts.items()),
        key=lambda kt: (kt[1].keyframes[0].frame, kt[1].label, kt[1].id),
    )
    exported = {key: n for n, (key, _) in enumerate(keyed, start=1)}
    return StitchedVideo(
        [Track(n, t.label, t.kind, t.keyframes) for n, (_, t) in enumerate(keyed, start=1)],
        [
            {"label": label, "frame": frame, "segment_track": local, "track": exported.get(key)}
            for label, frame, local, key in doubtful
        ],
    )


def _join(parts: Sequence[Track]) -> Track:
    """The parts of one id, segment after segment: on a frame two parts share, the later one's
    keyframe (in view) replaces the earlier one's closing ``outside``."""
    keyframes: dict[int, Keyframe] = {}
    for part in parts:
        for k in part.keyframes:
            if k.frame not in keyframes or keyframes[k.frame].outside:
                keyframes[k.frame] = k
    return Track(parts[0].id, parts[0].label, parts[0].kind, tuple(keyframes[f] for f in sorted(keyframes)))


def file_stem(index: int, name: str) -> str:
    return f"{index:03d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', name.rsplit('/', 1)[-1])[:100]}"


@dataclass
class VideoResults:
    files: dict[str, bytes]
    #: every video's ambiguous links (``StitchedVideo.ambiguous`` with ``image_id`` and ``video``)
    ambiguous: list[dict[str, Any]]


def build_video_files(
    session: Session, job: Job, unlinked: Mapping[int, Collection[Unlink]] | None = None
) -> VideoResults:
    """The job's result files; ``unlinked``: per video (image id), the tracks reviewers split off."""
    weights = {r.worker_id: worker_weight(r) for r in quality_repo.worker_records(session, job.id)}
    answers: dict[int, dict[tuple[int, int], list[tuple[Sequence[dict[str, Any]], float]]]] = {}
    for row in segment_repository.accepted_segment_answers(session, job.id):
        segment = answers.setdefault(row.image_id, {}).setdefault((row.start_frame, row.end_frame), [])
        segment.append((row.answer or [], weights.get(row.worker_id, worker_weight(None))))
    files: dict[str, bytes] = {}
    category = {label: i + 1 for i, label in enumerate(job.labels)}
    coco: dict[str, Any] = {"videos": [], "images": [], "annotations": [], "categories": []}
    coco["categories"] = [{"id": i, "name": label} for label, i in category.items()]
    summary = []
    ambiguous: list[dict[str, Any]] = []
    for index, video in enumerate(segment_repository.videos_of_job(session, job.id), start=1):
        parts = sorted(answers.get(video.image_id, {}).items())
        frame = (int(video.height), int(video.width))
        segments = [(start, end, merge_answers(got, start, end, frame)) for (start, end), got in parts]
        stitched = stitch_segments(segments, video.frame_count, (unlinked or {}).get(video.image_id, ()))
        ambiguous += [{"image_id": video.image_id, "video": video.name, **a} for a in stitched.ambiguous]
        tracks = stitched.tracks
        stem = file_stem(index, video.name)
        size = {"size": video.frame_count, "width": video.width, "height": video.height}
        files[f"{stem}.cvat.xml"] = write_cvat_video(tracks, **size, name=video.name, task_id=job.id).encode()
        files[f"{stem}.gt.txt"] = write_mot(as_boxes(tracks, video.frame_count), video.frame_count).encode()
        files[f"{stem}.frames.json"] = _json(per_frame(tracks, video.frame_count))
        one = coco_video(tracks, **size, name=video.name, video_id=index)
        names = {c["id"]: c["name"] for c in one["categories"]}
        for annotation in one["annotations"]:
            annotation["category_id"] = category[names[annotation["category_id"]]]
        coco["videos"] += one["videos"]
        coco["images"] += one["images"]
        coco["annotations"] += one["annotations"]
        summary.append(
            {
                "name": video.name,
                "frames": video.frame_count,
                "files": stem,
                "tracks": len(tracks),
                "ambiguous_links": stitched.ambiguous,
            }
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
            "stitching": "tracks matched across the frames neighbouring segments share (track IoU >= 0.5); "
            "each segment's tracks cut at the next segment's start",
            "merging": "several accepted answers of a segment merged by track IoU, weighted by GT record",
            "videos": summary,
        }
    )
    return VideoResults(files, ambiguous)


def stitch_subject(job: Job, link: dict[str, Any]) -> str:
    """The dispute subject of an ambiguous link: video, the later segment's first frame, label, track."""
    label = job.labels.index(link["label"])
    return f"stitch:{link['image_id']}:{link['frame']}:{label}:{link['segment_track']}"


def unlinked_by_video(job: Job, decided: Mapping[str, str]) -> dict[int, set[Unlink]]:
    """The links reviewers undid (``unlink`` decisions on ``ambiguous_stitch`` disputes), per video."""
    out: dict[int, set[Unlink]] = {}
    for subject, decision in decided.items():
        if decision != "unlink":
            continue
        _, image_id, frame, label, local = subject.split(":")
        out.setdefault(int(image_id), set()).add((job.labels[int(label)], int(frame), int(local)))
    return out


def open_stitch_disputes(
    session: Session, job: Job, ambiguous: Sequence[dict[str, Any]], decided: Mapping[str, str]
) -> int:
    """One ``ambiguous_stitch`` dispute per link with a close rival that no reviewer has settled."""
    opened = 0
    for link in ambiguous:
        subject = stitch_subject(job, link)
        if subject in decided:
            continue
        reviews.open_dispute(
            session,
            job_id=job.id,
            kind=DisputeKind.ambiguous_stitch,
            subject_key=subject,
            reason=(
                f"{link['video']}: the {link['label']} track {link['segment_track']} of the segment from "
                f"frame {link['frame']} was joined to track {link['track']}, with a close rival"
            ),
            image_id=link["image_id"],
            details=link,
        )
        opened += 1
    return opened


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=1).encode()
