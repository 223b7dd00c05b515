"""A simulated crowd: workers who look at an image and answer with their own kind of error.

A simulated worker recognises an image by the hash of the bytes it downloaded (the scene generator
recorded the exact shapes for every image), then answers like a person of its profile would:
careful workers jitter a few pixels, sloppy ones jitter more, miss objects and mix up labels,
spammers draw random boxes, and hasty ones answer implausibly fast.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.demo.scenes import LABELS, Scene


@dataclass(frozen=True)
class Profile:
    kind: str
    jitter: float  # std-dev of box edge noise, as a share of the box size
    miss: float  # probability of missing an object
    wrong_label: float  # probability of a wrong label on a found object
    extra: float  # probability of adding a spurious box per image
    random_boxes: bool = False
    seconds_per_item: float = 4.0


CAREFUL = Profile("careful", jitter=0.03, miss=0.02, wrong_label=0.01, extra=0.02)
SLOPPY = Profile("sloppy", jitter=0.12, miss=0.2, wrong_label=0.15, extra=0.15)
SPAMMER = Profile("spammer", jitter=0.0, miss=0.0, wrong_label=0.0, extra=0.0, random_boxes=True,
                  seconds_per_item=0.4)  # fmt: skip
HASTY = Profile("hasty", jitter=0.08, miss=0.1, wrong_label=0.05, extra=0.05, seconds_per_item=0.2)


def crowd_mix(size: int) -> list[Profile]:
    """About 60% careful, 20% sloppy, 10% spammers, 10% hasty (at least one of each from 6 up)."""
    kinds = [CAREFUL] * size
    for i in range(size):
        kinds[i] = SPAMMER if i % 10 == 3 else HASTY if i % 10 == 7 else SLOPPY if i % 5 == 1 else CAREFUL
    return kinds


def _clip_box(box: list[float], width: int, height: int) -> list[float] | None:
    x, y, w, h = box
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)]


def _jittered(box: tuple[float, float, float, float], jitter: float, rng: random.Random) -> list[float]:
    x, y, w, h = box
    dx0, dx1 = rng.gauss(0, jitter * w), rng.gauss(0, jitter * w)
    dy0, dy1 = rng.gauss(0, jitter * h), rng.gauss(0, jitter * h)
    return [x + dx0, y + dy0, w - dx0 + dx1, h - dy0 + dy1]


def _random_box(width: int, height: int, rng: random.Random) -> list[float]:
    w, h = rng.uniform(10, width / 2), rng.uniform(10, height / 2)
    return [rng.uniform(0, width - w), rng.uniform(0, height - h), w, h]


def answer_boxes(
    scene: Scene, profile: Profile, rng: random.Random, labels: Sequence[str] = LABELS
) -> list[dict[str, Any]]:
    """The annotations this worker would submit for one scene."""
    out: list[dict[str, Any]] = []
    if profile.random_boxes:
        for _ in range(rng.randint(0, 3)):
            box = _clip_box(_random_box(scene.width, scene.height, rng), scene.width, scene.height)
            if box:
                out.append({"label": rng.choice(labels), "geometry": box})
        return out
    for shape in scene.shapes:
        if rng.random() < profile.miss:
            continue
        label = shape.label
        if rng.random() < profile.wrong_label:
            label = rng.choice([lab for lab in labels if lab != shape.label] or [shape.label])
        box = _clip_box(_jittered(shape.box, profile.jitter, rng), scene.width, scene.height)
        if box:
            out.append({"label": label, "geometry": box})
    if rng.random() < profile.extra:
        box = _clip_box(_random_box(scene.width, scene.height, rng), scene.width, scene.height)
        if box:
            out.append({"label": rng.choice(labels), "geometry": box})
    return out


def answer_class(
    scene: Scene, profile: Profile, rng: random.Random, labels: Sequence[str]
) -> list[dict[str, Any]]:
    """One label per image: spammers click at random, others err at their profile's rate."""
    truth = scene.shapes[0].label
    if profile.random_boxes or rng.random() < profile.miss + profile.wrong_label:
        return [{"label": rng.choice([lab for lab in labels if lab != truth] or [truth])}]
    return [{"label": truth}]


def interactions(profile: Profile, position: int, rng: random.Random) -> dict[str, Any]:
    """What the browser would have recorded for this item, at this worker's pace."""
    start = position * profile.seconds_per_item * 1000
    spent = max(50.0, rng.gauss(profile.seconds_per_item, profile.seconds_per_item / 4) * 1000)
    return {
        "time_on_item_ms": round(spent, 1),
        "hovers": [{"enter_ms": round(start, 1), "leave_ms": round(start + spent, 1)}],
        "clicks_ms": [round(start + spent * f, 1) for f in (0.3, 0.6)],
        "mouse": [],
    }
