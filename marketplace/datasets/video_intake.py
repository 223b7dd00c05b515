"""List and check a video job's data: the video files, each probed (packets only, nothing decoded).

The probe gives every video's upright size and its frame count on the constant grid the ingest puts
it on (:mod:`marketplace.media.video`), so the job's segments, and so its pay per assignment, are
known when it is created. A file that is not a usable video is refused here with its reason; the
ingest at activation checks every file again (it may have changed since).
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.config import Settings
from marketplace.datasets.intake import Progress, check_unique_names, no_progress
from marketplace.errors import InvalidInput, TileworkError
from marketplace.media.video import BadVideo, probe
from marketplace.media.video_ingest import video_limits
from marketplace.storage import Storage

VIDEO_EXTENSIONS = frozenset({"mp4", "m4v", "mov", "webm", "mkv", "avi"})
MAX_VIDEOS = 1000
MAX_LISTED = 20


@dataclass(frozen=True)
class VideoFile:
    name: str
    width: int
    height: int
    size_bytes: int
    frame_count: int
    fps: str


def is_video_key(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return "." in name and name.rsplit(".", 1)[1].lower() in VIDEO_EXTENSIONS


def probe_video(storage: Storage, name: str, size: int, settings: Settings) -> VideoFile:
    """Raises :class:`BadVideo` (or a storage error) when ``name`` cannot be used."""
    if size > settings.max_video_bytes:
        raise BadVideo(f"{size} bytes is over the {settings.max_video_bytes}-byte limit")
    info = probe(storage.read(name), video_limits(settings))
    frames = int(round((info.times[-1] - info.start) * float(info.fps))) + 1
    width, height = info.upright_size
    return VideoFile(name, width, height, size, frames, f"{info.fps.numerator}/{info.fps.denominator}")


def check_videos(storage: Storage, settings: Settings, progress: Progress = no_progress) -> list[VideoFile]:
    objects = [obj for obj in storage.iter_objects("") if is_video_key(obj.key)]
    progress("listing", len(objects), len(objects))
    check_unique_names(obj.key for obj in objects)
    if not objects:
        raise InvalidInput(f"the data holds no video ({', '.join(sorted(VIDEO_EXTENSIONS))})", field="data")
    if len(objects) > MAX_VIDEOS:
        raise InvalidInput(
            f"the data holds {len(objects)} videos; a job takes at most {MAX_VIDEOS}", field="data"
        )
    videos: list[VideoFile] = []
    bad: list[str] = []
    for done, obj in enumerate(objects, start=1):
        try:
            videos.append(probe_video(storage, obj.key, obj.size, settings))
        except BadVideo as exc:
            bad.append(f"{obj.key}: {exc.reason}")
        except TileworkError as exc:
            bad.append(f"{obj.key}: {exc.detail}")
        progress("checking", done, len(objects))
    if bad:
        more = f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise InvalidInput(
            f"{len(bad)} file(s) are not usable videos: {'; '.join(bad[:MAX_LISTED])}{more}", field="data"
        )
    return videos
