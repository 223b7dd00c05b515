"""crowd-kit 1.4.2 as an oracle: the product's GT-selected aggregation is at least majority vote and
within half a point of crowd-kit's best method, on the shared real sets and on simulated crowds with
many sparse workers.

The product sees a GT subset (20%) of the gold items, as a job's hidden GT, and is scored on the rest;
the margins are means over three GT/evaluation splits. crowd-kit's GLAD is left to
``benchmarks/aggregation.py`` (a minute on D_Product); DS, one-coin DS and MV run here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from benchmarks._datasets import LabelledCrowd, load_vldb
from marketplace.quality.aggregation import CrowdAnswers
from marketplace.quality.aggregators import soft_majority
from marketplace.quality.selection import expected_hits, select_aggregator
from tests.quality.test_quality_selection import sparse_crowd

pd = pytest.importorskip("pandas")
ck = pytest.importorskip("crowdkit.aggregation")

MARGIN = 0.5  # points


def oracle_labels(answers: CrowdAnswers) -> dict[str, np.ndarray]:
    frame = pd.DataFrame({"task": answers.item, "worker": answers.worker, "label": answers.label})
    models = {
        "MajorityVote": ck.MajorityVote(),
        "DawidSkene": ck.DawidSkene(n_iter=100),
        "OneCoinDawidSkene": ck.OneCoinDawidSkene(n_iter=100),
    }
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in models.items():
            predicted = model.fit_predict(frame).reindex(np.arange(answers.n_items))
            out[name] = predicted.fillna(-1).to_numpy().astype(np.intp)
    return out


def margins(
    crowd: LabelledCrowd, splits: int = 3, share: float = 0.2
) -> tuple[float, float, dict[str, float]]:
    """(product - majority vote, product - best crowd-kit method), in points, means over splits."""
    oracle = oracle_labels(crowd.answers)
    gold = np.array(sorted(crowd.truth), dtype=np.intp)
    product, mv = [], []
    ck_acc: dict[str, list[float]] = {name: [] for name in oracle}
    for split in range(splits):
        items = gold.copy()
        np.random.default_rng(split).shuffle(items)
        cut = max(10, round(share * len(items)))
        gt = {int(i): crowd.truth[int(i)] for i in items[:cut]}
        rest = items[cut:]
        labels = np.array([crowd.truth[int(i)] for i in rest], dtype=np.intp)
        chosen = select_aggregator(crowd.answers, gt)
        product.append(float(expected_hits(chosen.aggregate.posterior, rest, labels).mean()))
        mv.append(float(expected_hits(soft_majority(crowd.answers), rest, labels).mean()))
        for name, predicted in oracle.items():
            ck_acc[name].append(float((predicted[rest] == labels).mean()))
    means = {name: 100 * float(np.mean(v)) for name, v in ck_acc.items()}
    p, m = 100 * float(np.mean(product)), 100 * float(np.mean(mv))
    return p - m, p - max(m, *means.values()), means


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize(
    "folder", ["vldb17_D_Product", "vldb17_D_PosSent", "vldb17_Dog", "vldb17_Duck_Bluebirds"]
)
def test_product_is_at_least_majority_vote_and_near_crowdkits_best_on_real_sets(
    shared_datasets: Path, folder: str
) -> None:
    vs_mv, vs_best, oracle = margins(load_vldb(shared_datasets, folder))
    assert vs_mv >= 0.0, (folder, vs_mv)
    assert vs_best >= -MARGIN, (folder, vs_best, oracle)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_product_is_at_least_majority_vote_and_near_crowdkits_best_with_sparse_workers(seed: int) -> None:
    answers, truth = sparse_crowd(seed)
    crowd = LabelledCrowd(answers, {i: int(t) for i, t in enumerate(truth)})
    vs_mv, vs_best, oracle = margins(crowd)
    assert vs_mv >= 0.0, vs_mv
    assert vs_best >= -MARGIN, (vs_best, oracle)
