"""Polygon jobs in the export: merging one image's accepted answers, and COCO segmentation fields.

COCO's polygon ``segmentation`` is a list of parts that pycocotools *unions*; it has no holes. An
object whose rings are all apart (the usual case) is exported as those rings, exactly as stored, so
pycocotools rebuilds the same mask. An object with a hole (a ring inside another) or a GT kept as an
RLE is exported as a compressed RLE, which COCO readers (``annToRLE``) take for any annotation. The
``instances_rle.json`` file gives every object as an RLE, for tools that want masks only.
``area`` and ``bbox`` are always derived from the mask (pycocotools), never from the vertices.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from marketplace.geometry import polygons as geo
from marketplace.quality.polygons import PolygonSet, WorkerPolygons, merge_polygons

DEFAULT_WEIGHT = 0.5


def merge_image(
    height: int,
    width: int,
    answers: Sequence[tuple[Hashable, Sequence[dict[str, Any]]]],
    weights: dict[Any, float],
    *,
    iou_threshold: float,
    quorum: float,
) -> list[tuple[str, list[geo.Ring], float, int, tuple[tuple[Hashable, int], ...]]]:
    """(label, rings, confidence, support, members as (worker, object index)) of the merged objects of
    one image."""
    submissions = [
        WorkerPolygons(
            worker,
            PolygonSet.of([a["geometry"] for a in answer], [a["label"] for a in answer], height, width),
            weights.get(worker, DEFAULT_WEIGHT),
        )
        for worker, answer in answers
    ]
    merged = merge_polygons(submissions, iou_threshold=iou_threshold, quorum=quorum)
    return [(str(m.label), m.rings, m.confidence, m.support, m.members) for m in merged]


def segmentation_fields(geometry: Any, height: int, width: int, *, rle: bool = False) -> dict[str, Any]:
    """``segmentation``, ``area`` and ``bbox`` of one object for a COCO instances file."""
    mask = geo.to_rle(geometry, height, width)
    area = float(geo.areas([mask])[0])
    bbox = [float(v) for v in geo.bboxes([mask])[0]]
    if rle or geo.is_rle(geometry) or geo.parts_overlap(geometry):
        segmentation: Any = geo.as_json_rle(mask)
    else:
        segmentation = [list(ring) for ring in geometry]
    return {"segmentation": segmentation, "area": area, "bbox": bbox}


def display_rings(geometry: Any) -> Any:
    """What the browser draws: rings as they are, an RLE traced into rings."""
    return geo.rle_to_rings(geometry) if geo.is_rle(geometry) else geometry
