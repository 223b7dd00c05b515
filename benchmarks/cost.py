"""Label quality per dollar: fixed overlap vs adaptive GT + dynamic overlap, replayed on real crowd answers.

Run: ``python benchmarks/cost.py [--runs N]``. Needs ``../shared/datasets`` (or ``TILEWORK_SHARED``);
without it, prints a message and exits 0.

Each VLDB'17 set (real workers' answers with gold) becomes a job: a random 15% of the gold items is
the hidden GT pool, the rest is the work. The replay issues assignments the way the product does,
with the product's own decisions (:mod:`marketplace.quality.adaptive` for the GT share and dynamic
overlap, :func:`~marketplace.quality.scoring.score_classification` to accept or reject,
:mod:`marketplace.quality.sprt` to ban, :func:`~marketplace.quality.selection.select_aggregator` for
the final labels). What the real data forces: a worker can only be given items they answered, so an
assignment is the next item needing an answer, taken by the next worker (in random order) of those
who answered it, plus other items needing answers that this worker answered; their GT slots are
filled with their real answers on GT items, in random order (a slot they never answered is paid but
not scored). An answer once drawn is used up; a rejected assignment's answers are discarded (and not
paid) and its items wait for another worker.

Cost is what the requester pays: every item slot (work or GT) of an accepted assignment is one unit.
``cost_per_correct`` = units paid / work items whose final label is right. Items whose final
confidence stays below 0.7 would go to a reviewer; they are counted (``reviews``) but not priced.

Policies, all at the job's accuracy target (SPRT target and floor, assignment acceptance):

* ``fixed``: overlap 3, one GT item per five work items (17% GT), as HUMAN's marketplace runs.
* ``old_defaults``: the product's defaults before this change: overlap 1, 2 GT per 10 items (20%).
* ``adaptive``: overlap 1 to start, one more worker while the item's posterior is below the
  threshold (up to the cap), 2 GT slots per 10 items for a new worker, falling to 15% of that as
  the SPRT's evidence that they are at the target grows (monitoring continues).

Last line: ``cost_per_correct_adaptive=<x> cost_per_correct_fixed=<x> ratio=<x> accuracy_adaptive=<x>
accuracy_fixed=<x> gt_share_adaptive=<x>``, over all sets (units and correct items summed per set,
then the mean over sets, so the 8k-item set does not drown the others).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._datasets import VLDB_SETS, LabelledCrowd, load_vldb, shared_datasets_dir  # noqa: E402
from marketplace.quality.adaptive import (  # noqa: E402
    DEFAULT_KEEP,
    GtPolicy,
    answer_posterior,
    class_prior,
    gt_accuracy,
    gt_slots,
    wants_another_worker,
)
from marketplace.quality.aggregation import CrowdAnswers  # noqa: E402
from marketplace.quality.scoring import score_classification  # noqa: E402
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
    Policy("adaptive", work=10, gt=2, overlap=1, cap=5, keep=DEFAULT_KEEP, threshold=0.85),
)


@dataclass
class Worker:
    gt_answers: list[tuple[int, int]]  # (GT item, label), in random order
    sprt: SprtState = field(default_factory=SprtState)
    passed: int = 0
    scored: int = 0
    next_gt: int = 0

    def next_gt_answer(self) -> tuple[int, int] | None:
        if not self.gt_answers:
            return None
        answer = self.gt_answers[self.next_gt % len(self.gt_answers)]
        self.next_gt += 1
        return answer

    def accuracy(self, prior_mean: float) -> float:
        return gt_accuracy(self.passed, self.scored, prior_mean, strength=4.0)


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


def replay(crowd: LabelledCrowd, policy: Policy, target: float, seed: int) -> Outcome:
    rng = random.Random(seed)
    a = crowd.answers
    gold = dict(crowd.truth)
    gold_items = sorted(gold)
    rng.shuffle(gold_items)
    gt_items = set(gold_items[: max(20, round(GT_SHARE_OF_GOLD * len(gold_items)))])
    work_items = [i for i in gold_items if i not in gt_items]
    pools: dict[int, list[tuple[int, int]]] = defaultdict(list)  # work item -> (worker, label) unused
    answered_by: dict[int, set[int]] = defaultdict(set)  # worker -> work items with an unused answer
    gt_by_worker: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for item, worker, label in zip(a.item.tolist(), a.worker.tolist(), a.label.tolist(), strict=True):
        if item in gt_items:
            gt_by_worker[worker].append((item, label))
        elif item in gold:
            pools[item].append((worker, label))
            answered_by[worker].add(item)
    for pool in pools.values():
        rng.shuffle(pool)
    workers = {w: Worker(gt_by_worker.get(w, [])) for w in range(a.n_workers)}
    for w in workers.values():
        rng.shuffle(w.gt_answers)
    config = SprtConfig(p1=target, p0=max(0.01, target - 0.2), keep_monitoring=policy.keep < 1.0)
    gt_policy = GtPolicy(keep=policy.keep)
    accepted: dict[int, list[tuple[int, int]]] = defaultdict(list)  # item -> (worker, label)
    gt_votes: list[tuple[int, int, int]] = []
    needy = {i for i in work_items if pools[i]}
    out = Outcome(items=len(work_items))
    k = a.n_classes
    prior = class_prior([gold[i] for i in gt_items], k)
    crowd_passed, crowd_scored = [0], [0]

    def still_needy(item: int) -> bool:
        if not pools[item]:
            return False
        got = accepted[item]
        if len(got) < policy.overlap:
            return True
        if policy.cap <= policy.overlap:
            return False
        labels = [label for _, label in got]
        crowd_mean = gt_accuracy(crowd_passed[0], crowd_scored[0])
        accuracies = [workers[w].accuracy(crowd_mean) for w, _ in got]
        posterior = answer_posterior(labels, accuracies, k, prior)
        return wants_another_worker(float(posterior.max()), len(got), policy.threshold, policy.cap)

    while needy:
        item = rng.choice(sorted(needy))
        worker_id, _ = pools[item][-1]
        worker = workers[worker_id]
        if worker.sprt.decision is Decision.BAN:
            _use_answer(pools, answered_by, item, worker_id)
            if not still_needy(item):
                needy.discard(item)
            continue
        g = gt_slots(worker.sprt, config, policy.gt, gt_policy, rng)
        room = policy.work + policy.gt - g - 1
        others = sorted((answered_by[worker_id] & needy) - {item})
        batch = [item, *rng.sample(others, min(room, len(others)))]
        answers = [(i, _use_answer(pools, answered_by, i, worker_id)) for i in batch]
        gt_shown = [x for x in (worker.next_gt_answer() for _ in range(g)) if x is not None]
        score = score_classification(
            {n: gold[i] for n, (i, _) in enumerate(gt_shown)},
            {n: label for n, (_, label) in enumerate(gt_shown)},
            target=target,
        )
        for n, (_, label) in enumerate(gt_shown):
            passed = label == gold[gt_shown[n][0]]
            worker.sprt = sprt_update(worker.sprt, passed, config)
            worker.passed += int(passed)
            worker.scored += 1
            crowd_passed[0] += int(passed)
            crowd_scored[0] += 1
        if worker.sprt.decision is Decision.BAN:
            out.banned += 1
        if score.accepted and worker.sprt.decision is not Decision.BAN:
            out.paid += len(batch) + g
            out.gt_paid += g
            out.answers += len(batch)
            for i, label in answers:
                accepted[i].append((worker_id, label))
            gt_votes.extend((i, worker_id, label) for i, label in gt_shown)
        for i in batch:
            if not still_needy(i):
                needy.discard(i)
    return _final(crowd, accepted, gt_votes, gt_items, work_items, out)


def _use_answer(
    pools: dict[int, list[tuple[int, int]]], answered_by: dict[int, set[int]], item: int, worker: int
) -> int:
    pool = pools[item]
    index = next(n for n, (w, _) in enumerate(pool) if w == worker)
    _, label = pool.pop(index)
    answered_by[worker].discard(item)
    return label


def _final(
    crowd: LabelledCrowd,
    accepted: dict[int, list[tuple[int, int]]],
    gt_votes: list[tuple[int, int, int]],
    gt_items: set[int],
    work_items: list[int],
    out: Outcome,
) -> Outcome:
    """The product's merge (GT-selected aggregator, GT clamped) over every accepted answer."""
    triples = [(i, w, label) for i, got in accepted.items() for w, label in got]
    triples += [(i, w, label) for i, w, label in gt_votes]
    if not triples:
        return out
    labels = list(range(crowd.answers.n_classes))
    answers = CrowdAnswers.from_triples(triples, labels=labels)
    index = {item: n for n, item in enumerate(answers.item_ids)}
    known = {index[i]: crowd.truth[i] for i in gt_items if i in index}
    merged = select_aggregator(answers, known).aggregate
    for item in work_items:
        n = index.get(item)
        if n is None:
            continue
        out.correct += int(merged.labels[n] == crowd.truth[item])
        out.reviews += int(merged.confidence[n] < REVIEW_BELOW)
    return out


def mean_outcome(crowd: LabelledCrowd, policy: Policy, target: float, runs: int) -> Outcome:
    total = Outcome()
    for seed in range(runs):
        o = replay(crowd, policy, target, seed)
        for name in ("paid", "gt_paid", "correct", "items", "answers", "reviews", "banned"):
            setattr(total, name, getattr(total, name) + getattr(o, name))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="replays per set and policy (random orders)")
    parser.add_argument("--target", type=float, default=0.8, help="the jobs' accuracy target")
    args = parser.parse_args()
    root = shared_datasets_dir()
    if root is None:
        print("shared datasets not found (expected ../shared/datasets or TILEWORK_SHARED); nothing to run.")
        return 0
    per_set: dict[str, dict[str, Outcome]] = {}
    print(
        f"{'set':24} {'policy':13} {'accuracy':>9} {'cost/correct':>12} {'answers/item':>12} "
        f"{'GT share':>9} {'reviews':>8} {'bans':>5}"
    )
    for folder in VLDB_SETS:
        crowd = load_vldb(root, folder)
        per_set[folder] = {}
        for policy in POLICIES:
            o = mean_outcome(crowd, policy, args.target, args.runs)
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
