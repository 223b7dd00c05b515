"""Small videos made with PyAV for the tests: every frame shows its own number as a barcode."""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

BITS = 8


def barcode(index: int, width: int, height: int) -> np.ndarray:
    """RGB frame: ``BITS`` vertical stripes, white for a 1 bit of ``index`` (most significant first),
    over a colour that also changes with the index."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = 40
    rgb[..., 2] = (index * 7) % 64
    stripe = width // BITS
    for bit in range(BITS):
        if index >> (BITS - 1 - bit) & 1:
            rgb[:, bit * stripe : (bit + 1) * stripe] = 230
    return rgb


def read_barcode(rgb: np.ndarray) -> int:
    stripe = rgb.shape[1] // BITS
    value = 0
    for bit in range(BITS):
        column = rgb[:, bit * stripe + 2 : (bit + 1) * stripe - 2].astype(float)
        value = value << 1 | int(column.mean() > 135)
    return value


def make_video(
    times_ms: Sequence[int],
    *,
    size: tuple[int, int] = (160, 96),
    fmt: str = "mp4",
    codec: str = "libx264",
    rotation: int = 0,
) -> bytes:
    """A video whose frame ``i`` (a barcode of ``i``) is shown at ``times_ms[i]`` milliseconds."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)  # counter-clockwise, as players show it
        if codec == "libx264":
            stream.options = {"crf": "10", "preset": "ultrafast"}
        elif codec == "libx265":  # B-frames: decoding order is not presentation order
            stream.options = {"crf": "12", "x265-params": "log-level=error:bframes=3"}
        for i, t in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(barcode(i, *size), format="rgb24")
            frame.pts = t
            frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()
