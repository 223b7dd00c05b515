"""A video's serving form: probed, decoded, put on a constant frame grid, cut into frame chunks.

Every video of a job goes through :func:`ingest` once, with PyAV (FFmpeg bundled in the wheel):

* **probe** (:func:`probe`): a demux-only pass over the packets (no decoding) gives the codec, size,
  rotation, frame rate, and every frame's presentation time, so the limits (pixels, duration, frame
  count) are checked before any frame is decoded; a header cannot lie its way past them, since the
  decoding pass checks them again on what it really gets;
* **decode** every frame in presentation order (the decoder reorders B-frames), rotated upright
  (the display matrix), scaled so the long side is at most :data:`MAX_LONG_SIDE` (scale kept), to
  8-bit RGB;
* **constant frame rate**: the output has frames ``k = 0, 1, ...`` at times ``k / fps``. Each decoded
  frame goes to the slot ``round((pts - start) * fps)``; a slot no frame landed in repeats the
  previous frame, and of frames landing in the same slot the last one wins. For a constant-rate
  source this is the identity (frame ``k`` is source frame ``k``); a variable-rate source gets
  duplicated and dropped frames, counted in the result;
* a **manifest** per frame: its index, its grid time, the presentation time of the source frame
  shown, and the SHA-256 of its RGB pixels (before JPEG), so an export or a later re-ingest can be
  checked frame by frame;
* **frame chunks**: consecutive frames as JPEGs (one encoder, one setting: the image renditions'
  quality) in one uncompressed zip (``000036.jpg``, ... by frame index; fixed member dates, so the
  bytes say nothing about when they were made). The browser fetches chunk ``k // chunk_frames`` and
  shows member ``k``: a frame is a file, never a ``<video>`` seek by time, which is what makes other
  players show the neighbouring frame. JPEG and not H.264 segments so that frame ``k`` is one decode
  of one file (2 ms at 960x540, 6 ms at 1080p), in any browser, with no codec state. A random jump
  downloads one whole chunk, playing fetches ``fps / chunk_frames`` chunks a second, so the length
  is a byte budget (:func:`chunk_length`): :data:`CHUNK_PIXELS` pixels a chunk, 12 to 36 frames.
  ``benchmarks/video.py`` measured it: 36 frames at 960x540 are 2.25 MB (0.36 s at 50 Mbit/s, 0.83
  requests a second at 30 fps), while 36 frames at 1080p are 5.7 MB (0.92 s), so 1080p gets 12
  (1.9 MB, 0.31 s, 2.5 requests a second); the zip costs under 100 bytes a frame;
* optionally a normalised **H.264** file (libx264, constant rate, a keyframe every
  chunk's first frame, so it cuts where the chunks do) for export and download.

Anything else is refused with :class:`BadVideo`, whose ``reason`` is safe to show the requester.
Pure: bytes in, bytes out (chunks handed to a callback as they are made), no storage.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np
from PIL import Image

#: pixels of one chunk: 36 frames of 960x540 (2.25 MB of JPEG on real footage)
CHUNK_PIXELS = 36 * 960 * 540
MIN_CHUNK_FRAMES, MAX_CHUNK_FRAMES = 12, 36
ENCODE_THREADS = 2
QUALITY = 85
MAX_LONG_SIDE = 1920
H264_CRF = 20
H264_PRESET = "veryfast"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_MIN_FPS, _MAX_FPS = Fraction(1, 10), Fraction(240)

Progress = Callable[[int, int], None]


class BadVideo(Exception):
    """The file cannot be made into frame chunks; ``reason`` is safe to show to its requester."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VideoLimits:
    max_pixels: int = 3840 * 2160
    max_seconds: float = 1800.0
    max_frames: int = 54_000


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    #: the stored pixels; :attr:`rotation` turns them upright
    width: int
    height: int
    #: degrees counter-clockwise the display matrix turns the stored pixels (0, 90, 180, 270)
    rotation: int
    fps: Fraction
    frame_count: int
    duration: float
    start: float
    #: presentation times (s) are not a constant grid at :attr:`fps`
    variable_rate: bool
    #: the source's presentation times (s), sorted
    times: tuple[float, ...] = field(repr=False, default=())

    @property
    def upright_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)


