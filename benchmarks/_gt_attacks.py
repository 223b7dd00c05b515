"""What the ring of ``gt_secrecy.py`` saw, the features it draws from it, and its attacks.

Each attack turns the ring's pooled observations into one score per shown item; :func:`auc` is the
ROC AUC of a score at "this item is GT", in the better of its two directions.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

#: per response, not per file: the clock, the random id every request gets, the body's length
PER_RESPONSE_HEADERS = {"date", "x-request-id", "content-length"}
THUMB = 32


# -- what the ring sees --------------------------------------------------------------------------


@dataclass
class Seen:
    account: int
    assignment: int
    position: int
    items_in_assignment: int
    item: dict[str, Any]
    status: int
    headers: dict[str, str]
    content: bytes
    seconds: float
    is_gt: bool = False
    features: dict[str, Any] = field(default_factory=dict)


# -- features ------------------------------------------------------------------------------------


def jpeg_segments(data: bytes) -> tuple[int, ...]:
    out, i = [], 2
    if not data.startswith(b"\xff\xd8"):
        return ()
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        out.append(marker)
        if marker == 0xDA:
            break
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return tuple(out)


def blockiness(gray: np.ndarray) -> float:
    """Mean jump across 8-pixel column/row boundaries over the mean jump elsewhere."""
    dx = np.abs(np.diff(gray, axis=1))
    dy = np.abs(np.diff(gray, axis=0))
    on_x = dx[:, 7::8].mean() if dx.shape[1] > 8 else 0.0
    on_y = dy[7::8, :].mean() if dy.shape[0] > 8 else 0.0
    off = (dx.mean() + dy.mean()) / 2 + 1e-9
    return float((on_x + on_y) / 2 / off)


def describe(s: Seen) -> None:
    f = s.features
    header_set = tuple(
        sorted((k.lower(), v) for k, v in s.headers.items() if k.lower() not in PER_RESPONSE_HEADERS)
    )
    f["headers"] = header_set
    f["size"] = len(s.content)
    f["json_size"] = (s.item.get("width"), s.item.get("height"))
    f["token_shape"] = (
        len(s.item["item_id"]),
        len(s.item["image_url"]),
        tuple(sorted(k for k in s.item if k not in ("item_id", "image_url"))),
    )
    f["sha"] = hashlib.sha256(s.content).hexdigest()
    try:
        image = Image.open(io.BytesIO(s.content))
        image.load()
    except Exception:
        f.update(
            format="undecodable",
            fingerprint=("undecodable",),
            metadata=("undecodable",),
            bpp=0.0,
            block=0.0,
            sharp=0.0,
            thumb=np.zeros(THUMB * THUMB),
        )
        return
    quant = tuple(tuple(t) for t in getattr(image, "quantization", {}).values())
    f["fingerprint"] = (
        image.format,
        image.mode,
        quant,
        tuple(getattr(image, "layer", ())),
        jpeg_segments(s.content),
        bool(image.info.get("progressive")),
    )
    metadata_keys = tuple(
        sorted(k for k in image.info if k not in ("jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"))
    )
    exif = image.getexif()
    f["metadata"] = (metadata_keys, len(exif))
    f["metadata_count"] = len(metadata_keys) + len(exif)
    w, h = image.size
    f["bpp"] = len(s.content) * 8 / (w * h)
    gray = np.asarray(image.convert("L"), dtype=np.float64)
    f["block"] = blockiness(gray)
    lap = gray[1:-1, 1:-1] * 4 - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    f["sharp"] = float(lap.var())
    thumb = np.asarray(image.convert("L").resize((THUMB, THUMB), Image.Resampling.BOX), dtype=np.float64)
    f["thumb"] = (thumb - thumb.mean()).ravel() / (thumb.std() + 1e-9)


# -- attacks -------------------------------------------------------------------------------------


def _mann_whitney(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(the Mann-Whitney U of the GT items, positives x negatives): ``U / pairs`` is the raw AUC."""
    if labels.all() or not labels.any():
        return 0.0, 0.0
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_x = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels.sum()
    return float(ranks[labels].sum() - pos * (pos + 1) / 2), float(pos * (len(labels) - pos))


