"""The serving rendition of an image: what every worker receives instead of the original file.

Every image of a job, hidden GT or not, goes through :func:`render` once when the job is activated:

* decoded by Pillow (only the formats intake accepts; animated files give their first frame);
* the EXIF orientation applied to the pixels, an embedded ICC profile converted to sRGB;
* flattened to 8-bit RGB (alpha over white; grey, palette, CMYK and 16-bit images alike), so every
  rendition has the same number of components, sampling and bit depth;
* resampled, always: to :data:`RESAMPLE` of its size, or less so its long side is at most
  :data:`MAX_LONG_SIDE`, with the scale kept. Never serving the source's own pixel grid is what
  erases its compression history: re-encoding alone keeps the source encoder's 8x8 block edges and
  the fine detail its quality setting kept, and those told GT frames saved at JPEG q95 from data
  frames saved at q90 (AUC 0.95 on the rendition's size, 0.97 on blockiness, 0.79 on sharpness
  over the bedroom video's 200 frames); after a 0.9 resample, 0.51, 0.55 and 0.52;
* re-encoded by one encoder with one setting (:data:`FORMAT` at :data:`QUALITY`, 4:2:0, baseline,
  no metadata at all: no EXIF, ICC, XMP, comment, JFIF density or thumbnail of the source survives).

So the bytes a worker gets say nothing about where a file came from (camera, editor, encoder,
quantisation tables, file date), only what it shows. Pure: bytes in, bytes out, no storage.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps

from marketplace.storage.images import PIL_FORMATS

FORMAT = "JPEG"
CONTENT_TYPE = "image/jpeg"
EXTENSION = "jpg"
QUALITY = 85
MAX_LONG_SIDE = 2048
RESAMPLE = 0.9
_SRGB = ImageCms.createProfile("sRGB")


class BadImage(Exception):
    """The file cannot be made into a rendition; ``reason`` is safe to show to its requester."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Rendered:
    data: bytes
    width: int
    height: int
    #: rendition pixels per original (oriented) pixel (``<= RESAMPLE``; the height's scale differs
    #: from it by rounding only)
    scale: float
    #: the original's size once its orientation is applied: the coordinates of every answer
    original_width: int
    original_height: int


def render(data: bytes, *, max_pixels: int, max_long_side: int = MAX_LONG_SIDE) -> Rendered:
    """The rendition of one image file. Raises :class:`BadImage` on anything that is not a readable
    image of at most ``max_pixels`` pixels."""
    try:
        with Image.open(io.BytesIO(data), formats=PIL_FORMATS) as image:
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise BadImage(f"{width}x{height} pixels is over the {max_pixels}-pixel limit")
            image.seek(0)
            image.load()
            rgb = _to_srgb(_oriented(image))
    except BadImage:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImage(f"too many pixels (decompression bomb): {exc}") from exc
    except Image.UnidentifiedImageError as exc:
        raise BadImage("not an image in a supported format (JPEG, PNG, WebP, BMP, GIF, TIFF)") from exc
    except Exception as exc:  # untrusted input: truncated files raise OSError, broken headers others
        raise BadImage(f"not a readable image ({type(exc).__name__}: {exc})") from exc
    original_width, original_height = rgb.size
    size = rendition_size(original_width, original_height, max_long_side)
    scale = size[0] / original_width
    rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    # Only the pixels go on: Pillow writes an image's remembered EXIF, comment or profile back out
    # when saving, so the encoder gets a new image that never had any.
    clean = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    out = io.BytesIO()
    clean.save(out, format=FORMAT, quality=QUALITY, subsampling="4:2:0", optimize=False, progressive=False)
    return Rendered(out.getvalue(), rgb.width, rgb.height, scale, original_width, original_height)


def rendition_size(width: int, height: int, max_long_side: int = MAX_LONG_SIDE) -> tuple[int, int]:
    """The rendition's pixels for an (oriented) original of ``width`` x ``height``: one scale for
    both sides, :data:`RESAMPLE` or less, at least one pixel."""
    scale = min(RESAMPLE, max_long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _oriented(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # a broken EXIF block: the pixels as stored
        return image


def _to_srgb(image: Image.Image) -> Image.Image:
    """8-bit RGB in sRGB, whatever the source's mode and colour profile."""
    icc = image.info.get("icc_profile")
    if image.mode.startswith("I") or image.mode == "F":  # 16/32-bit grey: keep the top 8 bits
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(values * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        image = flat
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGB" if image.mode == "RGBA" else image.mode
            converted = ImageCms.profileToProfile(image.convert(mode), source, _SRGB, outputMode="RGB")
            if converted is not None:
                return converted
        except Exception:  # an unusable profile: convert as if untagged
            pass
    return image.convert("RGB")
