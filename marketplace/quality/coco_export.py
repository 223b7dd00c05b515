"""A job's merged results as records, and the COCO documents built from them (pure: no session).

Each exported object carries its label, geometry, confidence (``score``) and how many workers drew it
(``support``); calibrated boxes add ``uncertainty``, and a job with per-object attributes adds each
object's ``attributes`` (:mod:`marketplace.jobs.attributes`), the shape CVAT's COCO export uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from marketplace.models import Job, JobImage, JobType
from marketplace.quality.polygon_export import segmentation_fields


@dataclass
class MergedObject:
    label: str
    geometry: Any  # [x, y, w, h] | [x, y] | None | polygons: rings, or a GT's RLE
    confidence: float
    support: int = 1
    uncertainty: float | None = None  # calibrated boxes: predicted corner SD relative to the box size
    attributes: dict[str, Any] | None = None  # the job's per-object attributes (None: it has none)

    def extras(self) -> dict[str, Any]:
        """The COCO annotation's optional fields that are set: ``uncertainty``, ``attributes``."""
        fields = {"uncertainty": self.uncertainty, "attributes": self.attributes}
        return {k: v for k, v in fields.items() if v is not None}


@dataclass
class ImageResult:
    image: JobImage
    objects: list[MergedObject] = field(default_factory=list)
    workers: int = 0
    is_gt: bool = False
    low_confidence: bool = False


def coco_categories(job: Job, keypoints: bool) -> list[dict[str, Any]]:
    cats: list[dict[str, Any]] = [
        {"id": n + 1, "name": label, "supercategory": ""} for n, label in enumerate(job.labels)
    ]
    if keypoints:
        for cat in cats:
            cat["keypoints"] = [cat["name"]]
            cat["skeleton"] = []
    return cats


def coco_images(results: Sequence[ImageResult]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.image.id,
            "file_name": r.image.name,
            "width": r.image.width,
            "height": r.image.height,
            "is_gt": r.is_gt,
            "workers": r.workers,
        }
        for r in results
    ]


def _document(
    job: Job,
    results: Sequence[ImageResult],
    shape: Callable[[ImageResult, MergedObject], dict[str, Any]],
    *,
    keypoints: bool,
) -> dict[str, Any]:
    """A COCO file: every merged object an annotation with the fields all kinds share, and the fields
    of its kind from ``shape``."""
    cat_id = {label: n + 1 for n, label in enumerate(job.labels)}
    annotations: list[dict[str, Any]] = []
    for r in results:
        for obj in r.objects:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": r.image.id,
                    "category_id": cat_id[obj.label],
                    **shape(r, obj),
                    "iscrowd": 0,
                    "score": obj.confidence,
                    "support": obj.support,
                    **obj.extras(),
                }
            )
    return {
        "info": {"description": job.title, "job_id": job.id},
        "images": coco_images(results),
        "annotations": annotations,
        "categories": coco_categories(job, keypoints=keypoints),
    }


def _box(_: ImageResult, obj: MergedObject) -> dict[str, Any]:
    x, y, w, h = obj.geometry or [0.0, 0.0, 0.0, 0.0]
    return {"bbox": [x, y, w, h], "area": w * h}


def _keypoint(_: ImageResult, obj: MergedObject) -> dict[str, Any]:
    x, y = (obj.geometry or [0.0, 0.0])[:2]
    return {"keypoints": [x, y, 2], "num_keypoints": 1, "bbox": [x, y, 0.0, 0.0], "area": 0.0}


def coco_instances(job: Job, results: Sequence[ImageResult], *, rle: bool = False) -> dict[str, Any]:
    """COCO instances: boxes, or for polygon jobs segmentations (``rle``: every one as an RLE)."""

    def segmentation(r: ImageResult, obj: MergedObject) -> dict[str, Any]:
        return segmentation_fields(obj.geometry, r.image.height, r.image.width, rle=rle)

    return _document(job, results, segmentation if job.type is JobType.polygons else _box, keypoints=False)


def coco_keypoints(job: Job, results: Sequence[ImageResult]) -> dict[str, Any]:
    return _document(job, results, _keypoint, keypoints=True)
