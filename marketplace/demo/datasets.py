"""What the demo annotates, with the full truth the simulated workers "see".

Three sources: the built-in rendered scenes (boxes), a COCO instances file with its images
(``--coco FILE --images DIR``), and a folder of images with a CSV of answers for a tiled yes/no
classification job (``--tiled DIR --answers CSV``). A simulated worker recognises an image the way a
person does, by looking at it: what it downloads through its expiring link is the image's serving
rendition (resampled and re-encoded, never the file's bytes), matched to the nearest scene by a small
thumbnail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from marketplace.demo.scenes import LABELS, Scene, Shape, coco_for, render_dataset

YES_VALUES = {"1", "true", "yes", "y"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@dataclass
class DemoDataset:
    job_type: str  # "boxes" or "classification"
    folder: Path
    labels: list[str]
    scenes: dict[str, Scene]  # name -> truth (boxes: shapes; classification: one shape, no box)
    title: str
    description: str

    def by_hash(self) -> dict[str, Scene]:
        return {s.sha256: s for s in self.scenes.values()}

    def recogniser(self) -> Callable[[bytes], Scene]:
        """``recognise(downloaded bytes) -> Scene``: the scene whose file looks nearest."""
        names = sorted(self.scenes)
        thumbs = np.stack([_thumb((self.folder / name).read_bytes()) for name in names])

        def recognise(content: bytes) -> Scene:
            distance = ((thumbs - _thumb(content)) ** 2).mean(axis=1)
            return self.scenes[names[int(distance.argmin())]]

        return recognise

    def pick_gt(self, share: float, minimum: int, seed: int) -> list[str]:
        names = sorted(self.scenes)
        count = min(len(names) - 1, max(minimum, int(len(names) * share)))
        return sorted(random.Random(seed).sample(names, count))

    def gt_coco(self, names: list[str]) -> dict[str, Any]:
        if self.job_type == "boxes":
            return coco_for([self.scenes[n] for n in names], self.labels)
        cats = [{"id": i + 1, "name": label} for i, label in enumerate(self.labels)]
        cat_id = {c["name"]: c["id"] for c in cats}
        images = [{"id": i + 1, "file_name": n} for i, n in enumerate(names)]
        anns = [
            {"id": i + 1, "image_id": i + 1, "category_id": cat_id[self.scenes[n].shapes[0].label]}
            for i, n in enumerate(names)
        ]
        return {"images": images, "annotations": anns, "categories": cats}


def _thumb(content: bytes) -> np.ndarray:
    """A 24x24 colour thumbnail of an image as shown (orientation applied)."""
    with Image.open(io.BytesIO(content)) as image:
        shown = ImageOps.exif_transpose(image) or image
        small = shown.convert("RGB").resize((24, 24), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64).ravel()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rendered(folder: Path, count: int, seed: int) -> DemoDataset:
    scenes = render_dataset(folder, count, seed=seed)
    return DemoDataset(
        "boxes", folder, list(LABELS), {s.name: s for s in scenes}, "Box every shape",
        "Draw a tight box around every square, disc and triangle; pick its label.",
    )  # fmt: skip


def from_coco(coco_path: Path, images: Path) -> DemoDataset:
    """Boxes from a COCO instances file (crowd regions skipped) for the images present in ``images``."""
    coco = json.loads(coco_path.read_text())
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    scenes: dict[str, Scene] = {}
    for img in coco["images"]:
        path = images / img["file_name"]
        if path.is_file():
            scenes[img["file_name"]] = Scene(img["file_name"], img["width"], img["height"], [], _sha(path))
    for ann in coco["annotations"]:
        name = next((i["file_name"] for i in coco["images"] if i["id"] == ann["image_id"]), None)
        if name in scenes and not ann.get("iscrowd"):
            x, y, w, h = (float(v) for v in ann["bbox"])
            scenes[name].shapes.append(Shape(cats[ann["category_id"]], (x, y, w, h)))
    return DemoDataset(
        "boxes", images, [cats[k] for k in sorted(cats)], scenes, f"Boxes: {coco_path.stem}",
        "Draw a tight box around every object of the listed categories.",
    )  # fmt: skip


def from_answers_csv(folder: Path, answers: Path, column: str, limit: int | None = None) -> DemoDataset:
    """A tiled yes/no job: the first CSV column names the image; ``column`` holds the answer."""
    with answers.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or column not in rows[0]:
        raise ValueError(f"{answers} has no column {column!r}")
    name_col = next(iter(rows[0]))
    scenes: dict[str, Scene] = {}
    for row in rows:
        path = folder / row[name_col]
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            label = "yes" if row[column].strip().lower() in YES_VALUES else "no"
            scenes[path.name] = Scene(path.name, 0, 0, [Shape(label, (0.0, 0.0, 0.0, 0.0))], _sha(path))
        if limit and len(scenes) >= limit:
            break
    question = column.removeprefix("is_").replace("_", " ")
    return DemoDataset(
        "classification", folder, ["yes", "no"], scenes, f"Is it a {question}?",
        f"Select every image that shows a {question}; choose 'none of these' when none does.",
    )  # fmt: skip
