"""Video foundations: frame exactness of the chunks, ingest time, chunk size, polygon interpolation.

Run: ``python benchmarks/video.py [--frames-1080p N] [--samples N] [--seed S]`` (needs
``../shared/datasets``: ``video_bedroom`` and ``sav_masklets_000001``).

* ``frame_exact``: ``bedroom.mp4`` (960x540, 30 fps, 200 frames) ingested by
  ``marketplace.media.video.ingest`` with the service's settings (JPEG chunks, 36 frames at this
  size, and the H.264 copy); frame ``k`` taken out of its chunk is compared with frame ``k``
  decoded straight from the file by PyAV, at ``--samples`` random indices, and with the
  publisher's eight extracted frames (``frames/NNNNN.jpg``). A sample is exact when its mean
  absolute RGB difference to the right frame is under 3.0 and smaller than to each of the two frames
  either side.
* ``ingest_s_per_min``: wall time of the same ingest on a 1080p clip (``bedroom.mp4``'s first
  ``--frames-1080p`` frames upscaled to 1920x1080 and encoded with libx264 beforehand, not timed),
  per minute of video; ``ingest_cpu_s_per_min`` its CPU time, all threads (steadier than the wall
  time when other work shares the cores). ``ingest_s_per_min_540p`` is bedroom.mp4 itself. One
  process, on whatever the machine's cores are doing (this one has 2, shared): noisy.
* the chunk length (printed, not on the last line): bytes a random jump downloads, requests per
  second of playback, zip overhead and the time to take one frame out, for 12 to 72 frames a chunk.
* ``bytes_per_frame``: chunk bytes per frame at 1080p (upscaled frames are smoother than camera
  frames, so this is a low estimate); ``bytes_per_frame_540p`` on bedroom.mp4's real frames.
* ``interp_iou_k{2,4,8}``: one SA-V object (``sav_000001_manual.json``: the largest of the objects in
  view on every annotated frame) "annotated" as a polygon on every k-th annotated frame (the
  masklets are annotated every 4th video frame, so keyframes are ``4k`` video frames apart): the
  largest ring of the real mask traced with at most 64 vertices, as a careful annotator would click
  it. The track is interpolated (``marketplace.geometry.tracks``, arc-length resampling) to the
  annotated frames in between, and each is scored by mask IoU against the real mask. Printed beside
  it: holding the previous keyframe instead of interpolating, the keyframes' own IoU (the ceiling
  the 64-vertex outline allows), and the other objects (in and out of view: ``outside`` keyframes).

* ``random_access_p95_ms`` (``benchmarks/_video_browser.py``; skipped with ``--no-browser``): a scratch
  database and app server, a ``video_boxes`` job over ``bedroom.mp4`` in one segment, and Debian's
  Chromium on the worker's page jumping to ``--jumps`` random frames (the "Go to frame" path,
  ``Player.go``): the time from the jump to the frame after the canvas was drawn, p95 over all jumps
  (the player's cache of four chunks in play, as for a worker; jumps that had to fetch their chunk
  are printed apart). Each jump's canvas is read back (PNG) and checked like a chunk frame against
  PyAV's decode: ``frame_exact_browser`` is the exact fraction; ``frame_exact`` counts every checked
  frame (chunks, the publisher's, the browser's).

Last line: ``frame_exact=<x> random_access_p95_ms=<n> ingest_s_per_min=<n> ingest_cpu_s_per_min=<n>
ingest_s_per_min_540p=<n> bytes_per_frame=<n> bytes_per_frame_540p=<n> interp_iou_k2=<x>
interp_iou_k4=<x> interp_iou_k8=<x> frame_exact_browser=<x>`` (the two browser keys absent with
``--no-browser``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._datasets import shared_datasets_dir  # noqa: E402
from marketplace.geometry import polygons as geo  # noqa: E402
from marketplace.geometry.tracks import Keyframe, Track, interpolate  # noqa: E402
from marketplace.media.video import Ingested, chunk_frame, ingest, zip_chunk  # noqa: E402

PUBLISHED = (0, 1, 17, 36, 37, 99, 150, 199)
SAME = 3.0
KS = (2, 4, 8)
VIDEO_FRAMES_PER_ANNOTATION = 4
VERTEX_BUDGET = 64


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def timed_ingest(data: bytes) -> tuple[Ingested, dict[int, bytes], float, float]:
    """The ingest, its chunks, its wall time and its CPU time (all threads: steadier than the wall
    time on a loaded machine)."""
    chunks: dict[int, bytes] = {}
    start, cpu = time.perf_counter(), time.process_time()
    result = ingest(data, chunks.__setitem__, h264=True)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    minutes = len(result.frames) / float(result.fps) / 60
    print(f"  ingest of {result.width}x{result.height}: CPU {cpu / minutes:.1f} s per minute of video")
    return result, chunks, wall, cpu


def chunk_rgb(result: Ingested, chunks: dict[int, bytes], index: int) -> np.ndarray:
    data = chunk_frame(chunks[index // result.chunk_frames], index)
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def is_exact(ours: np.ndarray, reference: list[np.ndarray], index: int) -> tuple[bool, float]:
    right = mad(ours, reference[index])
    others = [
        mad(ours, reference[j])
        for j in (index - 2, index - 1, index + 1, index + 2)
        if 0 <= j < len(reference)
    ]
    return right < SAME and all(right < other for other in others), right


def decode_all(video: Path) -> list[np.ndarray]:
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def frame_exactness(
    folder: Path, result: Ingested, chunks: dict[int, bytes], samples: int, seed: int
) -> tuple[int, int]:
    """Exact frames and frames checked: chunk frames against PyAV's decode, and the publisher's."""
    decoded = decode_all(folder / "bedroom.mp4")
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(decoded), size=min(samples, len(decoded)), replace=False).tolist())
    exact = [is_exact(chunk_rgb(result, chunks, k), decoded, k)[0] for k in picks]
    print(f"chunks vs PyAV's own decode: {sum(exact)}/{len(exact)} sampled frames exact")
    published_exact = []
    ours = [chunk_rgb(result, chunks, k) for k in range(len(result.frames))]
    for n in PUBLISHED:
        published = np.asarray(Image.open(folder / "frames" / f"{n:05d}.jpg").convert("RGB"))
        right = mad(ours[n], published)
        around = [mad(ours[j], published) for j in (n - 1, n + 1) if 0 <= j < len(ours)]
        published_exact.append(right < SAME and all(right < a for a in around))
        neighbours = ", ".join(f"{a:.2f}" for a in around)
        print(f"  publisher's frame {n:3d}: MAD {right:.2f} (neighbours {neighbours})")
    return sum(exact) + sum(published_exact), len(exact) + len(published_exact)


def browser_access(folder: Path, jumps: int, seed: int) -> tuple[float, int, int]:
    """p95 of random jumps in the player (ms), and its exact frames out of those checked."""
    from benchmarks._video_browser import random_access

    decoded = decode_all(folder / "bedroom.mp4")
    found = random_access(
        folder / "bedroom.mp4", len(decoded), jumps, seed, lambda k, rgb: is_exact(rgb, decoded, k)
    )
    done = found["jumps"]
    times = sorted(j["ms"] for j in done)
    fetched = sorted(j["ms"] for j in done if j["fetched"])
    cached = sorted(j["ms"] for j in done if not j["fetched"])
    exact = sum(j["exact"] for j in done)
    errors = [j["mad"] for j in done if j["exact"]]

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    print(
        f"player, {len(done)} random jumps: p50 {pct(times, 50):.0f} ms, p95 {pct(times, 95):.0f} ms, "
        f"max {max(times):.0f} ms; {len(fetched)} fetched their chunk (p50 {pct(fetched, 50):.0f}, "
        f"p95 {pct(fetched, 95):.0f} ms), {len(cached)} from the cache (p95 {pct(cached, 95):.0f} ms); "
        f"exact {exact}/{len(done)} (canvas vs PyAV MAD {min(errors, default=float('nan')):.2f}-"
        f"{max(errors, default=float('nan')):.2f})"
    )
    bad = [j for j in done if not j["exact"]]
    for j in bad[:5]:
        print(f"  not exact: asked {j['asked']}, shown {j['frame']}, ok={j['ok']}, MAD {j['mad']:.2f}")
    return pct(times, 95), exact, len(done)


def chunk_sizes(result: Ingested, chunks: dict[int, bytes], label: str) -> None:
    """What the chunk length trades: bytes a random jump downloads (one whole chunk), requests per
    second of playback, the zip's overhead, and the time to take one frame out (unzip + JPEG decode)."""
    jpegs = [(k, chunk_frame(chunks[k // result.chunk_frames], k)) for k in range(len(result.frames))]
    rate = float(result.fps)
    for frames in (12, 24, 36, 72):
        groups = [jpegs[i : i + frames] for i in range(0, len(jpegs) - frames + 1, frames)]
        made = [zip_chunk(group) for group in groups]
        mean_bytes = float(np.mean([len(c) for c in made]))
        payload = float(np.mean([sum(len(j) for _, j in group) for group in groups]))
        overhead = (mean_bytes - payload) / frames
        start = time.perf_counter()
        for i in range(frames):
            Image.open(io.BytesIO(chunk_frame(made[0], i))).load()
        take_ms = (time.perf_counter() - start) / frames * 1e3
        print(
            f"  {label} chunks of {frames:2d}: {mean_bytes / 1e6:.2f} MB (a random jump at 50 Mbit/s: "
            f"{mean_bytes * 8 / 50e6:.2f} s), {rate / frames:.2f} requests/s playing, zip overhead "
            f"{overhead:.0f} B a frame, one frame out {take_ms:.1f} ms"
        )


def clip_1080p(folder: Path, frames: int) -> bytes:
    """The first ``frames`` frames of bedroom.mp4 upscaled to 1920x1080, H.264 at 30 fps."""
    out = io.BytesIO()
    with av.open(str(folder / "bedroom.mp4")) as source, av.open(out, mode="w", format="mp4") as target:
        stream = target.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        stream.codec_context.time_base = Fraction(1, 30)
        for i, frame in enumerate(source.decode(video=0)):
            if i == frames:
                break
            big = frame.reformat(width=1920, height=1080, format="yuv420p", interpolation="BICUBIC")
            big.pts, big.time_base = i, Fraction(1, 30)
            for packet in stream.encode(big):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
    return out.getvalue()


# -- SA-V: polygon keyframes every k annotated frames ---------------------------------------------


def outline(rle: dict[str, Any]) -> list[float] | None:
    """The mask's largest ring with at most VERTEX_BUDGET vertices (None: the object is not in view)."""
    if float(geo.areas([geo.to_rle(rle, *rle["size"])])[0]) == 0:
        return None
    rings = geo.mask_to_rings(geo.decode(geo.to_rle(rle, *rle["size"])), VERTEX_BUDGET)
    if not rings:
        return None
    return max(rings, key=_area)


def _area(ring: list[float]) -> float:
    pts = np.asarray(ring).reshape(-1, 2)
    return (
        abs(float(np.dot(pts[:, 0], np.roll(pts[:, 1], -1)) - np.dot(pts[:, 1], np.roll(pts[:, 0], -1)))) / 2
    )


def iou(ring: list[float] | None, rle: dict[str, Any], height: int, width: int) -> float | None:
    """Mask IoU of the outline with the real mask; None when both are empty (not scored)."""
    truth = geo.to_rle(rle, height, width)
    truth_area = float(geo.areas([truth])[0])
    if ring is None:
        return None if truth_area == 0 else 0.0
    if truth_area == 0:
        return 0.0
    return float(geo.mask_iou([geo.to_rle([ring], height, width)], [truth])[0, 0])


def mean(values: list[float | None]) -> float:
    scored = [v for v in values if v is not None]
    return float(np.mean(scored)) if scored else float("nan")


def interpolation_iou(masks: list[dict[str, Any]], k: int) -> tuple[float, float, float]:
    """Mean IoU over the annotated frames between keyframes: interpolated, held, and at keyframes."""
    height, width = masks[0]["size"]
    step = VIDEO_FRAMES_PER_ANNOTATION
    keys = list(range(0, len(masks), k))
    outlines = {a: outline(masks[a]) for a in keys}
    keyframes = tuple(
        Keyframe(a * step, [] if outlines[a] is None else [outlines[a]], outside=outlines[a] is None)
        for a in keys
    )
    end = (keys[-1] + 1) * step  # nothing past the last keyframe is scored
    shapes = {s.frame: s.geometry[0] for s in interpolate(Track(1, "object", "polygon", keyframes), end)}
    between = [a for a in range(keys[-1]) if a % k]
    interpolated = [iou(shapes.get(a * step), masks[a], height, width) for a in between]
    held = [iou(outlines[a - a % k], masks[a], height, width) for a in between]
    at_keys = [iou(outlines[a], masks[a], height, width) for a in keys]
    return mean(interpolated), mean(held), mean(at_keys)


def sav_objects(root: Path) -> tuple[int, list[list[dict[str, Any]]]]:
    data = json.loads((root / "sav_masklets_000001" / "sav_000001_manual.json").read_text())
    per_object = [[frame[o] for frame in data["masklet"]] for o in range(len(data["masklet"][0]))]
    areas = [[float(geo.areas([geo.to_rle(m, *m["size"])])[0]) for m in masks] for masks in per_object]
    always = [o for o, a in enumerate(areas) if min(a) > 0]
    chosen = max(always, key=lambda o: float(np.mean(areas[o])))
    return chosen, per_object


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames-1080p", type=int, default=90, help="frames of the 1080p clip (30 fps)")
    parser.add_argument("--samples", type=int, default=64, help="random frames checked for exactness")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--jumps", type=int, default=40, help="random jumps in the browser player")
    parser.add_argument("--no-browser", action="store_true", help="skip the browser's random access")
    args = parser.parse_args(argv)
    root = shared_datasets_dir()
    if root is None or not (root / "video_bedroom").is_dir() or not (root / "sav_masklets_000001").is_dir():
        print(
            "../shared/datasets (video_bedroom, sav_masklets_000001) is missing: nothing to measure",
            file=sys.stderr,
        )
        return 2
    folder = root / "video_bedroom"

    result, chunks, seconds, _ = timed_ingest((folder / "bedroom.mp4").read_bytes())
    minutes = len(result.frames) / float(result.fps) / 60
    bytes_540p = sum(map(len, chunks.values())) / len(result.frames)
    print(
        f"bedroom.mp4: {result.width}x{result.height}, {result.fps} fps, {len(result.frames)} frames, "
        f"{result.chunk_count} chunks ({bytes_540p * result.chunk_frames / 1e6:.2f} MB a full one), "
        f"ingest {seconds:.2f} s = {seconds / minutes:.1f} s per minute of video"
    )
    exact, checked = frame_exactness(folder, result, chunks, args.samples, args.seed)
    p95, browser_exact, jumps = float("nan"), 0, 0
    if not args.no_browser:
        p95, browser_exact, jumps = browser_access(folder, args.jumps, args.seed)
    chunk_sizes(result, chunks, "540p")

    big = clip_1080p(folder, args.frames_1080p)
    result_1080p, chunks_1080p, seconds_1080p, cpu_1080p = timed_ingest(big)
    minutes_1080p = len(result_1080p.frames) / float(result_1080p.fps) / 60
    bytes_1080p = sum(map(len, chunks_1080p.values())) / len(result_1080p.frames)
    print(
        f"1080p clip: {result_1080p.width}x{result_1080p.height}, {len(result_1080p.frames)} frames, "
        f"ingest {seconds_1080p:.2f} s = {seconds_1080p / minutes_1080p:.1f} s per minute of video, "
        f"{bytes_1080p / 1e3:.0f} kB a frame, chunks of {result_1080p.chunk_frames} frames, "
        f"{result_1080p.chunk_frames * bytes_1080p / 1e6:.2f} MB each"
    )
    if len(result_1080p.frames) >= 72:
        chunk_sizes(result_1080p, chunks_1080p, "1080p")

    chosen, per_object = sav_objects(root)
    figures: dict[int, float] = {}
    for o, masks in enumerate(per_object):
        for k in KS:
            interpolated, held, at_keys = interpolation_iou(masks, k)
            if o == chosen:
                figures[k] = interpolated
            mark = "*" if o == chosen else " "
            apart = k * VIDEO_FRAMES_PER_ANNOTATION
            print(
                f"{mark} SA-V object {o}, keyframes every {k} annotated frames ({apart} video frames): "
                f"interpolated IoU {interpolated:.3f}, held {held:.3f}, keyframes {at_keys:.3f}"
            )
    frame_exact = (exact + browser_exact) / (checked + jumps)
    access = f"random_access_p95_ms={p95:.0f} " if jumps else ""
    browser = f" frame_exact_browser={browser_exact / jumps:.3f}" if jumps else ""
    print(
        f"frame_exact={frame_exact:.3f} {access}ingest_s_per_min={seconds_1080p / minutes_1080p:.1f} "
        f"ingest_cpu_s_per_min={cpu_1080p / minutes_1080p:.1f} "
        f"ingest_s_per_min_540p={seconds / minutes:.1f} bytes_per_frame={bytes_1080p:.0f} "
        f"bytes_per_frame_540p={bytes_540p:.0f} "
        + " ".join(f"interp_iou_k{k}={figures[k]:.3f}" for k in KS)
        + browser
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
