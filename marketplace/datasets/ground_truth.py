"""Ground truth in COCO JSON, parsed and checked for each job type.

Formats (one COCO file; ``file_name`` of each image is its key in the job's data):

- ``boxes``: COCO instances. Each annotation has ``bbox = [x, y, w, h]`` (pixels, top-left origin) and
  a ``category_id``. Annotations with ``iscrowd = 1`` are skipped: a crowd region is not one object.
  A GT image with no annotation means "nothing to box here", which is a valid answer.
- ``points``: COCO person-style keypoints with one keypoint per category
  (``categories[i].keypoints == ["<name>"]``). Each annotation has ``keypoints = [x, y, v]``; ``v = 0``
  (not labelled) is skipped. The annotation's ``bbox``, when present, sets the point tolerance scale.
- ``polygons``: COCO instances whose ``segmentation`` is either polygons (``[[x0, y0, x1, y1, ...],
  ...]``, the parts of one object) or an RLE (``{"size": [h, w], "counts": ...}``, compressed or not).
  Polygons are checked and repaired like a worker's (:mod:`marketplace.geometry.polygons`); parts that
  overlap are merged into one outline, as COCO unions them. An RLE is kept as it is (scoring uses
  its real pixels). ``iscrowd = 1`` annotations are skipped, as for boxes.
- ``classification``: COCO-shaped, with exactly one annotation per GT image carrying only
  ``image_id`` and ``category_id`` (no geometry). A tiled yes/no job is the two-category case.

Category names must equal the job's labels (same set, no extra, none missing).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pycocotools.coco import COCO

from marketplace.errors import InvalidInput
from marketplace.geometry import polygons as geo
from marketplace.models.enums import JobType

EDGE_TOLERANCE_PX = 0.5


@dataclass(frozen=True)
class GtObject:
    label: str
    geometry: Any  # [x, y, w, h] | [x, y] | rings | RLE dict | None (see the module docstring)
    scale_box: list[float] | None = None  # points: the object's box, when COCO gives one


@dataclass
class GtImage:
    file_name: str
    declared_width: int | None
    declared_height: int | None
    objects: list[GtObject] = field(default_factory=list)


@dataclass
class GroundTruth:
    labels: list[str]
    images: dict[str, GtImage]


def _fail(detail: str) -> InvalidInput:
    return InvalidInput(detail, field="gt")


def load_coco(raw: bytes | str | dict[str, Any]) -> COCO:
    """Parse COCO JSON through pycocotools; any structural problem is a 422 naming it."""
    if isinstance(raw, dict):
        data = raw
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _fail(f"GT is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _fail("GT must be a COCO JSON object with images, annotations and categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise _fail(f"GT COCO is missing the list {key!r}")
    coco = COCO()
    coco.dataset = data
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            coco.createIndex()
    except (KeyError, TypeError) as exc:
        raise _fail(f"GT COCO is malformed: an entry lacks the field {exc}") from exc
    _check_references(coco)
    return coco


def _check_references(coco: COCO) -> None:
    for ann in coco.dataset["annotations"]:
        if ann.get("image_id") not in coco.imgs:
            raise _fail(f"GT annotation {ann.get('id')} points to unknown image_id {ann.get('image_id')}")
        if ann.get("category_id") not in coco.cats:
            raise _fail(
                f"GT annotation {ann.get('id')} points to unknown category_id {ann.get('category_id')}"
            )
    names = [img.get("file_name") for img in coco.dataset["images"]]
    if any(not isinstance(n, str) or not n for n in names):
        raise _fail("every GT image needs a non-empty file_name")
    dupes = sorted(name for name, times in Counter(names).items() if times > 1)
    if dupes:
        raise _fail(f"GT lists the same file_name more than once: {', '.join(dupes[:5])}")


def parse_ground_truth(
    raw: bytes | str | dict[str, Any], job_type: JobType, labels: list[str]
) -> GroundTruth:
    coco = load_coco(raw)
    used_ids = {ann["category_id"] for ann in coco.dataset["annotations"]}
    cat_names = [str(c.get("name", "")) for c in coco.dataset["categories"]]
    used = [str(c.get("name", "")) for c in coco.dataset["categories"] if c["id"] in used_ids]
    _check_labels(cat_names, used, labels)
    if job_type is JobType.points:
        _check_point_categories(coco, used_ids)
    images = {
        img["file_name"]: GtImage(img["file_name"], img.get("width"), img.get("height"))
        for img in coco.dataset["images"]
    }
    by_id = {img_id: images[img["file_name"]] for img_id, img in coco.imgs.items()}
    parse_object = {
        JobType.boxes: _box_object,
        JobType.points: _point_object,
        JobType.polygons: _polygon_object,
        JobType.classification: _class_object,
    }[job_type]
    sizes = {img_id: (img.get("width"), img.get("height")) for img_id, img in coco.imgs.items()}
    for ann in coco.dataset["annotations"]:
        label = coco.cats[ann["category_id"]]["name"]
        obj = parse_object(ann, label, sizes[ann["image_id"]])
        if obj is not None:
            by_id[ann["image_id"]].objects.append(obj)
    if job_type is JobType.classification:
        _check_one_label_each(images)
    return GroundTruth(labels=list(labels), images=images)


def _names(names: list[str], most: int = 8) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _check_labels(cat_names: list[str], used: list[str], labels: list[str]) -> None:
    """Every label is a GT category and every category the GT annotations use is a label. Categories
    no annotation uses are ignored (a COCO tool writes its whole list, e.g. COCO's 80)."""
    missing = sorted(set(labels) - set(cat_names))
    extra = sorted(set(used) - set(labels))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"labels without a GT category: {_names(missing)}")
        if extra:
            parts.append(f"categories the GT annotations use that are not labels: {_names(extra)}")
        raise InvalidInput("the GT does not fit the job's labels; " + "; ".join(parts), field="labels")


