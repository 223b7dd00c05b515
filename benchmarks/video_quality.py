"""Video quality: scoring a segment's tracks, merging three workers, stitching a video (issue 17).

Run: ``python benchmarks/video_quality.py [--repeats 20] [--seed 0]``. Synthetic tracks (no data
needed): ``--objects`` people walking on straight lines with a little curvature through a 1920x1080
video, entering and leaving at random.

* ``segment_score_ms``: CLEAR MOT + identity scores + HOTA of one 150-frame segment with 20 objects
  against its ground truth (:mod:`marketplace.quality.track_metrics`), the median over repeats;
* ``merge_ms``: merging three workers' tracks of that segment (``track_merge.merge_workers``);
* ``stitch_ms``: stitching a 10-segment video (150 frames each, 8 shared) back into whole tracks;
* ``idf1_merged`` / ``idf1_single``: IDF1 against the truth of the merge of three simulated workers and
  of the average single worker, on the real pedestrian tracks of ``../shared/datasets/mot_tud`` (TUD
  ground truth; synthetic tracks when absent). A simulated worker jitters every box (2% of its
  size), misses each track's frames with a small chance per frame, swaps two identities once in a
  while, and adds a spurious short track now and then.

Last line: ``segment_score_ms=<n> merge_ms=<n> stitch_ms=<n> idf1_merged=<x> idf1_single=<x>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace.quality.track_merge import Segment, merge_workers, stitch  # noqa: E402
from marketplace.quality.track_metrics import clear_mot, hota, id_scores, sequence  # noqa: E402

W, H = 1920, 1080


def truth(rng: np.random.Generator, frames: int, objects: int) -> np.ndarray:
    rows = []
    for oid in range(1, objects + 1):
        start = int(rng.integers(1, max(2, frames // 2)))
        length = int(rng.integers(frames // 3, frames))
        w, h = rng.uniform(40, 120), rng.uniform(90, 260)
        x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
        vx, vy = rng.normal(0, 4), rng.normal(0, 1.5)
        for t in range(start, min(frames, start + length) + 1):
            x, y = np.clip(x + vx, 0, W - w), np.clip(y + vy, 0, H - h)
            vx += rng.normal(0, 0.1)
            rows.append([t, oid, x, y, w, h])
    return np.asarray(rows, dtype=np.float64)


def worker(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray:
    rows = gt.copy()
    rows[:, 2:4] += rng.normal(0, 0.02, size=(len(rows), 2)) * rows[:, 4:6]
    rows = rows[rng.random(len(rows)) > 0.03]  # missed frames
    ids = np.unique(rows[:, 1])
    for _ in range(int(rng.poisson(1.0))):  # identity swaps
        a, b = rng.choice(ids, 2, replace=False)
        after = rows[:, 0] > rng.integers(rows[:, 0].min(), rows[:, 0].max() + 1)
        pick_a, pick_b = after & (rows[:, 1] == a), after & (rows[:, 1] == b)
        rows[pick_a, 1], rows[pick_b, 1] = b, a
    extra = []
    for n in range(int(rng.poisson(0.5))):  # spurious short tracks
        t0 = int(rng.integers(1, max(2, int(gt[:, 0].max()) - 20)))
        x, y = rng.uniform(0, W - 50), rng.uniform(0, H - 50)
        extra += [[t, 1000 + n, x, y, 50, 50] for t in range(t0, t0 + 20)]
    return np.concatenate([rows, np.asarray(extra).reshape(-1, 6)])


def _ms(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--objects", type=int, default=20)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    gt = truth(rng, 150, args.objects)
    three = [worker(rng, gt) for _ in range(3)]

    def score() -> None:
        seq = sequence(gt, three[0])
        clear_mot(seq), id_scores(seq), hota(seq)

    score_ms = _ms(score, args.repeats)
    merge_ms = _ms(lambda: merge_workers([(w, 1.0) for w in three]), args.repeats)

    video = truth(rng, 10 * 142 + 8, args.objects * 4)
    segments = []
    for k in range(10):
        start, end = 1 + 142 * k, 150 + 142 * k
        part = video[(video[:, 0] >= start) & (video[:, 0] <= end)].copy()
        part[:, 1] += 10_000 * (k + 1)  # every segment numbers its own tracks
        segments.append(Segment(start, end, part))
    stitch_ms = _ms(lambda: stitch(segments), max(3, args.repeats // 4))

    shared = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mot_tud"
    if shared.is_dir():  # workers simulated from real pedestrian tracks
        real = [np.loadtxt(shared / f"{n}_gt.txt", delimiter=",")[:, :6] for n in ("campus", "stadtmitte")]
        source = "TUD-Campus and TUD-Stadtmitte ground truth"
    else:
        real, source = [], "synthetic tracks (../shared/datasets absent)"
    singles, merged = [], []
    for n in range(args.repeats):
        seg_gt = real[n % len(real)] if real else truth(rng, 150, args.objects)
        crowd = [worker(rng, seg_gt) for _ in range(3)]
        singles += [id_scores(sequence(seg_gt, w)).idf1 for w in crowd]
        merged.append(id_scores(sequence(seg_gt, merge_workers([(w, 1.0) for w in crowd]))).idf1)
    print(f"timings: 150-frame segments with {args.objects} objects; IDF1 of simulated workers on {source}")
    print(
        f"segment_score_ms={score_ms:.1f} merge_ms={merge_ms:.1f} stitch_ms={stitch_ms:.1f} "
        f"idf1_merged={np.mean(merged):.3f} idf1_single={np.mean(singles):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
