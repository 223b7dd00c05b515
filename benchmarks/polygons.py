"""Polygon scoring and merging on real masks (SA-V masklets in ``../shared/datasets``).

Run: ``python benchmarks/polygons.py [--repeats N] [--seed S]``.

The GT is 20 real object masks (RLE) from ``sav_masklets_000001``: 5 objects in each of 4 annotated
frames far apart, all on one 480x848 "image", one label per tracked object. Simulated workers draw
each object as a human would: the mask's outline clicked with 10-40 vertices, every vertex off by a
few pixels, the whole outline a little shifted and grown or shrunk (a per-worker habit). Three
workers of different care (noise 1x, 1.5x, 2x) draw every object; their weights are their expected
reliabilities, as the GT record would give them.

* ``score_ms_p50``: one worker's 20 polygons scored against the 20 GT masks (the issue's measure):
  rasterise the polygons, mask IoU (pycocotools), Hungarian matching per label, the accuracy formula.
  Printed beside it: the same with the boundary IoU of every matched pair, which the server adds
  for reviewers on each submission.
* ``merge_ms_p50``: merging the 3 workers' polygons of the image (clustering by mask IoU, weighted
  pixel majority, back to polygons of at most 200 vertices), per object (whole image / 20).
* ``merged_iou`` / ``single_iou``: mean mask IoU with the GT of the merged objects, and of the
  single workers' polygons.

Last line: ``score_ms_p50=<n> merge_ms_p50=<n> merged_iou=<x> single_iou=<x>``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._datasets import shared_datasets_dir  # noqa: E402
from marketplace.geometry import polygons as geo  # noqa: E402
from marketplace.quality.polygons import (  # noqa: E402
    PolygonSet,
    WorkerPolygons,
    merge_polygons,
    score_polygons,
)

FRAMES = (0, 40, 80, 120)  # annotated-frame indices: objects far apart in time
WORKER_NOISE = (1.0, 1.5, 2.0)
N_OBJECTS = 20


def load_masks(root: Path) -> tuple[list[dict[str, object]], list[str], int, int]:
    """20 non-empty SA-V masks (RLE) with their object's label, and the frame size."""
    data = json.loads((root / "sav_masklets_000001" / "sav_000001_manual.json").read_text())
    masks, labels = [], []
    frames = list(FRAMES) + [f for f in range(len(data["masklet"])) if f not in FRAMES]
    for f in frames:
        for o, rle in enumerate(data["masklet"][f]):
            if len(masks) < N_OBJECTS and float(geo.areas([geo.to_rle(rle, *rle["size"])])[0]) > 0:
                masks.append(rle)
                labels.append(f"object {o}")
    height, width = masks[0]["size"]
    return masks, labels, int(height), int(width)


def draw_like_a_worker(
    rle: dict[str, object], height: int, width: int, noise: float, rng: np.random.Generator
) -> list[list[float]]:
    """A hand-drawn outline of a real mask: few vertices, each a little off, a per-object habit."""
    rings = geo.rle_to_rings(rle, int(rng.integers(10, 41)))
    points = np.concatenate([np.asarray(r).reshape(-1, 2) for r in rings])
    centre = points.mean(axis=0)
    size = float(np.sqrt(geo.areas([geo.to_rle(rings, height, width)])[0]))
    scale = 1.0 + rng.normal(0.0, 0.04 * noise)
    shift = rng.normal(0.0, 0.025 * noise * size, 2)
    out = []
    for ring in rings:
        pts = np.asarray(ring).reshape(-1, 2)
        pts = centre + (pts - centre) * scale + shift + rng.normal(0.0, 0.03 * noise * size, pts.shape)
        pts[:, 0] = np.clip(pts[:, 0], 0, width)
        pts[:, 1] = np.clip(pts[:, 1], 0, height)
        out.append([float(v) for v in pts.ravel()])
    return geo.check_rings(out, width, height)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    root = shared_datasets_dir()
    if root is None or not (root / "sav_masklets_000001").is_dir():
        print("../shared/datasets/sav_masklets_000001 is missing: nothing to measure", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    masks, labels, height, width = load_masks(root)
    gt = PolygonSet.of(masks, labels, height, width)
    drawn = [[draw_like_a_worker(m, height, width, n, rng) for m in masks] for n in WORKER_NOISE]
    weights = [0.9, 0.8, 0.7]
    print(f"GT: {len(masks)} SA-V masks on one {width}x{height} image, {len(set(labels))} labels")

    timings: dict[bool, list[float]] = {False: [], True: []}
    accuracy = 0.0
    for r in range(2 * args.repeats):
        worker, boundary = drawn[(r // 2) % len(drawn)], bool(r % 2)
        started = time.perf_counter()
        submitted = PolygonSet.of(worker, labels, height, width)
        result = score_polygons({"image": gt}, {"image": submitted}, target=0.7, boundary=boundary)
        timings[boundary].append(1000 * (time.perf_counter() - started))
        accuracy = result.accuracy if r == 0 else accuracy
    score_ms = timings[False]
    print(
        f"score 20 polygons vs 20 GT masks: p50 {np.median(score_ms):.2f} ms, max {max(score_ms):.2f} ms "
        f"over {args.repeats}; with the boundary IoU of each matched pair p50 "
        f"{np.median(timings[True]):.2f} ms; the careful worker's accuracy {accuracy:.3f}"
    )

    sets = [PolygonSet.of(w, labels, height, width) for w in drawn]
    submissions = [WorkerPolygons(k, s, weights[k]) for k, s in enumerate(sets)]
    merge_ms, merged = [], []
    for _ in range(max(3, args.repeats // 3)):
        started = time.perf_counter()
        merged = merge_polygons(submissions)
        merge_ms.append(1000 * (time.perf_counter() - started))
    merged_masks = [m.mask for m in merged]
    merged_labels = np.asarray([m.label for m in merged], dtype=object)
    merged_iou = _mean_matched_iou(gt, merged_masks, merged_labels)
    single = [float(np.diag(geo.mask_iou(gt.masks, s.masks)).mean()) for s in sets]
    per_object = float(np.median(merge_ms)) / len(masks)
    print(
        f"merge 3 workers x 20 objects: p50 {np.median(merge_ms):.1f} ms per image, {per_object:.2f} ms "
        f"per object; {len(merged)} merged objects"
    )
    print(
        f"mask IoU with GT: merged {merged_iou:.3f}; single workers "
        + ", ".join(f"{v:.3f}" for v in single)
        + f" (mean {np.mean(single):.3f})"
    )
    print(
        f"score_ms_p50={np.median(score_ms):.2f} merge_ms_p50={per_object:.2f} "
        f"merged_iou={merged_iou:.3f} single_iou={np.mean(single):.3f}"
    )
    return 0


def _mean_matched_iou(gt: PolygonSet, masks: list[dict[str, object]], labels: np.ndarray) -> float:
    """Each GT object's IoU with the merged object of its label that overlaps it most (0 if none)."""
    iou = geo.mask_iou(gt.masks, masks)
    same = gt.labels[:, None] == labels[None, :] if len(masks) else np.zeros((len(gt), 0), dtype=bool)
    best = np.where(same, iou, 0.0).max(axis=1) if len(masks) else np.zeros(len(gt))
    return float(best.mean())


if __name__ == "__main__":
    sys.exit(main())
