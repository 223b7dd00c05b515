"""How a video job's videos are cut into segments (pure).

A segment is ``segment_frames`` consecutive frames; the next one starts ``segment_frames -
segment_overlap`` frames later, so neighbours share ``segment_overlap`` frames (where issue 17's
stitching will match their tracks). The last segment ends at the video's end and may be shorter; a
video shorter than one segment is one segment.
"""

from __future__ import annotations

DEFAULT_SEGMENT_FRAMES = 150
DEFAULT_SEGMENT_OVERLAP = 5
MIN_SEGMENT_FRAMES = 10
MAX_SEGMENT_FRAMES = 3000
#: the IDF1 a worker's tracks must reach on a segment's hidden GT frames unless the job says otherwise
DEFAULT_IDF1_TARGET = 0.9


def cut_segments(frame_count: int, frames: int, overlap: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` (end exclusive) covering frames ``[0, frame_count)``."""
    if frame_count <= 0:
        return []
    if frames <= 0 or not 0 <= overlap < frames:
        raise ValueError(f"cannot cut segments of {frames} frames overlapping by {overlap}")
    step = frames - overlap
    out: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + frames, frame_count)
        out.append((start, end))
        if end >= frame_count:
            return out
        start += step


def owned_range(segments: list[tuple[int, int]], index: int) -> tuple[int, int]:
    """The frames segment ``index`` alone speaks for in a naive stitch: from its start to the next
    segment's start (the last one: to its end)."""
    start, end = segments[index]
    return start, segments[index + 1][0] if index + 1 < len(segments) else end
