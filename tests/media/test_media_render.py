"""The rendition itself (pure): one encoder and setting for every input, orientation applied,
metadata gone, size capped with the scale kept, hostile files refused with a reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from marketplace.media.renditions import MAX_LONG_SIDE, BadImage, render

LIMIT = 100_000_000


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def noise(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_every_input_kind_comes_out_as_the_same_kind_of_jpeg() -> None:
    base = noise(120, 80)
    inputs = {
        "png rgb": encoded(base, "PNG"),
        "png rgba": encoded(base.convert("RGBA"), "PNG"),
        "png grey": encoded(base.convert("L"), "PNG"),
        "png 16-bit": encoded(Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257), "PNG"),
        "gif palette": encoded(base.convert("P"), "GIF"),
        "jpeg cmyk": encoded(base.convert("CMYK"), "JPEG"),
        "jpeg q100 4:4:4 progressive": encoded(base, "JPEG", quality=100, subsampling=0, progressive=True),
        "webp": encoded(base, "WEBP"),
        "tiff": encoded(base, "TIFF"),
        "bmp": encoded(base, "BMP"),
    }
    kinds = set()
    for name, data in inputs.items():
        rendered = render(data, max_pixels=LIMIT)
        image = Image.open(io.BytesIO(rendered.data))
        assert image.format == "JPEG" and image.mode == "RGB", name
        assert (rendered.width, rendered.height, rendered.scale) == (120, 80, 1.0), name
        tables = tuple(tuple(t) for t in image.quantization.values())  # type: ignore[attr-defined]
        kinds.add((tables, tuple(image.layer), tuple(sorted(image.info))))  # type: ignore[attr-defined]
    assert len(kinds) == 1, kinds


def test_orientation_is_applied_and_metadata_dropped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    exif[0x010F] = "Maker"
    rendered = render(encoded(noise(120, 80), "JPEG", exif=exif.tobytes(), comment=b"hi"), max_pixels=LIMIT)
    image = Image.open(io.BytesIO(rendered.data))
    assert image.size == (80, 120) == (rendered.original_width, rendered.original_height)
    assert not image.getexif() and "comment" not in image.info and "exif" not in image.info


def test_a_large_image_is_capped_and_its_scale_kept() -> None:
    rendered = render(encoded(noise(3000, 1000), "PNG"), max_pixels=LIMIT)
    assert max(rendered.width, rendered.height) == MAX_LONG_SIDE
    assert (rendered.original_width, rendered.original_height) == (3000, 1000)
    assert rendered.scale == pytest.approx(MAX_LONG_SIDE / 3000)
    assert rendered.height == round(1000 * rendered.scale)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", encoded(noise(64, 64), "PNG")[:100], b"\xff\xd8\xff\xe0" + b"\x00" * 50],
    ids=["empty", "text", "truncated png", "jpeg header only"],
)
def test_what_cannot_be_decoded_is_refused_with_a_reason(data: bytes) -> None:
    with pytest.raises(BadImage) as caught:
        render(data, max_pixels=LIMIT)
    assert caught.value.reason


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(BadImage, match="pixel limit"):
        render(encoded(Image.new("L", (4000, 4000)), "PNG", optimize=True), max_pixels=1_000_000)
