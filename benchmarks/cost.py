"""Label quality per dollar: fixed overlap vs adaptive GT + dynamic overlap, replayed on real crowd answers.

Run: ``python benchmarks/cost.py [--runs N] [--threshold X] [--sets ...]``. Needs
``../shared/datasets`` (or ``TILEWORK_SHARED``); without it, prints a message and exits 0.

Each VLDB'17 set (real workers' answers with gold) and the pedestrian boxes (7 MTurk workers per image,
expert boxes) becomes a job: a random 15% of the gold items is the hidden GT pool, the rest is the
work. The replay issues assignments the way the product does,
with the product's own decisions (:mod:`marketplace.quality.adaptive` for the GT share and dynamic
overlap, :func:`~marketplace.quality.scoring.score_classification` to accept or reject,
:mod:`marketplace.quality.sprt` to ban, :func:`~marketplace.quality.selection.select_aggregator` for
the final labels). What the real data forces: a worker can only be given items they answered, so an
assignment is the next item needing an answer, taken by the next worker (in random order) of those
who answered it, plus other items needing answers that this worker answered; their GT slots are
filled with their real answers on GT items, in random order (a slot they never answered is paid but
not scored). An answer once drawn is used up; a rejected assignment's answers are discarded (and not
paid) and its items wait for another worker.

Boxes: a GT item passes when the product's box score reaches the target; the GT-calibrated merge
(:mod:`marketplace.quality.box_calibration`, calibrated on the workers' GT answers) decides, and an
image wants one more worker while a merged box is uncertain or drawn by one worker only
(``DYNAMIC_MAX_UNCERTAINTY``); an image is right when the merge matches every expert box at IoU 0.7
and adds none.

Cost is what the requester pays: every item slot (work or GT) of an accepted assignment is one unit.
``cost_per_correct`` = units paid / work items whose final label is right. Items whose final
confidence stays below 0.7 would go to a reviewer; they are counted (``reviews``) but not priced.

Policies, all at the job's accuracy target (SPRT target and floor, assignment acceptance):

* ``fixed``: overlap 3, one GT item per five work items (17% GT), as HUMAN's marketplace runs.
* ``old_defaults``: the product's defaults before this change: overlap 1, 2 GT per 10 items (20%).
* ``adaptive``: overlap 1 to start, one more worker while the item's posterior is below the
  product's default threshold (up to the cap; each worker's accuracy from their GT record and, at
  half weight, how often their answers matched items the others settled), 2 GT slots per 10 items
  for a new worker, falling to 15% of that as the SPRT's evidence that they are at the target grows
  (monitoring continues).

Last line: ``cost_per_correct_adaptive=<x> cost_per_correct_fixed=<x> ratio=<x> accuracy_adaptive=<x>
accuracy_fixed=<x> gt_share_adaptive=<x>``: the mean over the five sets (units and correct items
summed per set first, so the 8k-item set does not drown the others).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._datasets import (  # noqa: E402
    VLDB_SETS,
    LabelledCrowd,
    PedestrianBoxes,
    load_pedestrians,
    load_vldb,
    shared_datasets_dir,
)
from benchmarks.aggregation import BoxTally  # noqa: E402
from marketplace.models.job import DEFAULT_CONFIDENCE_THRESHOLD  # noqa: E402
from marketplace.quality.adaptive import (  # noqa: E402
    DEFAULT_KEEP,
    GtPolicy,
    agreements,
    answer_accuracy,
    answer_posterior,
    class_prior,
    crowd_confusion,
    gt_accuracy,
    gt_slots,
    wants_another_worker,
)
from marketplace.quality.aggregation import CrowdAnswers  # noqa: E402
from marketplace.quality.box_calibration import (  # noqa: E402
    DYNAMIC_MAX_UNCERTAINTY,
    learn_box_calibration,
    merge_boxes_calibrated,
    needs_another_worker,
)
from marketplace.quality.merging import WorkerBoxes  # noqa: E402
from marketplace.quality.scoring import BoxSet, score_boxes, score_classification  # noqa: E402
from marketplace.quality.selection import select_aggregator  # noqa: E402
from marketplace.quality.sprt import Decision, SprtConfig, SprtState, sprt_update  # noqa: E402

GT_SHARE_OF_GOLD = 0.15
REVIEW_BELOW = 0.7  # the product's class_low_confidence


@dataclass(frozen=True)
class Policy:
    name: str
    work: int  # work items per assignment for a new worker
    gt: int  # GT slots per assignment
    overlap: int  # answers every item gets
    cap: int  # most answers an item gets (== overlap: no dynamic overlap)
    keep: float = 1.0  # a trusted worker's GT slot stays GT with this probability
    threshold: float = 0.0  # dynamic overlap: one more worker below this posterior


POLICIES = (
    Policy("fixed", work=5, gt=1, overlap=3, cap=3),
    Policy("old_defaults", work=10, gt=2, overlap=1, cap=1),
    Policy(
        "adaptive", work=10, gt=2, overlap=1, cap=5, keep=DEFAULT_KEEP, threshold=DEFAULT_CONFIDENCE_THRESHOLD
    ),
)


@dataclass
class Worker:
    gt_answers: list[tuple[int, int]]  # (GT item, label), in random order
    sprt: SprtState = field(default_factory=SprtState)
    passed: int = 0
    scored: int = 0
    agreed: int = 0  # answers that matched items the others settled (no GT)
    compared: int = 0
    next_gt: int = 0

    def next_gt_answer(self) -> tuple[int, int] | None:
        if not self.gt_answers:
            return None
        answer = self.gt_answers[self.next_gt % len(self.gt_answers)]
        self.next_gt += 1
        return answer

    def accuracy(self, prior_mean: float) -> float:
        return answer_accuracy(self.passed, self.scored, self.agreed, self.compared, prior_mean, strength=4.0)


@dataclass
class Outcome:
    paid: int = 0
    gt_paid: int = 0
    correct: int = 0
    items: int = 0
    answers: int = 0
    reviews: int = 0
    banned: int = 0

    @property
    def cost_per_correct(self) -> float:
        return self.paid / max(self.correct, 1)


class Task:
    """What differs between classification and boxes: the answers, a GT check, the dynamic-overlap
    test and the final merge."""

    answers: list[tuple[Any, Any, Any]]  # (item, worker, answer)
    gold: dict[Any, Any]

    def accepts(self, shown: list[tuple[Any, Any]], target: float) -> tuple[bool, list[bool]]:
        raise NotImplementedError

    def prepare(self, gt_items: set[Any], answers: dict[Any, list[tuple[Any, Any]]]) -> None:
        """Called once the GT items are drawn (``answers``: every worker's GT answers)."""

    def record_gt(self, shown: list[tuple[Any, Any]]) -> None:
        """An accepted assignment's GT answers (what the product learns the crowd's errors from)."""

    def wants_more(
        self, got: list[tuple[Any, Any]], accuracy: Callable[[Any], float], policy: Policy
    ) -> bool:
        raise NotImplementedError

    def agreement(self, got: list[tuple[Any, Any]], accuracy: Callable[[Any], float]) -> list[bool | None]:
        """Per answer on an item that needs no more: does it match what the others settle on?"""
        return [None] * len(got)

    def final(
        self,
        accepted: dict[Any, list[tuple[Any, Any]]],
        gt_votes: list[tuple[Any, Any, Any]],
        gt_items: set[Any],
        work_items: list[Any],
        out: Outcome,
    ) -> Outcome:
        raise NotImplementedError


class ClassTask(Task):
    def __init__(self, crowd: LabelledCrowd) -> None:
        a = crowd.answers
        self.answers = list(zip(a.item.tolist(), a.worker.tolist(), a.label.tolist(), strict=True))
        self.gold = dict(crowd.truth)
        self.n_classes = a.n_classes
        self.prior = np.full(self.n_classes, 1.0 / self.n_classes)

    def prepare(self, gt_items: set[Any], answers: dict[Any, list[tuple[Any, Any]]]) -> None:
        self.prior = class_prior([self.gold[i] for i in gt_items], self.n_classes)
        self.gt_truth: list[int] = []
        self.gt_given: list[int] = []
        self.confusion: np.ndarray | None = None

    def record_gt(self, shown: list[tuple[Any, Any]]) -> None:
        self.gt_truth += [self.gold[i] for i, _ in shown]
        self.gt_given += [label for _, label in shown]
        self.confusion = crowd_confusion(self.gt_truth, self.gt_given, self.n_classes)

    def accepts(self, shown: list[tuple[Any, Any]], target: float) -> tuple[bool, list[bool]]:
        score = score_classification(
            {n: self.gold[i] for n, (i, _) in enumerate(shown)},
            {n: label for n, (_, label) in enumerate(shown)},
            target=target,
        )
        return score.accepted, [label == self.gold[i] for i, label in shown]

    def wants_more(
        self, got: list[tuple[Any, Any]], accuracy: Callable[[Any], float], policy: Policy
    ) -> bool:
        labels = [label for _, label in got]
        posterior = answer_posterior(
            labels, [accuracy(w) for w, _ in got], self.n_classes, self.prior, self.confusion
        )
        return wants_another_worker(float(posterior.max()), len(got), policy.threshold, policy.cap)

    def agreement(self, got: list[tuple[Any, Any]], accuracy: Callable[[Any], float]) -> list[bool | None]:
        labels = [label for _, label in got]
        return agreements(labels, [accuracy(w) for w, _ in got], self.n_classes, self.prior, self.confusion)

    def final(
        self,
        accepted: dict[Any, list[tuple[Any, Any]]],
        gt_votes: list[tuple[Any, Any, Any]],
        gt_items: set[Any],
        work_items: list[Any],
        out: Outcome,
    ) -> Outcome:
        """The product's merge (GT-selected aggregator, GT clamped) over every accepted answer."""
        triples = [(i, w, label) for i, got in accepted.items() for w, label in got] + gt_votes
        if not triples:
            return out
        answers = CrowdAnswers.from_triples(triples, labels=list(range(self.n_classes)))
        index = {item: n for n, item in enumerate(answers.item_ids)}
        known = {index[i]: self.gold[i] for i in gt_items if i in index}
        merged = select_aggregator(answers, known).aggregate
        for item in work_items:
            n = index.get(item)
            if n is not None:
                out.correct += int(merged.labels[n] == self.gold[item])
                out.reviews += int(merged.confidence[n] < REVIEW_BELOW)
        return out


class BoxTask(Task):
    """Pedestrian boxes: a GT item passes at the job's target with the product's box score; an image
    wants one more worker while its GT-calibrated merge has a box that is uncertain or drawn by one
    worker (:func:`~marketplace.quality.box_calibration.needs_another_worker`); an image is right
    when the merge matches every expert box at IoU 0.7 and adds none (the aggregation benchmark's
    "strict")."""

    def __init__(self, data: PedestrianBoxes) -> None:
        self.answers = [(i, w, boxes) for i, workers in data.crowd.items() for w, boxes in workers.items()]
        self.gold = dict(data.expert)
        self.calibration = learn_box_calibration({}, {})

    def prepare(self, gt_items: set[Any], answers: dict[Any, list[tuple[Any, Any]]]) -> None:
        drawn: dict[Any, dict[Any, BoxSet]] = defaultdict(dict)
        for worker, shown in answers.items():
            for image, boxes in shown:
                drawn[image][worker] = boxes
        self.calibration = learn_box_calibration(drawn, {i: self.gold[i] for i in drawn}, overlap=3)

    def accepts(self, shown: list[tuple[Any, Any]], target: float) -> tuple[bool, list[bool]]:
        gt: dict[Hashable, BoxSet] = {n: self.gold[i] for n, (i, _) in enumerate(shown)}
        drawn: dict[Hashable, BoxSet] = {n: b for n, (_, b) in enumerate(shown)}
        score = score_boxes(gt, drawn, target=target, iou_threshold=0.5)
        return score.accepted, [item.accuracy >= target for item in score.items]

    def _merge(self, got: list[tuple[Any, Any]]) -> Any:
        return merge_boxes_calibrated([WorkerBoxes(w, boxes) for w, boxes in got], self.calibration)

    def wants_more(
        self, got: list[tuple[Any, Any]], accuracy: Callable[[Any], float], policy: Policy
    ) -> bool:
        uncertain = needs_another_worker(self._merge(got), max_uncertainty=DYNAMIC_MAX_UNCERTAINTY)
        return len(got) < policy.cap and len(uncertain) > 0

    def final(
        self,
        accepted: dict[Any, list[tuple[Any, Any]]],
        gt_votes: list[tuple[Any, Any, Any]],
        gt_items: set[Any],
        work_items: list[Any],
        out: Outcome,
    ) -> Outcome:
        for image in work_items:
            got = accepted.get(image)
            if not got:
                continue
            merged = self._merge(got)
            tally = BoxTally()
            tally.add(BoxSet.of(merged.merged.coords, merged.merged.labels), self.gold[image])
            out.correct += tally.strict
            out.reviews += int(len(got) > 1 and len(needs_another_worker(merged, min_support=0)) > 0)
        return out


def replay(task: Task, policy: Policy, target: float, seed: int) -> Outcome:
    rng = random.Random(seed)
    gold_items = sorted(task.gold, key=str)
    rng.shuffle(gold_items)
    gt_items = set(gold_items[: max(20, round(GT_SHARE_OF_GOLD * len(gold_items)))])
    work_items = [i for i in gold_items if i not in gt_items]
    pools: dict[Any, list[tuple[Any, Any]]] = defaultdict(list)  # work item -> (worker, answer) unused
    answered_by: dict[Any, set[Any]] = defaultdict(set)  # worker -> work items with an unused answer
    gt_by_worker: dict[Any, list[tuple[Any, Any]]] = defaultdict(list)
    for item, worker, answer in task.answers:
        if item in gt_items:
            gt_by_worker[worker].append((item, answer))
        elif item in task.gold:
            pools[item].append((worker, answer))
            answered_by[worker].add(item)
    task.prepare(gt_items, gt_by_worker)
    for pool in pools.values():
        rng.shuffle(pool)
    workers = {w: Worker(gt_by_worker.get(w, [])) for w in sorted({w for _, w, _ in task.answers}, key=str)}
    for w in workers.values():
        rng.shuffle(w.gt_answers)
    config = SprtConfig(p1=target, p0=max(0.01, target - 0.2), keep_monitoring=policy.keep < 1.0)
    gt_policy = GtPolicy(keep=policy.keep)
    accepted: dict[Any, list[tuple[Any, Any]]] = defaultdict(list)  # item -> (worker, answer)
    gt_votes: list[tuple[Any, Any, Any]] = []
    needy = {i for i in work_items if pools[i]}
    out = Outcome(items=len(work_items))
    crowd = [0, 0]  # GT passed, GT scored: the centre of a new worker's accuracy

    def accuracy(worker: Any) -> float:
        return workers[worker].accuracy(gt_accuracy(crowd[0], crowd[1]))

    def still_needy(item: Any) -> bool:
        if not pools[item]:
            return False
        got = accepted[item]
        if len(got) < policy.overlap:
            return True
        return policy.cap > policy.overlap and task.wants_more(got, accuracy, policy)

    while needy:
        item = rng.choice(sorted(needy, key=str))
        worker_id, _ = pools[item][-1]
        worker = workers[worker_id]
        if worker.sprt.decision is Decision.BAN:
            _use_answer(pools, answered_by, item, worker_id)
            if not still_needy(item):
                needy.discard(item)
            continue
        g = gt_slots(worker.sprt, config, policy.gt, gt_policy, rng)
        room = policy.work + policy.gt - g - 1
        others = sorted((answered_by[worker_id] & needy) - {item}, key=str)
        batch = [item, *rng.sample(others, min(room, len(others)))]
        answers = [(i, _use_answer(pools, answered_by, i, worker_id)) for i in batch]
        gt_shown = [x for x in (worker.next_gt_answer() for _ in range(g)) if x is not None]
        ok, passes = task.accepts(gt_shown, target)
        for passed in passes:
            worker.sprt = sprt_update(worker.sprt, passed, config)
            worker.passed += int(passed)
            worker.scored += 1
            crowd[0] += int(passed)
            crowd[1] += 1
        if worker.sprt.decision is Decision.BAN:
            out.banned += 1
        if ok and worker.sprt.decision is not Decision.BAN:
            out.paid += len(batch) + g
            out.gt_paid += g
            out.answers += len(batch)
            for i, answer in answers:
                accepted[i].append((worker_id, answer))
            gt_votes.extend((i, worker_id, answer) for i, answer in gt_shown)
            task.record_gt(gt_shown)
        for i in batch:
            if i in needy and not still_needy(i):
                needy.discard(i)
                if policy.cap > policy.overlap:  # dynamic overlap learns from the items it settles
                    for (w, _), match in zip(accepted[i], task.agreement(accepted[i], accuracy), strict=True):
                        workers[w].agreed += int(bool(match))
                        workers[w].compared += int(match is not None)
    return task.final(accepted, gt_votes, gt_items, work_items, out)


def _use_answer(
    pools: dict[Any, list[tuple[Any, Any]]], answered_by: dict[Any, set[Any]], item: Any, worker: Any
) -> Any:
    pool = pools[item]
    index = next(n for n, (w, _) in enumerate(pool) if w == worker)
    _, answer = pool.pop(index)
    answered_by[worker].discard(item)
    return answer


def mean_outcome(task: Task, policy: Policy, target: float, runs: int) -> Outcome:
    total = Outcome()
    for seed in range(runs):
        o = replay(task, policy, target, seed)
        for name in ("paid", "gt_paid", "correct", "items", "answers", "reviews", "banned"):
            setattr(total, name, getattr(total, name) + getattr(o, name))
    return total


def _class_task(root: Path, folder: str) -> Task:
    return ClassTask(load_vldb(root, folder))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=10,
        help="replays per set and policy (random orders; 5 swing the ratio by 0.02)",
    )
    parser.add_argument("--target", type=float, default=0.8, help="the jobs' accuracy target")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="the adaptive policy's confidence threshold (default: the product's, "
        f"{DEFAULT_CONFIDENCE_THRESHOLD})",
    )
    parser.add_argument(
        "--sets", nargs="+", default=None, help="only these sets (folder names; default: all five)"
    )
    args = parser.parse_args(argv)
    root = shared_datasets_dir()
    if root is None:
        print("shared datasets not found (expected ../shared/datasets or TILEWORK_SHARED); nothing to run.")
        return 0
    per_set: dict[str, dict[str, Outcome]] = {}
    print(
        f"{'set':24} {'policy':13} {'accuracy':>9} {'cost/correct':>12} {'answers/item':>12} "
        f"{'GT share':>9} {'reviews':>8} {'bans':>5}"
    )
    tasks: dict[str, Callable[[], Task]] = {
        folder: functools.partial(_class_task, root, folder) for folder in VLDB_SETS
    }
    tasks["pedestrian_boxes_dev"] = lambda: BoxTask(load_pedestrians(root))
    unknown = sorted(set(args.sets or []) - set(tasks))
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; the sets: {', '.join(tasks)}")
    tasks = {name: make for name, make in tasks.items() if args.sets is None or name in args.sets}
    for folder, make in tasks.items():
        task = make()
        per_set[folder] = {}
        for policy in POLICIES:
            if args.threshold is not None and policy.threshold:
                policy = dataclasses.replace(policy, threshold=args.threshold)
            o = mean_outcome(task, policy, args.target, args.runs)
            per_set[folder][policy.name] = o
            print(
                f"{folder:24} {policy.name:13} {o.correct / o.items:9.4f} {o.cost_per_correct:12.3f} "
                f"{o.answers / o.items:12.2f} {o.gt_paid / max(o.paid, 1):9.3f} "
                f"{o.reviews / args.runs:8.1f} {o.banned / args.runs:5.1f}"
            )
        ratio = per_set[folder]["adaptive"].cost_per_correct / per_set[folder]["fixed"].cost_per_correct
        print(f"{folder:24} ratio adaptive/fixed = {ratio:.3f}")

    def mean(policy: str, metric: str) -> float:
        def value(o: Outcome) -> float:
            if metric == "cost":
                return o.cost_per_correct
            return o.correct / o.items if metric == "accuracy" else o.gt_paid / max(o.paid, 1)

        return float(np.mean([value(outcomes[policy]) for outcomes in per_set.values()]))

    adaptive, fixed = mean("adaptive", "cost"), mean("fixed", "cost")
    print(
        f"cost_per_correct_adaptive={adaptive:.3f} cost_per_correct_fixed={fixed:.3f} "
        f"ratio={adaptive / fixed:.3f} accuracy_adaptive={mean('adaptive', 'accuracy'):.4f} "
        f"accuracy_fixed={mean('fixed', 'accuracy'):.4f} gt_share_adaptive={mean('adaptive', 'gt'):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
