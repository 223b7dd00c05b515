"""The GT-secrecy benchmark's statistics: stratified AUC over several jobs, and its chance level."""

from __future__ import annotations

import numpy as np

from benchmarks._gt_attacks import Seen, auc, chance_worst


def test_stratified_auc_compares_items_of_the_same_job_only() -> None:
    # in each job the GT items score highest, but job 1's scores all sit above job 0's
    scores = [1.0, 2.0, 3.0, 10.0, 11.0, 12.0]
    labels = [False, False, True, False, False, True]
    jobs = [0, 0, 0, 1, 1, 1]
    assert auc(scores, labels, jobs) == 1.0
    assert auc(scores, labels) < 1.0  # pooled, job 1's normal items outrank job 0's GT
    assert auc([1.0, 1.0, 1.0], [False, True, False], [0, 0, 0]) == 0.5  # ties count half
    assert auc([1.0, 2.0], [True, True], [0, 1]) == 0.5  # no pair to compare


def test_the_chance_level_falls_as_more_gt_is_shown() -> None:
    rng = np.random.default_rng(3)

    def level(items: int, gt_share: float, jobs: int) -> float:
        seen, job_of, noise = [], [], []
        for job in range(jobs):
            for n in range(items):
                s = Seen(0, n // 10, n % 10, 10, {}, 200, {}, b"", 0.0, is_gt=rng.random() < gt_share)
                s.features["sha"] = f"{job}-{n}"
                seen.append(s)
                job_of.append(job)
                noise.append(float(rng.random()))
        return chance_worst(seen, {"noise": noise}, rounds=100, jobs=job_of)

    few, many = level(300, 0.06, 1), level(300, 0.06, 4)
    assert 0.5 < many < few