def _check_point_categories(coco: COCO, used_ids: set[Any]) -> None:
    for cat in coco.dataset["categories"]:
        if cat["id"] not in used_ids:
            continue
        kps = cat.get("keypoints")
        if not isinstance(kps, list) or len(kps) != 1:
            raise _fail(
                f"points GT needs exactly one keypoint per category; category {cat.get('name')!r} "
                f"has {len(kps) if isinstance(kps, list) else 'no'} keypoints"
            )


def _numbers(values: Any, n: int, what: str, ann_id: Any) -> list[float]:
    if not isinstance(values, list) or len(values) != n:
        raise InvalidInput(f"GT annotation {ann_id}: {what} must be a list of {n} numbers", field="gt")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise InvalidInput(f"GT annotation {ann_id}: {what} must hold finite numbers", field="gt")
        out.append(float(v))
    return out


Size = tuple[Any, Any]


def _box_object(ann: dict[str, Any], label: str, size: Size) -> GtObject | None:
    if ann.get("iscrowd"):
        return None
    x, y, w, h = _numbers(ann.get("bbox"), 4, "bbox", ann.get("id"))
    if w <= 0 or h <= 0:
        raise InvalidInput(
            f"GT annotation {ann.get('id')}: box [{x}, {y}, {w}, {h}] has non-positive size", field="gt"
        )
    return GtObject(label, [x, y, w, h])


def _point_object(ann: dict[str, Any], label: str, size: Size) -> GtObject | None:
    x, y, v = _numbers(ann.get("keypoints"), 3, "keypoints", ann.get("id"))
    if v == 0:
        return None
    box = ann.get("bbox")
    scale = _numbers(box, 4, "bbox", ann.get("id")) if box else None
    return GtObject(label, [x, y], scale)


def _class_object(ann: dict[str, Any], label: str, size: Size) -> GtObject:
    return GtObject(label, None)


def _declared(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _polygon_object(ann: dict[str, Any], label: str, size: Size) -> GtObject | None:
    if ann.get("iscrowd"):
        return None
    width, height = (_declared(v) for v in size)
    segmentation = ann.get("segmentation")
    try:
        if isinstance(segmentation, dict):
            return GtObject(label, geo.check_rle(segmentation, width, height))
        rings = geo.check_rings(segmentation, width or math.inf, height or math.inf, union=True)
    except geo.GeometryError as exc:
        raise InvalidInput(f"GT annotation {ann.get('id')}: segmentation: {exc}", field="gt") from exc
    return GtObject(label, rings)


def _check_one_label_each(images: dict[str, GtImage]) -> None:
    for img in images.values():
        if len(img.objects) != 1:
            raise _fail(
                f"classification GT needs exactly one label per image; {img.file_name!r} has "
                f"{len(img.objects)}"
            )


def check_geometry_inside(gt_image: GtImage, width: int, height: int) -> None:
    """Every GT box or point must lie inside the real image (declared sizes must agree too)."""
    name = gt_image.file_name
    if gt_image.declared_width not in (None, width) or gt_image.declared_height not in (None, height):
        raise _fail(
            f"GT says {name!r} is {gt_image.declared_width}x{gt_image.declared_height} "
            f"but the image is {width}x{height}"
        )
    tol = EDGE_TOLERANCE_PX
    for obj in gt_image.objects:
        g = obj.geometry
        if g is None:
            continue
        if isinstance(g, dict):
            if g["size"] != [height, width]:
                raise _fail(
                    f"a GT mask of {name!r} is {g['size'][1]}x{g['size'][0]}, the image {width}x{height}"
                )
            continue
        if g and isinstance(g[0], list):
            try:
                geo.check_rings(g, width, height)
            except geo.GeometryError as exc:
                raise _fail(f"a GT polygon of {name!r}: {exc}") from exc
            continue
        if len(g) == 4:
            x, y, w, h = g
            if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
                raise _fail(f"GT box {g} lies outside {name!r} ({width}x{height})")
        else:
            px, py = g
            if not (-tol <= px <= width + tol and -tol <= py <= height + tol):
                raise _fail(f"GT point {g} lies outside {name!r} ({width}x{height})")
