"""A job's video into platform storage: its frame chunks, manifest and H.264 copy, under random keys.

The video counterpart of :func:`marketplace.media.service.ingest_one`: read the original once from the
job's source, make its serving form (:mod:`marketplace.media.video`), and store it beside the image
renditions, ``renditions/<job>/<random>/<random>.zip`` for each chunk and ``.../<random>.json`` for
the manifest (which lists the chunk keys in order), so deleting a job's renditions deletes its
videos too. Workers read every part through :func:`marketplace.media.service.rendition_body`, the
code and header set of the image renditions. A file that cannot be used leaves nothing behind.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from marketplace.config import Settings
from marketplace.errors import TileworkError
from marketplace.media.service import KEY_BYTES, RENDITION_PREFIX, IngestFailure
from marketplace.media.video import BadVideo, Ingested, Progress, VideoLimits, ingest
from marketplace.storage import Storage


@dataclass(frozen=True)
class StoredVideo:
    name: str
    manifest_key: str
    chunk_keys: list[str]
    h264_key: str | None
    frame_count: int
    #: frames per chunk: frame ``k`` is in ``chunk_keys[k // chunk_frames]``
    chunk_frames: int
    fps: str
    width: int
    height: int
    scale: float
    #: bytes of all chunks (what a worker may download), not counting the manifest or the H.264 copy
    chunk_bytes: int


def video_limits(settings: Settings) -> VideoLimits:
    return VideoLimits(
        max_pixels=settings.max_video_pixels,
        max_seconds=settings.max_video_seconds,
        max_frames=settings.max_video_frames,
    )


def _key(folder: str, extension: str) -> str:
    return f"{folder}/{secrets.token_urlsafe(KEY_BYTES)}.{extension}"


def ingest_video(
    source: Storage,
    platform: Storage,
    job_id: int,
    name: str,
    settings: Settings,
    *,
    h264: bool = True,
    progress: Progress | None = None,
) -> StoredVideo | IngestFailure:
    """Store the serving form of video ``name`` of the job's source; or why it cannot be used."""
    folder = f"{RENDITION_PREFIX}/{job_id}/{secrets.token_urlsafe(KEY_BYTES)}"
    chunk_keys: list[str] = []
    chunk_bytes = 0

    def store_chunk(index: int, data: bytes) -> None:
        nonlocal chunk_bytes
        key = _key(folder, "zip")
        platform.write(key, data)
        chunk_keys.append(key)
        chunk_bytes += len(data)

    try:
        size = source.size(name)
        if size > settings.max_video_bytes:
            return IngestFailure(name, f"{size} bytes is over the {settings.max_video_bytes}-byte limit")
        made: Ingested = ingest(
            source.read(name), store_chunk, limits=video_limits(settings), h264=h264, progress=progress
        )
        h264_key = None
        if made.h264 is not None:
            h264_key = _key(folder, "mp4")
            platform.write(h264_key, made.h264)
        manifest_key = _key(folder, "json")
        manifest = made.manifest(chunk_keys)
        platform.write(manifest_key, json.dumps(manifest, separators=(",", ":")).encode())
    except (BadVideo, TileworkError) as exc:
        if chunk_keys:
            platform.delete_prefix(f"{folder}/")
        reason = exc.reason if isinstance(exc, BadVideo) else exc.detail
        return IngestFailure(name, reason)
    return StoredVideo(
        name=name,
        manifest_key=manifest_key,
        chunk_keys=chunk_keys,
        h264_key=h264_key,
        frame_count=len(made.frames),
        chunk_frames=made.chunk_frames,
        fps=manifest["fps"],
        width=made.width,
        height=made.height,
        scale=made.scale,
        chunk_bytes=chunk_bytes,
    )