@dataclass(frozen=True)
class FrameEntry:
    index: int
    #: the frame's time on the constant grid, ``index / fps`` (s)
    time: float
    #: presentation time of the source frame shown (s, from the stream's start)
    pts: float
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"i": self.index, "t": round(self.time, 6), "pts": round(self.pts, 6), "sha256": self.sha256}


@dataclass(frozen=True)
class Ingested:
    info: VideoInfo
    fps: Fraction
    width: int
    height: int
    #: served pixels per original (upright) pixel
    scale: float
    frames: list[FrameEntry]
    chunk_frames: int
    chunk_count: int
    #: source frames shown twice / never shown on the constant grid
    duplicated: int
    dropped: int
    h264: bytes | None = None

    def manifest(self, chunk_keys: list[str] | None = None) -> dict[str, Any]:
        """The JSON manifest (``chunk_keys`` are where the service stored the chunks)."""
        return {
            "version": 1,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "frame_count": len(self.frames),
            "duration": round(len(self.frames) / float(self.fps), 6),
            "width": self.width,
            "height": self.height,
            "scale": self.scale,
            "original_width": self.info.upright_size[0],
            "original_height": self.info.upright_size[1],
            "rotation": self.info.rotation,
            "codec": self.info.codec,
            "variable_rate": self.info.variable_rate,
            "duplicated": self.duplicated,
            "dropped": self.dropped,
            "chunk_frames": self.chunk_frames,
            "chunk_count": self.chunk_count,
            "chunks": chunk_keys or [],
            "frames": [f.as_dict() for f in self.frames],
        }


# -- probing --------------------------------------------------------------------------------------


def _open(data: bytes) -> Any:
    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise BadVideo(f"not a readable video ({_why(exc)})") from exc


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _video_stream(container: Any) -> Any:
    if not container.streams.video:
        raise BadVideo("the file holds no video stream")
    return container.streams.video[0]


def _rotation(data: bytes) -> int:
    """Degrees counter-clockwise the display matrix turns the pixels (FFmpeg hands it to each decoded
    frame), snapped to a right angle; read from the first frame."""
    with _open(data) as container:
        try:
            frame = next(container.decode(_video_stream(container)), None)
        except av.FFmpegError as exc:
            raise BadVideo(f"the video cannot be decoded ({_why(exc)})") from exc
    angle = float(getattr(frame, "rotation", 0) or 0) if frame is not None else 0.0
    return int(round(angle / 90.0)) * 90 % 360


