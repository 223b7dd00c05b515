"""Rendered scenes whose boxes are known exactly: the demo's built-in dataset.

Each scene is a noisy background with a few filled shapes (squares, discs, triangles). The shape's
bounding box is computed from the drawing coordinates, so the truth is exact, not annotated.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

LABELS = ("square", "disc", "triangle")
PALETTE = [(220, 60, 60), (60, 160, 80), (60, 90, 220), (230, 180, 40), (160, 70, 190)]


@dataclass(frozen=True)
class Shape:
    label: str
    box: tuple[float, float, float, float]  # x, y, w, h


@dataclass
class Scene:
    name: str
    width: int
    height: int
    shapes: list[Shape] = field(default_factory=list)
    sha256: str = ""


def _place(rng: random.Random, width: int, height: int, taken: list[Shape]) -> tuple[int, int, int] | None:
    for _ in range(40):
        size = rng.randint(min(width, height) // 8, min(width, height) // 3)
        x = rng.randint(2, width - size - 2)
        y = rng.randint(2, height - size - 2)
        if all(_overlap((x, y, size, size), s.box) < 0.05 for s in taken):
            return x, y, size
    return None


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _draw(
    draw: ImageDraw.ImageDraw, label: str, x: int, y: int, size: int, color: tuple[int, int, int]
) -> None:
    if label == "square":
        draw.rectangle([x, y, x + size - 1, y + size - 1], fill=color)
    elif label == "disc":
        draw.ellipse([x, y, x + size - 1, y + size - 1], fill=color)
    else:
        draw.polygon([(x, y + size - 1), (x + size - 1, y + size - 1), (x + (size - 1) / 2, y)], fill=color)


def render_scene(name: str, rng: random.Random, width: int = 320, height: int = 240) -> tuple[Scene, bytes]:
    background = tuple(rng.randint(200, 245) for _ in range(3))
    image = Image.effect_noise((width, height), 24).convert("RGB")
    image = Image.blend(image, Image.new("RGB", (width, height), background), 0.75)
    image = image.filter(ImageFilter.GaussianBlur(1))
    draw = ImageDraw.Draw(image)
    scene = Scene(name, width, height)
    for _ in range(rng.randint(1, 4)):
        spot = _place(rng, width, height, scene.shapes)
        if spot is None:
            continue
        x, y, size = spot
        label = rng.choice(LABELS)
        _draw(draw, label, x, y, size, rng.choice(PALETTE))
        scene.shapes.append(Shape(label, (float(x), float(y), float(size), float(size))))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    data = buf.getvalue()
    scene.sha256 = hashlib.sha256(data).hexdigest()
    return scene, data


def render_dataset(folder: Path, count: int, seed: int = 7) -> list[Scene]:
    """Write ``count`` scenes as PNG files into ``folder``; return their exact truth."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    scenes = []
    for i in range(count):
        scene, data = render_scene(f"scene_{i:04d}.png", rng)
        (folder / scene.name).write_bytes(data)
        scenes.append(scene)
    return scenes


def coco_for(scenes: list[Scene], labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """COCO instances for the given scenes (used as the requester's GT for a subset)."""
    cats = [{"id": i + 1, "name": label} for i, label in enumerate(labels)]
    cat_id = {c["name"]: c["id"] for c in cats}
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for img_id, scene in enumerate(scenes, start=1):
        images.append({"id": img_id, "file_name": scene.name, "width": scene.width, "height": scene.height})
        for shape in scene.shapes:
            x, y, w, h = shape.box
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img_id,
                    "category_id": cat_id[shape.label],
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    return {"images": images, "annotations": anns, "categories": cats}


def write_coco(path: Path, scenes: list[Scene]) -> None:
    path.write_text(json.dumps(coco_for(scenes)))
