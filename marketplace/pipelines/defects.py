"""Hidden checks for QA workers: a GT image's objects with one known defect, and whether a QA
decision caught it. Pure: lists in, lists out (the random source is passed in).

A defect is one of: a box shrunk to a third of its width and height in its own corner ("moved": the
kind of sloppy box QA exists to catch), or an object left out ("missing"). A QA worker catches it by
raising an issue on that object, or on a place that overlaps where the object really is.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from marketplace.quality.scoring import iou_matrix
from marketplace.quality.sprt import Decision, SprtConfig, sprt_run

#: An issue counts as pointing at the defect when its box overlaps the true object this much.
CATCH_IOU = 0.5
#: QA workers are stopped fast: a worker who catches half of the defects is no QA at all, and two
#: misses in a row from a 90% catcher happen 1% of the time. Monitoring never ends: one who passed
#: and then starts approving everything is still stopped.
QA_SPRT = SprtConfig(p1=0.9, p0=0.5, alpha=0.05, beta=0.05, keep_monitoring=True)


#: The chance that a QA worker's next item is a hidden check they have not seen (while any is left):
#: high while they are new (their first ``NEW_DECISIONS``), lower after; random either way, so no
#: position in the queue says "check".
NEW_WORKER_SHARE = 0.5
NEW_DECISIONS = 10
SHARE = 0.2


def offer_check(decisions: int, rng: random.Random) -> bool:
    """Whether to give a QA worker with ``decisions`` so far a hidden check next."""
    return rng.random() < (NEW_WORKER_SHARE if decisions < NEW_DECISIONS else SHARE)


def inject(
    objects: Mapping[int, Sequence[dict[str, Any]]], rng: random.Random
) -> tuple[dict[int, list[dict[str, Any]]], dict[str, Any]] | None:
    """``objects`` per stage job id -> (the objects with one defect, the defect); None without objects."""
    places = [(job_id, k) for job_id in sorted(objects) for k in range(len(objects[job_id]))]
    if not places:
        return None
    job_id, index = rng.choice(places)
    out = {j: [dict(o) for o in objs] for j, objs in objects.items()}
    original = list(out[job_id][index]["geometry"])
    label = out[job_id][index]["label"]
    if rng.random() < 0.5:
        x, y, w, h = original
        out[job_id][index]["geometry"] = [x, y, w / 3, h / 3]
        defect = {"job_id": job_id, "object_index": index, "geometry": original, "label": label}
    else:
        del out[job_id][index]
        defect = {"job_id": job_id, "object_index": None, "geometry": original, "label": label}
    return out, defect


def repair(objects: Sequence[dict[str, Any]], defect: Mapping[str, Any], label: str) -> list[dict[str, Any]]:
    """One stage's objects of a check with its defect undone, as an annotator's fix would leave them:
    the shrunk box back to its size, or the left-out object drawn again (at the end, where a newly
    drawn box goes). ``label``: the missing object's label when the defect does not say it."""
    out = [dict(o) for o in objects]
    index = defect["object_index"]
    if index is not None and index < len(out):
        out[index]["geometry"] = list(defect["geometry"])
    elif index is None:
        out.append({"label": defect.get("label") or label, "geometry": list(defect["geometry"])})
    return out


#: Fix times seen on a pipeline's data items before a returning check copies them; until then a
#: check comes back after a fraction of the fix time limit drawn from this range.
MIN_SEEN_FIXES = 3
EARLY_RETURN = (0.05, 0.5)


def return_delay(seen_fix_s: Sequence[float], fix_limit_s: int, rng: random.Random) -> float:
    """Seconds until a check a QA worker raised issues on comes back "for review": the time one of
    the pipeline's real fixes took (drawn at random, so a check's return looks like any item's), or
    before enough fixes were seen, a share of the time annotators have to fix."""
    if len(seen_fix_s) >= MIN_SEEN_FIXES:
        return max(1.0, float(rng.choice(list(seen_fix_s))))
    return max(1.0, rng.uniform(*EARLY_RETURN) * fix_limit_s)


def caught(defect: dict[str, Any], issues: Sequence[tuple[int, int | None, Sequence[float] | None]]) -> bool:
    """Whether issues ``(stage job id, object index, geometry)`` point at the defect."""
    for job_id, index, geometry in issues:
        if job_id != defect["job_id"]:
            continue
        if index is not None and index == defect["object_index"]:
            return True
        if geometry is not None and float(np.max(iou_matrix([geometry], [defect["geometry"]]))) >= CATCH_IOU:
            return True
    return False


def should_stop(results: Sequence[bool]) -> bool:
    """Wald's test over a QA worker's checks in order: stop them once it says they are below par."""
    return sprt_run(results, QA_SPRT).decision is Decision.BAN
