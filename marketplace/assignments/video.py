"""Video jobs in the assignment server: segments as chunks, what a claim shows, what a submission is.

A video job's chunks are its segments (:mod:`marketplace.jobs.segments`): each chunk holds one video
as its one image, and a ``video_segments`` row gives its frames. Claiming, expiry, overlap, scoring
and pay are the image jobs' own. A claim's item carries the segment's frame range and the URLs of
the frame chunks covering it (``/files/{item id}/chunks/{n}``): the item token is the same random
token as an image item's, so nothing in a URL tells one segment from another. A submission gives the
segment's tracks; they are checked with :mod:`marketplace.geometry.tracks` and stored as the item's
answer (track JSON).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import repository, segment_repository
from marketplace.assignments.schemas import FrameChunkOut, ItemOut, TrackIn, VideoItemOut, VideoSegmentOut
from marketplace.config import Settings
from marketplace.errors import InvalidInput
from marketplace.geometry import polygons as geo
from marketplace.geometry.tracks import Keyframe, Kind, Track, TrackError, track_to_json
from marketplace.jobs.segments import DEFAULT_SEGMENT_FRAMES, DEFAULT_SEGMENT_OVERLAP, cut_segments
from marketplace.media.service import item_url
from marketplace.models import VIDEO_TYPES, ChunkImage, Job


def open_video_job(session: Session, job: Job) -> int:
    """Cut every video into segments, each a chunk of that one video (in video and frame order: a
    video job has no hidden GT to hide among its neighbours yet). Returns the chunks created."""
    frames = job.segment_frames or DEFAULT_SEGMENT_FRAMES
    overlap = DEFAULT_SEGMENT_OVERLAP if job.segment_overlap is None else job.segment_overlap
    segments = [
        (image_id, start, end)
        for image_id, frame_count in segment_repository.job_videos(session, job.id)
        for start, end in cut_segments(frame_count, frames, overlap)
    ]
    chunk_ids = repository.add_chunks(session, job.id, len(segments), job.overlap)
    repository.add_rows(
        session,
        ChunkImage,
        [
            {"chunk_id": chunk_id, "position": 0, "image_id": image_id}
            for chunk_id, (image_id, _, _) in zip(chunk_ids, segments, strict=True)
        ],
    )
    segment_repository.add_segments(
        session,
        [
            {
                "chunk_id": chunk_id,
                "job_id": job.id,
                "image_id": image_id,
                "start_frame": start,
                "end_frame": end,
            }
            for chunk_id, (image_id, start, end) in zip(chunk_ids, segments, strict=True)
        ],
    )
    return len(segments)


def segment_row(session: Session, job: Job, assignment_id: int) -> Any:
    """The assignment's segment (None for an image job)."""
    return segment_repository.segment_of_assignment(session, assignment_id) if job.is_video else None


def segment_of(session: Session, submitted: Any) -> Any:
    """The segment of an assignment being submitted (``lock_for_submit``'s row; None: image job)."""
    if submitted.job_type not in VIDEO_TYPES:
        return None
    return segment_repository.segment_of_assignment(session, submitted.id)


def with_segment(settings: Settings, job: Job, item: ItemOut, row: Any) -> ItemOut:
    """``item`` with the segment ``row`` it shows (an image item, ``row`` None, as it is); its
    ``image_url`` becomes the first frame chunk's."""
    if row is None:
        return item
    segment = segment_out(settings, job, item.item_id, row)
    fields = item.model_dump()
    fields["image_url"] = segment.chunks[0].url
    return VideoItemOut(**fields, video=segment)


def segment_out(settings: Settings, job: Job, token: str, row: Any) -> VideoSegmentOut:
    """The player's view of a segment, for item ``token``."""
    return segment_view(job, row, item_url(settings, token))


def segment_view(job: Job, row: Any, base: str) -> VideoSegmentOut:
    """The player's view of a segment (a :func:`segment_repository.segment_of_assignment` row) whose
    frame chunks are at ``<base>/chunks/{n}``."""
    overlap = job.segment_overlap or 0
    per = int(row.chunk_frames)
    first, last = row.start_frame // per, (row.end_frame - 1) // per
    chunks = [
        FrameChunkOut(
            index=i,
            first_frame=i * per,
            frame_count=min(per, row.frame_count - i * per),
            url=f"{base}/chunks/{i}",
        )
        for i in range(first, last + 1)
    ]
    return VideoSegmentOut(
        start_frame=row.start_frame,
        end_frame=row.end_frame,
        overlap_before=min(overlap, row.end_frame - row.start_frame) if row.start_frame > 0 else 0,
        overlap_after=overlap if row.end_frame < row.frame_count else 0,
        video_frames=row.frame_count,
        fps=row.fps,
        frame_width=row.frame_width,
        frame_height=row.frame_height,
        scale=row.scale,
        chunk_frames=per,
        chunks=chunks,
    )


# -- submission -----------------------------------------------------------------------------------


def check_tracks(
    tracks: list[TrackIn],
    labels: list[str],
    start: int,
    end: int,
    size: tuple[int, int],
    where: str,
    kind: Kind = "box",
) -> list[dict[str, Any]]:
    """The segment's tracks as stored (track JSON), or a 422 naming the track and keyframe: labels
    from the job, distinct ids, keyframes inside ``[start, end)``, boxes (``kind`` ``box``) or polygons
    (``polygon``: checked and repaired as image polygons are) inside the frame."""
    width, height = size
    seen: set[int] = set()
    out: list[dict[str, Any]] = []
    for n, t in enumerate(tracks):
        at = f"{where} track {t.id} (tracks[{n}])"
        if t.id in seen:
            raise InvalidInput(f"{at}: track id {t.id} is used twice", field=f"{where}.tracks")
        seen.add(t.id)
        if t.label not in labels:
            raise InvalidInput(f"{at}: label {t.label!r} is not one of the job's labels {labels}")
        keyframes = []
        for k in t.keyframes:
            kat = f"{at}, keyframe at frame {k.frame}"
            if not start <= k.frame < end:
                raise InvalidInput(f"{kat}: the frame is outside this segment's frames {start}-{end - 1}")
            geometry = None if k.outside else _checked_geometry(kind, k.geometry, width, height, kat)
            keyframes.append(Keyframe(k.frame, geometry, k.outside, k.occluded))
        try:
            track = Track(t.id, t.label, kind, tuple(keyframes))
        except TrackError as exc:
            raise InvalidInput(f"{where}: {exc}") from exc
        out.append(track_to_json(track))
    return out


def _checked_geometry(kind: str, geometry: Any, width: int, height: int, at: str) -> Any:
    """A keyframe's box or rings, inside the ``width`` x ``height`` frame, or a 422 saying why not."""
    if kind == "polygon":
        if geometry is None or not geometry or not isinstance(geometry[0], list):
            raise InvalidInput(
                f"{at}: a keyframe in view needs a polygon's rings [[x0, y0, x1, y1, ...], ...]"
            )
        try:
            return geo.check_rings(geometry, width, height)
        except geo.GeometryError as exc:
            raise InvalidInput(f"{at}: {exc}") from exc
    if geometry is None or len(geometry) != 4 or isinstance(geometry[0], list):
        raise InvalidInput(f"{at}: a keyframe in view needs a box [xtl, ytl, xbr, ybr]")
    xtl, ytl, xbr, ybr = geometry
    if not (xtl >= 0 and ytl >= 0 and xbr <= width and ybr <= height):
        raise InvalidInput(f"{at}: the box {geometry} is not inside the {width}x{height} frame")
    return geometry
