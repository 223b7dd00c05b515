"""A box-to-polygon helper for the editor: GrabCut (OpenCV) inside a box the worker drew, traced into
rings the worker then accepts and edits. A suggestion, never an answer: what is stored is what the
worker submits, checked like any drawn polygon.

The work is bounded whatever the image: GrabCut runs on the box and a margin around it, shrunk to at
most ``WORK_SIDE`` pixels on its longer side, and the mask is scaled back to image pixels.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageOps

from marketplace.geometry.polygons import GeometryError, Ring, mask_to_rings

WORK_SIDE = 256  # px: GrabCut's cost grows with the pixels it labels
ITERATIONS = 4
MARGIN = 0.15  # of the box size, around the box: GrabCut learns the background colours there
MAX_SOURCE_PIXELS = 100_000_000


def decode_rgb(content: bytes) -> np.ndarray:
    """An image file as an RGB array, turned as its EXIF orientation says (as browsers show it)."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.width * image.height > MAX_SOURCE_PIXELS:
                raise GeometryError("the image is too large for the assist")
            rgb = ImageOps.exif_transpose(image).convert("RGB")
            return np.asarray(rgb)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise GeometryError("the image could not be read") from exc


def box_to_rings(
    rgb: np.ndarray, box: tuple[float, float, float, float], vertex_budget: int = 60
) -> list[Ring]:
    """Rings outlining the object GrabCut finds in ``box = (x, y, w, h)`` (image pixels)."""
    height, width = rgb.shape[:2]
    x, y, w, h = box
    if w < 3 or h < 3:
        raise GeometryError("the box is too small: draw it around the whole object")
    if x < 0 or y < 0 or x + w > width + 0.5 or y + h > height + 0.5:
        raise GeometryError(f"the box lies outside the {width}x{height} image")
    pad_x, pad_y = MARGIN * w + 2, MARGIN * h + 2
    x0, y0 = max(int(x - pad_x), 0), max(int(y - pad_y), 0)
    x1, y1 = min(int(np.ceil(x + w + pad_x)), width), min(int(np.ceil(y + h + pad_y)), height)
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1])  # OpenCV wants BGR
    scale = min(1.0, WORK_SIDE / max(crop.shape[:2]))
    small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else crop
    rect = (
        int((x - x0) * scale),
        int((y - y0) * scale),
        max(int(w * scale), 2),
        max(int(h * scale), 2),
    )
    mask = np.zeros(small.shape[:2], np.uint8)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(small, mask, rect, background, foreground, ITERATIONS, cv2.GC_INIT_WITH_RECT)
    chosen = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    if scale < 1:
        chosen = np.asarray(cv2.resize(chosen, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST), np.uint8)
    if not chosen.any():
        raise GeometryError("no object found in the box: draw the polygon by hand")
    return mask_to_rings(chosen, vertex_budget, offset=(x0, y0))
