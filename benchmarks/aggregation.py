"""Label aggregation and box merging on real crowd data, beside published numbers.

Run: ``python benchmarks/aggregation.py [--draws N]``. Needs ``../shared/datasets`` (or
``TILEWORK_SHARED``); without it, prints a message and exits 0.

* VLDB'17 truth-inference sets: majority vote (ties split in expectation, i.e. a k-way tie holding
  the truth counts 1/k) and Dawid-Skene, beside Table 6 of Zheng et al., PVLDB 10(5), 2017.
* The product's aggregation (:func:`marketplace.quality.selection.select_aggregator`) beside majority
  vote and every crowd-kit method (crowd-kit is an optional test-extra oracle: without it the table
  says so and the best-method margin is measured against our majority vote only). The product sees
  only a GT subset of the gold items (``--gt-share``, default 20%, as a job's hidden GT), selects
  and clamps with it, and is scored on the other gold items; the figures are means over
  ``--splits`` random GT/evaluation splits (crowd-kit is fitted once: it uses no GT).
* Pedestrian boxes (7 MTurk workers per image, expert boxes): boxes merged from 3 random workers vs
  a single worker; then, with a quarter of the images as GT, 3/5/7-worker merges of the other
  images with equal weights, GT-accuracy weights and the product's GT-calibrated merge
  (:mod:`marketplace.quality.box_calibration`; ``boxes3_strict`` is its 3-worker figure).
  ``strict`` = share of images where every expert box is matched at IoU >= 0.7 and no box is extra;
  ``mean IoU`` = mean over expert boxes of the IoU with its Hungarian partner (0 if none).

Last line: ``ds_product_acc=<x> ds_possent_acc=<x> boxes3_strict=<x> boxes1_strict=<x>
min_margin_vs_mv=<points> min_margin_vs_best=<points>`` (margins: the product minus majority vote /
minus the best crowd-kit method, in accuracy points, the worst set).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._datasets import (  # noqa: E402
    VLDB_SETS,
    LabelledCrowd,
    PedestrianBoxes,
    load_pedestrians,
    load_published,
    load_vldb,
    shared_datasets_dir,
)
from marketplace.quality.aggregation import accuracy_against, dawid_skene, expected_accuracy, expected_f1  # noqa: E402
from marketplace.quality.aggregators import soft_majority  # noqa: E402
from marketplace.quality.box_calibration import learn_box_calibration, merge_boxes_calibrated  # noqa: E402
from marketplace.quality.merging import WorkerBoxes, merge_boxes  # noqa: E402
from marketplace.quality.scoring import BoxSet, iou_matrix, max_matching, score_boxes  # noqa: E402
from marketplace.quality.selection import expected_hits, select_aggregator  # noqa: E402

STRICT_IOU = 0.7


def _pct(value: float) -> str:
    return f"{100 * value:6.2f}%"


def _f1(aggregate_labels: np.ndarray, truth: dict[int, int], positive: int = 1) -> float:
    items = np.fromiter(truth.keys(), dtype=np.intp)
    labels = np.fromiter(truth.values(), dtype=np.intp)
    predicted = aggregate_labels[items] == positive
    actual = labels == positive
    tp = int((predicted & actual).sum())
    denominator = 2 * tp + int((predicted & ~actual).sum()) + int((~predicted & actual).sum())
    return 0.0 if denominator == 0 else 2 * tp / denominator


def run_vldb(root: Path) -> dict[str, float]:
    published = load_published(root)
    ds_accuracy: dict[str, float] = {}
    print(
        f"{'dataset':<24}{'items':>7}{'answers':>9}  {'MV acc':>8} {'pub':>8}  {'D&S acc':>8} {'pub':>8}  "
        f"{'MV F1':>8} {'pub':>8}  {'D&S F1':>8} {'pub':>8}  {'D&S s':>6}"
    )
    for folder, (name, _) in VLDB_SETS.items():
        crowd = load_vldb(root, folder)
        counts = crowd.answers.vote_counts()
        mv = expected_accuracy(counts, crowd.truth)
        started = time.perf_counter()
        ds = dawid_skene(crowd.answers)
        elapsed = time.perf_counter() - started
        ds_acc = accuracy_against(ds, crowd.truth)
        ds_accuracy[folder] = ds_acc
        binary = crowd.answers.n_classes == 2
        positive = crowd.answers.label_ids.index("1") if binary and "1" in crowd.answers.label_ids else 1
        mv_f1 = _pct(expected_f1(counts, crowd.truth, positive)) if binary else "-"
        ds_f1 = _pct(_f1(ds.labels, crowd.truth, positive)) if binary else "-"

        def pub(metric: str, method: str, name: str | None = name) -> str:
            return published.get((name or "", metric, method), "-")

        print(
            f"{folder:<24}{crowd.answers.n_items:>7}{len(crowd.answers.item):>9}  {_pct(mv):>8} "
            f"{pub('Accuracy', 'MV'):>8}  {_pct(ds_acc):>8} {pub('Accuracy', 'D&S'):>8}  "
            f"{mv_f1:>8} {pub('F1-score', 'MV'):>8}  {ds_f1:>8} {pub('F1-score', 'D&S'):>8}  {elapsed:6.2f}"
        )
    print("(MV ties split in expectation; pub = Zheng et al. PVLDB 2017 Table 6; '-' = not published)")
    return ds_accuracy


CROWDKIT_METHODS = ("MajorityVote", "DawidSkene", "OneCoinDawidSkene", "GLAD", "MMSR")


def crowdkit_labels(crowd: LabelledCrowd) -> dict[str, np.ndarray | str]:
    """Each crowd-kit method's label index per item (or why it has none); {} without crowd-kit."""
    try:
        import pandas as pd
        from crowdkit import aggregation as ck
    except ImportError:
        return {}
    a = crowd.answers
    frame = pd.DataFrame({"task": a.item, "worker": a.worker, "label": a.label})
    out: dict[str, np.ndarray | str] = {}
    for name in CROWDKIT_METHODS:
        model = (
            getattr(ck, name)(n_iter=100)
            if name in ("DawidSkene", "OneCoinDawidSkene")
            else getattr(ck, name)()
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predicted = model.fit_predict(frame)
            out[name] = predicted.reindex(np.arange(a.n_items)).fillna(-1).to_numpy().astype(np.intp)
        except Exception as error:  # a method that fails on a set is reported, not fatal
            out[name] = f"{type(error).__name__}"
    return out


def gt_split(truth: dict[int, int], share: float, seed: int) -> tuple[dict[int, int], np.ndarray, np.ndarray]:
    """A GT subset of the gold items (what the product may see) and the rest (items, labels) to score."""
    items = np.array(sorted(truth), dtype=np.intp)
    np.random.default_rng(seed).shuffle(items)
    cut = max(10, int(round(share * len(items))))
    gt = {int(i): truth[int(i)] for i in items[:cut]}
    rest = np.sort(items[cut:])
    return gt, rest, np.array([truth[int(i)] for i in rest], dtype=np.intp)


def run_selection(root: Path, splits: int, share: float) -> tuple[float, float]:
    """Product vs majority vote vs crowd-kit per set; returns the worst margins (points)."""
    print(
        f"\nproduct aggregation (chosen per set by a {100 * share:.0f}% GT subset of the gold items, "
        f"scored on the rest; means over {splits} splits)"
    )
    min_mv, min_best = float("inf"), float("inf")
    header_done = False
    for folder in VLDB_SETS:
        crowd = load_vldb(root, folder)
        oracle = crowdkit_labels(crowd)
        if not header_done:
            header_done = True
            if not oracle:
                print(
                    "crowd-kit is not installed (pip install -e '.[test]'): comparing with majority vote only"
                )
            names = [n for n in CROWDKIT_METHODS if not oracle or n in oracle]
            print(
                f"{'dataset':<24}{'gt/eval':>10}  {'MV':>7}  {'product':>7}  "
                + "".join(f"{'ck ' + n[:9]:>13}" for n in (names if oracle else []))
                + f"  {'vs MV':>6} {'vs best':>7}  methods chosen"
            )
        mv_acc, product_acc, chosen = [], [], []
        ck_acc: dict[str, list[float]] = {n: [] for n, v in oracle.items() if not isinstance(v, str)}
        for split in range(splits):
            gt, items, labels = gt_split(crowd.truth, share, split)
            mv_acc.append(float(expected_hits(soft_majority(crowd.answers), items, labels).mean()))
            selection = select_aggregator(crowd.answers, gt)
            product_acc.append(float(expected_hits(selection.aggregate.posterior, items, labels).mean()))
            chosen.append(selection.method)
            for name in ck_acc:
                ck_acc[name].append(float((np.asarray(oracle[name])[items] == labels).mean()))
        mv, product = 100 * np.mean(mv_acc), 100 * np.mean(product_acc)
        ck_means = {n: 100 * float(np.mean(v)) for n, v in ck_acc.items()}
        best = max([mv, *ck_means.values()])
        min_mv, min_best = min(min_mv, product - mv), min(min_best, product - best)
        cells = "".join(
            f"{(f'{ck_means[n]:.2f}%' if n in ck_means else str(oracle[n])[:12]):>13}"
            for n in CROWDKIT_METHODS
            if n in oracle
        )
        split_sizes = f"{len(crowd.truth) - len(items)}/{len(items)}"
        print(
            f"{folder:<24}{split_sizes:>10}  {mv:6.2f}%  {product:6.2f}%  {cells}  {product - mv:+6.2f} "
            f"{product - best:+7.2f}  {', '.join(sorted(set(chosen)))}"
        )
    print("(vs best = product minus the best of majority vote and the crowd-kit methods, in points)")
    return min_mv, min_best


@dataclass
class BoxTally:
    images: int = 0
    strict: int = 0
    expert_boxes: int = 0
    iou_sum: float = 0.0

    def add(self, merged: BoxSet, expert: BoxSet) -> None:
        iou = iou_matrix(expert.xywh, merged.xywh)
        pairs = max_matching(iou, iou > 0)
        ious = iou[pairs[:, 0], pairs[:, 1]]
        strict_matches = int((ious >= STRICT_IOU).sum())
        self.images += 1
        self.strict += int(strict_matches == len(expert) == len(merged))
        self.expert_boxes += len(expert)
        self.iou_sum += float(ious.sum())

    @property
    def strict_share(self) -> float:
        return self.strict / self.images if self.images else float("nan")

    @property
    def mean_iou(self) -> float:
        return self.iou_sum / self.expert_boxes if self.expert_boxes else float("nan")


def run_boxes(root: Path, draws: int, seed: int) -> tuple[float, float]:
    data: PedestrianBoxes = load_pedestrians(root)
    rng = np.random.default_rng(seed)
    single = BoxTally()
    for image, workers in data.crowd.items():  # every worker alone: the expectation over a random one
        for boxes in workers.values():
            single.add(boxes, data.expert[image])
    print(
        f"\npedestrian boxes: {len(data.crowd)} images with expert boxes "
        f"({sum(len(b) for b in data.expert.values())} expert boxes), 7 workers each"
    )
    print(f"{'answer':<28}{'strict share':>13}{'mean IoU':>10}")
    print(f"{'1 worker (all 7 averaged)':<28}{_pct(single.strict_share):>13}{single.mean_iou:>10.3f}")
    results = {}
    for k in (3, 5, 7):
        tally = BoxTally()
        started = time.perf_counter()
        for _ in range(draws if k < 7 else 1):
            for image, workers in data.crowd.items():
                names = sorted(workers)
                chosen = rng.choice(len(names), size=k, replace=False)
                merged = merge_boxes([WorkerBoxes(names[i], workers[names[i]]) for i in chosen])
                tally.add(BoxSet.of(merged.coords, merged.labels), data.expert[image])
        elapsed = time.perf_counter() - started
        label = f"{k} workers merged" + (f" ({draws} draws)" if k < 7 else "")
        print(f"{label:<28}{_pct(tally.strict_share):>13}{tally.mean_iou:>10.3f}   {elapsed:5.2f}s")
        results[k] = tally.strict_share
    product3 = run_weighted(data, draws, seed)
    return product3, single.strict_share


def worker_gt_accuracy(data: PedestrianBoxes, gt_images: list[str], iou_threshold: float) -> dict[str, float]:
    """Each worker's accuracy on the images used as honeypots (counts summed over them)."""
    per_worker: dict[str, tuple[dict[str, BoxSet], dict[str, BoxSet]]] = {}
    for image in gt_images:
        for worker, boxes in data.crowd[image].items():
            gt, submitted = per_worker.setdefault(worker, ({}, {}))
            gt[image] = data.expert[image]
            submitted[image] = boxes
    return {
        worker: score_boxes(gt, sub, target=0.0, iou_threshold=iou_threshold).accuracy
        for worker, (gt, sub) in per_worker.items()
    }


def run_weighted(data: PedestrianBoxes, draws: int, seed: int) -> float:
    """A quarter of the images serve as GT; the rest are merged from 3, 5 and 7 workers three ways:
    equal weights, weights = GT accuracy, and the product's calibrated merge (localisation bias,
    reliability weights, lone boxes and shape learned on the GT quarter,
    :mod:`marketplace.quality.box_calibration`). Returns the product's 3-worker strict share."""
    rng = np.random.default_rng(seed + 1)
    images = sorted(data.crowd)
    rng.shuffle(images)
    cut = len(images) // 4
    accuracy = worker_gt_accuracy(data, images[:cut], STRICT_IOU)
    prior = float(np.mean(list(accuracy.values())))
    gt_answers = {image: data.crowd[image] for image in images[:cut]}
    gt_boxes = {image: data.expert[image] for image in images[:cut]}
    print(
        f"held-out {len(images) - cut} images; the other {cut} serve as GT ({len(accuracy)} workers, "
        f"GT accuracy {min(accuracy.values()):.2f}..{max(accuracy.values()):.2f}):"
    )
    print(f"{'answer':<36}{'strict share':>13}{'mean IoU':>10}")
    product: dict[int, float] = {}
    for k in (3, 5, 7):
        started = time.perf_counter()
        calibration = learn_box_calibration(gt_answers, gt_boxes, overlap=k, seed=seed)
        learned = time.perf_counter() - started
        plain, weighted, calibrated = BoxTally(), BoxTally(), BoxTally()
        for _ in range(draws if k < 7 else 1):
            for image in images[cut:]:
                workers = data.crowd[image]
                names = sorted(workers)
                chosen = [names[i] for i in rng.choice(len(names), size=k, replace=False)]
                expert = data.expert[image]
                merged = merge_boxes([WorkerBoxes(w, workers[w]) for w in chosen])
                plain.add(BoxSet.of(merged.coords, merged.labels), expert)
                merged = merge_boxes([WorkerBoxes(w, workers[w], accuracy.get(w, prior)) for w in chosen])
                weighted.add(BoxSet.of(merged.coords, merged.labels), expert)
                merged = merge_boxes_calibrated(
                    [WorkerBoxes(w, workers[w]) for w in chosen], calibration
                ).merged
                calibrated.add(BoxSet.of(merged.coords, merged.labels), expert)
        for name, tally in (
            ("equal weights", plain),
            ("GT-weighted", weighted),
            ("product (GT-calibrated)", calibrated),
        ):
            print(f"{f'{k} merged, {name}':<36}{_pct(tally.strict_share):>13}{tally.mean_iou:>10.3f}")
        product[k] = calibrated.strict_share
        pairs = calibration.matched_pairs
        print(f"{'':<36}(calibration learned in {learned:.2f}s from {pairs} matched GT boxes)")
    return product[3]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--draws", type=int, default=20, help="random 3-of-7 worker draws (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", type=int, default=3, help="GT/evaluation splits per set (default 3)")
    parser.add_argument("--gt-share", type=float, default=0.2, help="share of gold items used as GT")
    args = parser.parse_args()
    root = shared_datasets_dir()
    if root is None:
        print(
            "shared datasets not found (expected ../shared/datasets beside the repository, or set "
            "TILEWORK_SHARED); nothing to benchmark."
        )
        return 0
    ds = run_vldb(root)
    margin_mv, margin_best = run_selection(root, args.splits, args.gt_share)
    boxes3, boxes1 = run_boxes(root, args.draws, args.seed)
    print(
        f"ds_product_acc={100 * ds['vldb17_D_Product']:.2f} "
        f"ds_possent_acc={100 * ds['vldb17_D_PosSent']:.2f} "
        f"boxes3_strict={100 * boxes3:.2f} boxes1_strict={100 * boxes1:.2f} "
        f"min_margin_vs_mv={margin_mv:.2f} min_margin_vs_best={margin_best:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
