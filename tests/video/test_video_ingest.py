"""Video ingest (marketplace/media/video.py) on videos made here with PyAV: constant and variable
frame rates, chunks, the manifest, the H.264 copy, and the files it refuses."""

from __future__ import annotations

import hashlib
import io
import zipfile
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from marketplace.media.video import (
    BadVideo,
    Ingested,
    VideoLimits,
    chunk_frame,
    chunk_length,
    ingest,
    probe,
)
from tests.video.videos import barcode, make_video, read_barcode


def run(data: bytes, **kwargs: object) -> tuple[Ingested, dict[int, bytes]]:
    chunks: dict[int, bytes] = {}
    result = ingest(data, chunks.__setitem__, **kwargs)  # type: ignore[arg-type]
    return result, chunks


def frame_rgb(chunks: dict[int, bytes], index: int, per_chunk: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(chunk_frame(chunks[index // per_chunk], index))).convert("RGB"))


def test_a_constant_rate_video_is_cut_into_chunks_frame_for_frame() -> None:
    n = 80
    data = make_video([i * 40 for i in range(n)])
    seen: list[tuple[int, int]] = []
    result, chunks = run(data, chunk_frames=36, progress=lambda done, total: seen.append((done, total)))
    assert result.fps == 25 and not result.info.variable_rate
    assert (result.width, result.height, result.scale) == (160, 96, 1.0)
    assert len(result.frames) == n and (result.duplicated, result.dropped) == (0, 0)
    assert result.chunk_count == 3 and sorted(chunks) == [0, 1, 2]
    for k in range(3):
        names = zipfile.ZipFile(io.BytesIO(chunks[k])).namelist()
        assert names == [f"{i:06d}.jpg" for i in range(36 * k, min(36 * (k + 1), n))]
    for i in range(n):
        rgb = frame_rgb(chunks, i, 36)
        assert read_barcode(rgb) == i
        assert np.abs(rgb.astype(float) - barcode(i, 160, 96)).mean() < 3.0
    assert [f.index for f in result.frames] == list(range(n))
    assert result.frames[50].time == pytest.approx(2.0) and result.frames[50].pts == pytest.approx(2.0)
    assert seen == [(36, n), (72, n), (n, n)]
    manifest = result.manifest(["a", "b", "c"])
    assert manifest["fps"] == "25/1" and manifest["frame_count"] == n
    assert manifest["chunks"] == ["a", "b", "c"]
    assert manifest["frames"][3]["i"] == 3 and len(manifest["frames"][3]["sha256"]) == 64


@pytest.mark.parametrize(
    ("fmt", "codec"),
    [("webm", "libvpx-vp9"), ("avi", "mpeg4"), ("mp4", "libx265"), ("matroska", "ffv1")],
)
def test_other_containers_and_codecs_come_out_frame_for_frame(fmt: str, codec: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV wheel has no {codec} encoder")
    result, chunks = run(make_video([i * 40 for i in range(40)], fmt=fmt, codec=codec))
    assert len(result.frames) == 40 and result.fps == 25 and not result.info.variable_rate
    assert [read_barcode(frame_rgb(chunks, k, 36)) for k in range(40)] == list(range(40))


def test_the_checksums_are_of_the_decoded_frames() -> None:
    data = make_video([i * 40 for i in range(5)])
    result, _ = run(data)
    with av.open(io.BytesIO(data)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert [f.sha256 for f in result.frames] == [hashlib.sha256(d.tobytes()).hexdigest() for d in decoded]
    assert len({f.sha256 for f in result.frames}) == 5


def test_a_variable_rate_video_is_put_on_a_constant_grid() -> None:
    # 25 fps nominal; the frames of 0.40-0.48 s missing (a gap of 4 frame times), and one extra frame
    # 4 ms after the one of 1.16 s (two frames in one slot).
    times = [i * 40 for i in range(10)] + [i * 40 for i in range(13, 30)] + [1164]
    times += [i * 40 for i in range(30, 40)]
    data = make_video(times)
    info = probe(data, VideoLimits())
    assert info.variable_rate and info.fps == 25 and info.frame_count == len(times)
    result, chunks = run(data)
    assert len(result.frames) == 40  # slots 0..39 at 25 fps
    shown = [read_barcode(frame_rgb(chunks, k, 36)) for k in range(40)]
    # the gap repeats the frame on screen (source frame 9); in slot 29 the later of two frames wins
    assert shown[:10] == list(range(10))
    assert shown[10:13] == [9, 9, 9]
    assert shown[13:29] == list(range(10, 26))
    assert shown[29] == times.index(1164)
    assert shown[30:] == list(range(len(times) - 10, len(times)))
    assert result.duplicated == 3 and result.dropped == 1
    assert result.frames[11].pts == pytest.approx(0.36) and result.frames[11].time == pytest.approx(0.44)


def test_the_h264_copy_has_every_frame_at_a_constant_rate_and_a_fixed_gop() -> None:
    times = [0, 40, 80, 200, 240] + [280 + 40 * i for i in range(40)]
    result, chunks = run(make_video(times), chunk_frames=12, h264=True)
    assert result.h264 is not None
    with av.open(io.BytesIO(result.h264)) as container:
        stream = container.streams.video[0]
        frames = [
            (f.pts * stream.time_base, f.key_frame, f.to_ndarray(format="rgb24"))
            for f in container.decode(stream)
        ]
    assert len(frames) == len(result.frames)
    assert [t for t, _, _ in frames] == [Fraction(k, 25) for k in range(len(frames))]
    assert [k for k, (_, key, _) in enumerate(frames) if key] == list(range(0, len(frames), 12))
    for k in (0, 3, 4, 5, 30):
        assert read_barcode(frames[k][2]) == read_barcode(frame_rgb(chunks, k, 12))


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_rotated_video_is_served_upright(rotation: int) -> None:
    data = make_video([0, 40, 80], size=(160, 96), rotation=rotation)
    result, chunks = run(data)
    assert result.info.rotation == rotation
    rgb = frame_rgb(chunks, 2, 36)
    expected = np.rot90(barcode(2, 160, 96), k=rotation // 90)  # np.rot90 turns counter-clockwise
    assert rgb.shape == expected.shape == ((160, 96, 3) if rotation % 180 else (96, 160, 3))
    assert (result.width, result.height) == (rgb.shape[1], rgb.shape[0])
    assert np.abs(rgb.astype(float) - expected).mean() < 3.0


def test_a_large_video_is_scaled_with_its_scale_kept() -> None:
    result, chunks = run(make_video([0, 40, 80], size=(320, 180)), max_long_side=160)
    assert (result.width, result.height) == (160, 90) and result.scale == 0.5
    assert frame_rgb(chunks, 2, 36).shape == (90, 160, 3)
    assert result.manifest()["original_width"] == 320


def test_broken_and_non_video_files_are_refused_with_a_reason() -> None:
    good = make_video([i * 40 for i in range(30)])
    png = io.BytesIO()
    Image.new("RGB", (16, 16)).save(png, format="PNG")
    cases = {
        "text": b"this is not a video at all\n" * 50,
        "empty": b"",
        "truncated": good[: len(good) // 3],
        "image": png.getvalue(),
    }
    for name, data in cases.items():
        with pytest.raises(BadVideo) as caught:
            run(data)
        assert caught.value.reason, name


def test_videos_over_a_limit_are_refused_before_decoding() -> None:
    data = make_video([i * 40 for i in range(30)])
    with pytest.raises(BadVideo, match="pixel limit"):
        run(data, limits=VideoLimits(max_pixels=100 * 90))
    with pytest.raises(BadVideo, match="second limit"):
        run(data, limits=VideoLimits(max_seconds=1.0))
    with pytest.raises(BadVideo, match="frames"):
        run(data, limits=VideoLimits(max_frames=20))
    # a long gap counts as frames: 11 frames at 25 fps spread over 40 s are 1001 frames on the grid
    with pytest.raises(BadVideo, match="1001 frames"):
        run(make_video([i * 40 for i in range(10)] + [40_000]), limits=VideoLimits(max_frames=500))


def test_chunks_hold_fewer_frames_the_larger_the_frames() -> None:
    assert chunk_length(960, 540) == 36
    assert chunk_length(1280, 720) == 20
    assert chunk_length(1920, 1080) == 12  # a random jump downloads 12 frames, not 36
    assert chunk_length(160, 96) == 36
    result, chunks = run(make_video([i * 40 for i in range(30)], size=(1280, 720)), h264=True)
    assert result.chunk_frames == 20 and result.chunk_count == 2 and len(chunks) == 2
    assert result.manifest()["chunk_frames"] == 20
    assert result.h264 is not None
    with av.open(io.BytesIO(result.h264)) as container:
        keys = [k for k, f in enumerate(container.decode(video=0)) if f.key_frame]
    assert keys == [0, 20]  # the H.264 copy cuts where the chunks do
