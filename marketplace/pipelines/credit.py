"""Who made what: each merged object of a stage credited to the worker whose own box it came from.

An image of an annotate stage can carry more than one accepted answer (overlap, or a trusted worker's
GT slot that carried real work); an issue on an object must go back to the worker who drew it. Pure:
lists and numpy in, ids out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from marketplace.quality.scoring import iou_matrix


def credit(
    merged: Sequence[dict[str, Any]], answers: Sequence[tuple[int, Sequence[dict[str, Any]]]]
) -> tuple[list[int | None], int | None]:
    """(the worker credited with each merged object, the image's annotator).

    An object goes to the worker whose box of the same label overlaps it most (None: nobody drew
    one that overlaps); the annotator is the worker credited with most objects, else the first
    answer's worker (an image where nothing was drawn)."""
    by: list[int | None] = []
    for obj in merged:
        best, best_iou = None, 0.0
        for worker, objects in answers:
            boxes = [o["geometry"] for o in objects if o.get("label") == obj["label"] and o.get("geometry")]
            if not boxes:
                continue
            overlap = float(np.max(iou_matrix([obj["geometry"]], boxes)))
            if overlap > best_iou:
                best, best_iou = worker, overlap
        by.append(best)
    counts = Counter(w for w in by if w is not None)
    annotator = counts.most_common(1)[0][0] if counts else (answers[0][0] if answers else None)
    return by, annotator