def auc(scores: list[float], labels: list[bool], jobs: list[int] | None = None) -> float:
    """ROC AUC with ties counted half (Mann-Whitney), the better direction. With ``jobs`` (each item's
    job), the *stratified* AUC: items are compared only with items of the same job (a score may mean
    something else in another job), the jobs' pair counts summed."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    strata = np.zeros(len(x), dtype=int) if jobs is None else np.asarray(jobs)
    u = pairs = 0.0
    for job in np.unique(strata):
        at = strata == job
        du, dp = _mann_whitney(x[at], y[at])
        u, pairs = u + du, pairs + dp
    if pairs == 0:
        return 0.5
    value = u / pairs
    return float(max(value, 1 - value))


def rarity(values: list[Any]) -> list[float]:
    counts = Counter(values)
    return [-math.log(counts[v] / len(values)) for v in values]


def attacks(seen: list[Seen]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    f = [s.features for s in seen]
    out["header_diff"] = rarity([x["headers"] for x in f])
    out["byte_size"] = [float(x["size"]) for x in f]
    out["bytes_per_pixel"] = [float(x["bpp"]) for x in f]
    out["encoder_quant_tables"] = rarity([x["fingerprint"] for x in f])
    out["metadata_exif"] = [
        x.get("metadata_count", 0) + r for x, r in zip(f, rarity([x["metadata"] for x in f]), strict=True)
    ]
    out["json_item_size"] = rarity([x["json_size"] for x in f])
    out["item_id_url_shape"] = rarity([x["token_shape"] for x in f])
    out["position_in_assignment"] = [float(s.position) for s in seen]
    out["response_time"] = [s.seconds for s in seen]
    out["blockiness_8x8"] = [x["block"] for x in f]
    out["sharpness"] = [x["sharp"] for x in f]
    # neighbourhood: how unlike an image is to the others of its assignment, and to all the ring saw
    by_assignment: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(seen):
        by_assignment[s.assignment].append(i)
    thumbs = np.stack([x["thumb"] for x in f])
    local = [0.0] * len(seen)
    for members in by_assignment.values():
        t = thumbs[members]
        d = ((t[:, None, :] - t[None, :, :]) ** 2).mean(axis=2)
        np.fill_diagonal(d, np.inf)
        for k, i in enumerate(members):
            local[i] = float(d[k].min()) if len(members) > 1 else 0.0
    out["neighbourhood_outlier_assignment"] = local
    unique: dict[str, int] = {}
    for x in f:
        unique.setdefault(x["sha"], len(unique))
    reps = np.stack([thumbs[[i for i, x in enumerate(f) if x["sha"] == sha][0]] for sha in unique])
    d = ((reps[:, None, :] - reps[None, :, :]) ** 2).mean(axis=2)
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1)
    out["neighbourhood_outlier_pooled"] = [float(nearest[unique[x["sha"]]]) for x in f]
    # repetition: how many accounts of the ring were shown the same image, and how often one was
    accounts_by_image: dict[str, set[int]] = defaultdict(set)
    shows: Counter[tuple[str, int]] = Counter()
    for s in seen:
        accounts_by_image[s.features["sha"]].add(s.account)
        shows[(s.features["sha"], s.account)] += 1
    out["repetition_across_accounts"] = [float(len(accounts_by_image[s.features["sha"]])) for s in seen]
    out["repetition_one_account"] = [float(shows[(s.features["sha"], s.account)]) for s in seen]
    learned = learned_attack(out, [s.is_gt for s in seen])
    if learned is not None:
        out["learned_all_but_repetition"] = learned
    return out


def learned_attack(scores: dict[str, list[float]], labels: list[bool]) -> list[float] | None:
    """Logistic regression on every score but repetition, 5-fold cross-validated (out-of-fold scores)."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        return None
    names = [n for n in scores if not n.startswith("repetition")]
    x = np.column_stack([np.asarray(scores[n], dtype=np.float64) for n in names])
    y = np.asarray(labels, dtype=int)
    out = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        scaler = StandardScaler().fit(x[train])
        model = LogisticRegression(max_iter=2000).fit(scaler.transform(x[train]), y[train])
        out[test] = model.predict_proba(scaler.transform(x[test]))[:, 1]
    return [float(v) for v in out]


def chance_worst(
    seen: list[Seen],
    scores: dict[str, list[float]],
    rounds: int = 200,
    seed: int = 0,
    jobs: list[int] | None = None,
) -> float:
    """The worst AUC that chance alone gives with this many GT items shown: the 95th percentile, over
    ``rounds`` shuffles of which *images* are GT within each job (an image shown twice keeps one
    label), of the best single attack's AUC. A worst attack below it is not told apart from a coin by
    this run; above it, it is a leak. The learned attack is left out (a refit per shuffle)."""
    strata = [0] * len(seen) if jobs is None else jobs
    images = sorted({(job, s.features["sha"]) for job, s in zip(strata, seen, strict=True)})
    index = {key: n for n, key in enumerate(images)}
    item_image = np.array([index[(job, s.features["sha"])] for job, s in zip(strata, seen, strict=True)])
    image_job = np.array([job for job, _ in images])
    is_gt = np.zeros(len(images), dtype=bool)
    for n, s in zip(item_image, seen, strict=True):
        is_gt[n] |= s.is_gt
    single = [v for n, v in scores.items() if not n.startswith("learned")]
    rng = np.random.default_rng(seed)
    worst = []
    for _ in range(rounds):
        shuffled = is_gt.copy()
        for job in np.unique(image_job):
            at = np.flatnonzero(image_job == job)
            shuffled[at] = rng.permutation(is_gt[at])
        labels = shuffled[item_image].tolist()
        worst.append(max(auc(v, labels, jobs) for v in single))
    return float(np.percentile(worst, 95))
