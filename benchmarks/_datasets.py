"""Locating and reading the real public data in ``../shared/datasets`` (beside the repository).

``TILEWORK_SHARED`` overrides the location; it may name the ``shared`` folder or its ``datasets``
folder. The data is never copied into the project (several sets state no licence).
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marketplace.quality.aggregation import CrowdAnswers
from marketplace.quality.scoring import BoxSet

VLDB_SETS = {
    # folder: (published dataset name or None, strip the gold label from the question id)
    "vldb17_D_Product": ("D_Product", True),
    "vldb17_D_PosSent": ("D_PosSent", False),
    "vldb17_Dog": (None, False),
    "vldb17_Duck_Bluebirds": (None, False),
}


def shared_datasets_dir() -> Path | None:
    """The datasets folder, or None when it is absent (a newcomer's clone)."""
    override = os.environ.get("TILEWORK_SHARED")
    if override:
        base = Path(override)
        candidates = [base / "datasets", base]
    else:
        candidates = [Path(__file__).resolve().parents[1].parent / "shared" / "datasets"]
    for candidate in candidates:
        if (candidate / "README.md").is_file() or (candidate / "vldb17_D_Product").is_dir():
            return candidate
    return None


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return [r for r in rows[1:] if r]


@dataclass(frozen=True)
class LabelledCrowd:
    answers: CrowdAnswers
    truth: dict[int, int]  # item index -> label index


def load_vldb(root: Path, folder: str) -> LabelledCrowd:
    """``answer.csv`` (question, worker, answer) and ``truth.csv`` (question, truth) of one VLDB'17 set.

    Headers differ between sets (D_PosSent: ``id,worker,answer`` and ``q,truth``), so columns are read
    by position. D_Product's question id is ``id1_id2_truth``: the gold label is stripped from it.
    """
    _, strip = VLDB_SETS[folder]

    def question(q: str) -> str:
        return q.rsplit("_", 1)[0] if strip else q

    answers = CrowdAnswers.from_triples(
        (question(q), w, a) for q, w, a in _rows(root / folder / "answer.csv")
    )
    truth = {question(q): t for q, t in _rows(root / folder / "truth.csv")}
    return LabelledCrowd(answers, answers.label_indices(truth))


def load_published(root: Path) -> dict[tuple[str, str, str], str]:
    """``(dataset, metric, method) -> value`` from the published Table 6."""
    with (root / "vldb17_published" / "table6.csv").open(newline="") as handle:
        return {(r["dataset"], r["metric"], r["method"]): r["value"] for r in csv.DictReader(handle)}


@dataclass(frozen=True)
class PedestrianBoxes:
    crowd: dict[str, dict[str, BoxSet]]  # image id -> worker id -> boxes (possibly none)
    expert: dict[str, BoxSet]  # image id -> expert boxes (possibly none)


def _read_boxes(path: Path) -> dict[str, dict[str, BoxSet]]:
    per_image: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    with path.open(newline="") as handle:
        for r in csv.DictReader(handle):
            boxes = per_image[r["image_id"]][r["worker_id"]]
            if r["x"] != "":  # empty box fields: the worker submitted the image with no box
                boxes.append([float(r["x"]), float(r["y"]), float(r["w"]), float(r["h"])])
    return {
        image: {worker: BoxSet.of(np.asarray(b).reshape(-1, 4), 0) for worker, b in workers.items()}
        for image, workers in per_image.items()
    }


def load_pedestrians(root: Path) -> PedestrianBoxes:
    """Crowd boxes of 7 MTurk workers per image and the expert boxes (images with an expert answer)."""
    folder = root / "pedestrian_boxes_dev"
    crowd = _read_boxes(folder / "crowd_boxes.csv")
    expert = {
        image: next(iter(workers.values()))
        for image, workers in _read_boxes(folder / "expert_boxes.csv").items()
    }
    return PedestrianBoxes({k: v for k, v in crowd.items() if k in expert}, expert)