#: rates a camera or an encoder really uses; an estimate within 1% of one of them is that one
STANDARD_RATES = tuple(
    Fraction(n, d)
    for n, d in ((24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (50, 1), (60000, 1001), (60, 1))
)


def _frame_rate(stream: Any, times: list[float]) -> Fraction:
    """The grid's rate: one over the median time between frames (the nominal rate of a variable-rate
    video, where the container's average counts its gaps), snapped to a standard rate within 1%."""
    steps = np.diff(np.asarray(times))
    steps = steps[steps > 0]
    if len(steps):
        estimate = 1.0 / float(np.median(steps))
        nearest = min(STANDARD_RATES, key=lambda rate: abs(float(rate) - estimate))
        if abs(float(nearest) - estimate) <= 0.01 * estimate:
            return nearest
        rate = Fraction(estimate).limit_denominator(1001)
        if _MIN_FPS <= rate <= _MAX_FPS:
            return rate
    for candidate in (stream.average_rate, stream.guessed_rate):  # one frame: the header's word
        if candidate is not None and _MIN_FPS <= Fraction(candidate) <= _MAX_FPS:
            return Fraction(candidate).limit_denominator(1001)
    raise BadVideo("the video has no usable frame rate")


def probe(data: bytes, limits: VideoLimits) -> VideoInfo:
    """What the video is, from its packets only; raises :class:`BadVideo` past a limit."""
    with _open(data) as container:
        if container.format.name.endswith("_pipe") or container.format.name == "image2":
            raise BadVideo(f"an image ({container.format.name.removesuffix('_pipe')}), not a video")
        stream = _video_stream(container)
        codec = stream.codec_context.name
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        if width <= 0 or height <= 0:
            raise BadVideo("the video stream has no frame size")
        if width * height > limits.max_pixels:
            raise BadVideo(f"{width}x{height} pixels is over the {limits.max_pixels}-pixel limit")
        time_base = stream.time_base
        times: list[float] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None or packet.is_discard:  # edit-list pre-roll
                    continue
                times.append(float(packet.pts * time_base))
                if len(times) > limits.max_frames:
                    raise BadVideo(f"more than {limits.max_frames} frames (the limit)")
        except av.FFmpegError as exc:
            raise BadVideo(f"the video cannot be read ({_why(exc)})") from exc
        if not times:
            raise BadVideo("the video has no frames")
        times.sort()
        fps = _frame_rate(stream, times)
    rotation = _rotation(data)
    start = times[0]
    duration = (times[-1] - start) + 1 / float(fps)
    if duration > limits.max_seconds:
        raise BadVideo(f"{duration:.1f} s is over the {limits.max_seconds:.0f}-second limit")
    slots = np.round((np.asarray(times) - start) * float(fps))
    variable = bool(len(slots) != int(slots[-1]) + 1 or np.any(np.diff(slots) != 1))
    if int(slots[-1]) + 1 > limits.max_frames:
        raise BadVideo(
            f"{int(slots[-1]) + 1} frames at {float(fps):g} fps is over the {limits.max_frames} limit"
        )
    return VideoInfo(codec, width, height, rotation, fps, len(times), duration, start, variable, tuple(times))


# -- decoding onto a constant grid ----------------------------------------------------------------


def served_size(width: int, height: int, max_long_side: int = MAX_LONG_SIDE) -> tuple[int, int]:
    """The served frame size for an upright ``width`` x ``height``: at most ``max_long_side`` on the
    long side, even on both (H.264's 4:2:0 needs it), at least 2."""
    scale = min(1.0, max_long_side / max(width, height))
    return max(2, int(round(width * scale)) // 2 * 2), max(2, int(round(height * scale)) // 2 * 2)


def _upright_rgb(frame: Any, rotation: int, size: tuple[int, int]) -> np.ndarray:
    """The frame as upright RGB of ``size`` (scaled before turning, in the stored orientation)."""
    w, h = (size[1], size[0]) if rotation % 180 else size
    if (frame.width, frame.height) != (w, h):
        frame = frame.reformat(width=w, height=h, interpolation="AREA")
    rgb = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(rgb, k=rotation // 90)) if rotation else rgb


def _decoded(
    data: bytes, info: VideoInfo, size: tuple[int, int], limits: VideoLimits
) -> Iterator[tuple[float, np.ndarray]]:
    """``(pts in seconds from the start, upright RGB)`` of every frame, in presentation order."""
    with _open(data) as container:
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        previous = -np.inf
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                pts = float(frame.pts * stream.time_base) - info.start
                if pts > limits.max_seconds:
                    raise BadVideo(f"frames past the {limits.max_seconds:.0f}-second limit")
                if pts <= previous:  # out of order or repeated: the decoder's order is not trusted
                    continue
                previous = pts
                yield pts, _upright_rgb(frame, info.rotation, size)
        except av.FFmpegError as exc:
            raise BadVideo(f"the video cannot be decoded ({_why(exc)})") from exc


def constant_rate(
    frames: Iterator[tuple[float, np.ndarray]], fps: Fraction, max_frames: int
) -> Iterator[tuple[int, float, np.ndarray, bool]]:
    """``(index, source pts, rgb, duplicate)`` on the grid ``index / fps`` (see the module docstring)."""
    rate = float(fps)
    next_slot = 0
    held: tuple[float, np.ndarray] | None = None
    for pts, rgb in frames:
        slot = int(round(pts * rate))
        if held is not None:
            while next_slot < slot:
                if next_slot >= max_frames:
                    raise BadVideo(f"more than {max_frames} frames (the limit)")
                yield next_slot, held[0], held[1], next_slot != round(held[0] * rate)
                next_slot += 1
        held = (pts, rgb)  # of frames landing in one slot, the last one wins
    if held is not None:
        yield next_slot, held[0], held[1], next_slot != round(held[0] * rate)


def _digest_and_jpeg(rgb: np.ndarray) -> tuple[str, bytes]:
    return hashlib.sha256(rgb.tobytes()).hexdigest(), jpeg(rgb)


def chunk_length(width: int, height: int) -> int:
    """Frames per chunk for served frames of ``width`` x ``height``: :data:`CHUNK_PIXELS` a chunk."""
    return max(MIN_CHUNK_FRAMES, min(MAX_CHUNK_FRAMES, CHUNK_PIXELS // (width * height)))


def jpeg(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="JPEG", quality=QUALITY, subsampling="4:2:0", optimize=False)
    return out.getvalue()


def zip_chunk(members: list[tuple[int, bytes]]) -> bytes:
    """One chunk: ``(frame index, JPEG)`` members as an uncompressed zip with fixed dates."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, data in members:
            archive.writestr(zipfile.ZipInfo(f"{index:06d}.jpg", date_time=_ZIP_DATE), data)
    return out.getvalue()


def chunk_frame(chunk: bytes, index: int) -> bytes:
    """The JPEG of frame ``index`` out of the chunk that holds it."""
    with zipfile.ZipFile(io.BytesIO(chunk)) as archive:
        return archive.read(f"{index:06d}.jpg")


class _H264:
    """A constant-rate H.264 MP4 written frame by frame (a keyframe every ``gop`` frames)."""

    def __init__(self, fps: Fraction, size: tuple[int, int], gop: int) -> None:
        self.out = io.BytesIO()
        self.container = av.open(self.out, mode="w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {
            "crf": str(H264_CRF),
            "preset": H264_PRESET,
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "bf": "0",
        }
        self.stream.codec_context.time_base = Fraction(1) / fps

    def add(self, index: int, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = index
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> bytes:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        return self.out.getvalue()


def ingest(
    data: bytes,
    on_chunk: Callable[[int, bytes], None],
    *,
    limits: VideoLimits | None = None,
    chunk_frames: int | None = None,
    max_long_side: int = MAX_LONG_SIDE,
    h264: bool = False,
    progress: Progress | None = None,
) -> Ingested:
    """Probe, decode and chunk one video; each chunk goes to ``on_chunk(chunk index, zip bytes)`` as
    soon as it is made, ``progress(frames done, frames expected)`` after each. Raises :class:`BadVideo`."""
    limits = limits or VideoLimits()
    info = probe(data, limits)
    upright_w, upright_h = info.upright_size
    size = served_size(upright_w, upright_h, max_long_side)
    expected = int(round((info.times[-1] - info.start) * float(info.fps))) + 1
    chunk_frames = chunk_frames or chunk_length(*size)
    encoder = _H264(info.fps, size, chunk_frames) if h264 else None
    entries: list[FrameEntry] = []
    pending: list[tuple[int, float, Future[tuple[str, bytes]]]] = []
    duplicated = 0
    chunks = 0
    used: set[float] = set()

    def flush() -> None:
        nonlocal chunks
        members = []
        for index, pts, future in pending:
            digest, encoded = future.result()
            entries.append(FrameEntry(index, index / float(info.fps), pts, digest))
            members.append((index, encoded))
        pending.clear()
        on_chunk(chunks, zip_chunk(members))
        chunks += 1
        if progress is not None:
            progress(len(entries), max(expected, len(entries)))

    # Hashing and JPEG encoding release the GIL: they run beside the decoder (and the H.264 encoder).
    with ThreadPoolExecutor(max_workers=ENCODE_THREADS, thread_name_prefix="video") as pool:
        for index, pts, rgb, duplicate in constant_rate(
            _decoded(data, info, size, limits), info.fps, limits.max_frames
        ):
            duplicated += duplicate
            used.add(pts)
            pending.append((index, pts, pool.submit(_digest_and_jpeg, rgb)))
            if encoder is not None:
                encoder.add(index, rgb)
            if len(pending) == chunk_frames:
                flush()
        if pending:
            flush()
    if not entries:
        raise BadVideo("no frame of the video could be decoded")
    return Ingested(
        info=info,
        fps=info.fps,
        width=size[0],
        height=size[1],
        scale=size[0] / upright_w,
        frames=entries,
        chunk_frames=chunk_frames,
        chunk_count=chunks,
        duplicated=duplicated,
        dropped=max(0, info.frame_count - len(used)),
        h264=encoder.close() if encoder is not None else None,
    )
