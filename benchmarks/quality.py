"""Quality-engine throughput on synthetic boxes, with pycocotools' COCOeval timed on the same pairs.

Run: ``python benchmarks/quality.py [--images N] [--assignments M]``.

* Scoring latency: :func:`score_boxes` on assignments of 2 GT images (the default honeypot count),
  the call the API makes on every submission; p50 / p99 in milliseconds.
* Merge throughput: :func:`merge_boxes_batch` on N images x 3 workers x ~4 boxes (jittered copies of
  synthetic GT boxes, with some missed, extra and mislabelled boxes).
* Bulk scoring vs COCOeval: one worker's boxes matched against GT on all N images with
  :func:`score_boxes_batch`, and ``COCOeval.evaluate()`` on the same GT/detection pairs, restricted to
  what we compute (one IoU threshold, the "all" area range) so the comparison is like for like.

Last line: ``merge_images_per_s=<n> score_ms_p99=<n> cocoeval_ratio=<ours/cocoeval speed>``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace.quality.batch import score_boxes_batch  # noqa: E402
from marketplace.quality.merging import merge_boxes_batch  # noqa: E402
from marketplace.quality.scoring import BoxSet, score_boxes  # noqa: E402

IMAGE_W, IMAGE_H = 1280, 720
IOU_THRESHOLD = 0.5
N_LABELS = 3


@dataclass(frozen=True)
class FlatBoxes:
    image: np.ndarray
    xywh: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class Synthetic:
    n_images: int
    gt: FlatBoxes
    workers: list[FlatBoxes]


def _gt_boxes(rng: np.random.Generator, n_images: int) -> FlatBoxes:
    counts = np.clip(rng.poisson(4, n_images), 1, 12)
    image = np.repeat(np.arange(n_images), counts)
    n = len(image)
    w = rng.uniform(20, 200, n)
    h = rng.uniform(20, 200, n)
    x = rng.uniform(0, IMAGE_W - w)
    y = rng.uniform(0, IMAGE_H - h)
    return FlatBoxes(image, np.stack([x, y, w, h], axis=1), rng.integers(0, N_LABELS, n))


def _worker_boxes(rng: np.random.Generator, gt: FlatBoxes, n_images: int) -> FlatBoxes:
    n = len(gt.image)
    keep = rng.random(n) > 0.05  # 5% missed
    jitter = rng.normal(0, 0.04, (n, 4)) * np.repeat(gt.xywh[:, 2:], 2, axis=1)
    xywh = gt.xywh + jitter
    labels = np.where(rng.random(n) < 0.03, (gt.labels + 1) % N_LABELS, gt.labels)  # 3% wrong label
    n_extra = int(0.05 * n)
    extra_image = rng.integers(0, n_images, n_extra)
    extra_wh = rng.uniform(20, 150, (n_extra, 2))
    extra_xy = rng.uniform(0, 1, (n_extra, 2)) * (np.array([IMAGE_W, IMAGE_H]) - extra_wh)
    extra = np.concatenate([extra_xy, extra_wh], axis=1)
    image = np.concatenate([gt.image[keep], extra_image])
    order = np.argsort(image, kind="stable")
    return FlatBoxes(
        image[order],
        np.concatenate([xywh[keep], extra])[order],
        np.concatenate([labels[keep], rng.integers(0, N_LABELS, n_extra)])[order],
    )


def make_synthetic(n_images: int, n_workers: int, seed: int) -> Synthetic:
    rng = np.random.default_rng(seed)
    gt = _gt_boxes(rng, n_images)
    return Synthetic(n_images, gt, [_worker_boxes(rng, gt, n_images) for _ in range(n_workers)])


def _split(flat: FlatBoxes, n_images: int) -> list[BoxSet]:
    bounds = np.searchsorted(flat.image, np.arange(n_images + 1))
    return [BoxSet(flat.xywh[a:b], flat.labels[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def bench_assignment_latency(data: Synthetic, n_assignments: int, seed: int) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    gt_sets = _split(data.gt, data.n_images)
    sub_sets = _split(data.workers[0], data.n_images)
    timings: list[float] = []
    cpu: list[float] = []
    # The 200k BoxSet objects built above are long-lived: keep the cyclic GC from re-walking them
    # inside the timed calls (a server would hold far fewer objects per request).
    gc.collect()
    gc.freeze()
    for _ in range(n_assignments):
        images = rng.choice(data.n_images, size=2, replace=False).tolist()
        gt = {i: gt_sets[i] for i in images}
        submitted = {i: sub_sets[i] for i in images}
        started, cpu_started = time.perf_counter(), time.thread_time()
        score_boxes(gt, submitted, target=0.9, iou_threshold=IOU_THRESHOLD)
        timings.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - cpu_started)
    gc.unfreeze()
    ms = np.asarray(timings) * 1000
    cpu_p99 = float(np.percentile(np.asarray(cpu) * 1000, 99))
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), cpu_p99


def bench_merge(data: Synthetic) -> float:
    n_workers = len(data.workers)
    image = np.concatenate([w.image for w in data.workers])
    worker = np.repeat(np.arange(n_workers), [len(w.image) for w in data.workers])
    xywh = np.concatenate([w.xywh for w in data.workers])
    labels = np.concatenate([w.labels for w in data.workers])
    weight = np.array([0.95, 0.9, 0.85])[worker % 3]
    image_workers = np.full(data.n_images, n_workers)
    image_weight = np.full(data.n_images, np.array([0.95, 0.9, 0.85])[np.arange(n_workers) % 3].sum())
    started = time.perf_counter()
    merged = merge_boxes_batch(image, worker, xywh, labels, weight, image_workers, image_weight)
    elapsed = time.perf_counter() - started
    print(
        f"merge: {data.n_images} images, {len(image)} boxes from {n_workers} workers -> {len(merged.coords)} "
        f"merged boxes in {elapsed:.2f}s"
    )
    return data.n_images / elapsed


def bench_bulk_scoring(data: Synthetic) -> tuple[float, np.ndarray]:
    sub = data.workers[0]
    started = time.perf_counter()
    _, counts = score_boxes_batch(
        data.gt.image,
        data.gt.xywh,
        data.gt.labels,
        sub.image,
        sub.xywh,
        sub.labels,
        data.n_images,
        IOU_THRESHOLD,
    )
    elapsed = time.perf_counter() - started
    return elapsed, counts.matched


def _coco_objects(data: Synthetic):
    from pycocotools.coco import COCO

    sub = data.workers[0]
    images = [{"id": int(i), "width": IMAGE_W, "height": IMAGE_H} for i in range(data.n_images)]
    categories = [{"id": c} for c in range(N_LABELS)]

    def annotations(flat: FlatBoxes, detections: bool) -> list[dict]:
        out = []
        for k, (i, box, label) in enumerate(
            zip(flat.image.tolist(), flat.xywh.tolist(), flat.labels.tolist(), strict=True)
        ):
            ann = {
                "id": k + 1,
                "image_id": i,
                "category_id": label,
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
            }
            if detections:
                ann["score"] = 1.0
            out.append(ann)
        return out

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "categories": categories, "annotations": annotations(data.gt, False)}
        gt.createIndex()
        dt = COCO()
        dt.dataset = {"images": images, "categories": categories, "annotations": annotations(sub, True)}
        dt.createIndex()
    return gt, dt


def bench_cocoeval(data: Synthetic) -> tuple[float, int]:
    from pycocotools.cocoeval import COCOeval

    gt, dt = _coco_objects(data)
    evaluator = COCOeval(gt, dt, "bbox")
    evaluator.params.iouThrs = np.array([IOU_THRESHOLD])
    evaluator.params.areaRng = [[0, 1e10]]
    evaluator.params.areaRngLbl = ["all"]
    evaluator.params.maxDets = [100]
    with contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        evaluator.evaluate()
        elapsed = time.perf_counter() - started
    matched = sum(int((e["gtMatches"][0] > 0).sum()) for e in evaluator.evalImgs if e is not None)
    return elapsed, matched


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=100_000, help="synthetic images (default 100000)")
    parser.add_argument("--assignments", type=int, default=5_000, help="assignments for the latency test")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    data = make_synthetic(args.images, 3, args.seed)
    print(
        f"synthetic: {args.images} images, {len(data.gt.image)} GT boxes, 3 workers "
        f"({time.perf_counter() - started:.1f}s to generate)"
    )

    p50, p99, cpu_p99 = bench_assignment_latency(data, args.assignments, args.seed)
    print(
        f"score one assignment (2 GT images): p50 {p50:.3f} ms, p99 {p99:.3f} ms wall "
        f"over {args.assignments}; p99 {cpu_p99:.3f} ms in CPU time (the wall-clock tail includes time "
        "the process was not scheduled)"
    )

    merge_rate = bench_merge(data)
    print(f"merge throughput: {merge_rate:,.0f} images/s")

    ours, our_matched = bench_bulk_scoring(data)
    theirs, their_matched = bench_cocoeval(data)
    print(
        f"bulk scoring {args.images} images: ours {ours:.2f}s ({args.images / ours:,.0f} images/s), "
        f"COCOeval.evaluate() {theirs:.2f}s ({args.images / theirs:,.0f} images/s); matched boxes "
        f"ours {int(our_matched.sum())} vs COCOeval {their_matched} (Hungarian >= COCOeval's greedy)"
    )
    print(f"merge_images_per_s={merge_rate:.0f} score_ms_p99={p99:.3f} cocoeval_ratio={theirs / ours:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
