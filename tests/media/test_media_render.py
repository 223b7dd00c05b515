"""The rendition itself (pure): one encoder and setting for every input, orientation applied,
metadata gone, size capped with the scale kept, hostile files refused with a reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from marketplace.media import renditions
from marketplace.media.renditions import MAX_LONG_SIDE, RESAMPLE, BadImage, render, rendition_size

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
        assert (rendered.width, rendered.height, rendered.scale) == (108, 72, RESAMPLE), name
        tables = tuple(tuple(t) for t in image.quantization.values())  # type: ignore[attr-defined]
        kinds.add((tables, tuple(image.layer), tuple(sorted(image.info))))  # type: ignore[attr-defined]
    assert len(kinds) == 1, kinds


def test_orientation_is_applied_and_metadata_dropped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    exif[0x010F] = "Maker"
    rendered = render(encoded(noise(120, 80), "JPEG", exif=exif.tobytes(), comment=b"hi"), max_pixels=LIMIT)
    image = Image.open(io.BytesIO(rendered.data))
    assert (rendered.original_width, rendered.original_height) == (80, 120)
    assert image.size == rendition_size(80, 120) == (72, 108)
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


def scenes(n: int) -> list[Image.Image]:
    """Frames of one kind of scene: a gradient, a few shapes, sensor noise."""
    rng = np.random.default_rng(0)
    base = Image.linear_gradient("L").resize((320, 200)).convert("RGB")
    out = []
    for _ in range(n):
        image = base.copy()
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = int(rng.integers(0, 280)), int(rng.integers(0, 170))
            draw.ellipse((x, y, x + 40, y + 30), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        noisy = np.asarray(image, dtype=np.float64) + rng.normal(0, 4, (200, 320, 3))
        out.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))
    return out


def separation(a: list[float], b: list[float]) -> float:
    """ROC AUC of telling ``b`` from ``a`` by value, the better direction (ties count half)."""
    wins = sum((x > y) + 0.5 * (x == y) for x in b for y in a) / (len(a) * len(b))
    return max(wins, 1 - wins)


def blockiness(data: bytes) -> float:
    gray = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float64)
    dx, dy = np.abs(np.diff(gray, axis=1)), np.abs(np.diff(gray, axis=0))
    return float((dx[:, 7::8].mean() + dy[7::8, :].mean()) / (dx.mean() + dy.mean()))


def test_the_source_pixel_grid_is_never_served(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GT set saved at JPEG q95 4:4:4, data at q90 4:2:0, same scenes: served at the source's own
    pixel grid (re-encoded only), their renditions' size and 8x8 block edges tell them apart
    perfectly; resampled, about as well as a coin."""

    def measured() -> tuple[float, float]:
        made = {90: [], 95: []}  # type: dict[int, list[bytes]]
        for k, frame in enumerate(scenes(40)):
            quality = 95 if k % 2 else 90
            subsampling = "4:4:4" if quality == 95 else "4:2:0"
            source = encoded(frame, "JPEG", quality=quality, subsampling=subsampling)
            made[quality].append(render(source, max_pixels=LIMIT).data)
        size = separation([len(d) for d in made[90]], [len(d) for d in made[95]])
        edges = separation([blockiness(d) for d in made[90]], [blockiness(d) for d in made[95]])
        return size, edges

    size, edges = measured()
    assert size < 0.7 and edges < 0.75, (size, edges)
    monkeypatch.setattr(renditions, "RESAMPLE", 1.0)  # what re-encoding alone gives
    size, edges = measured()
    assert size > 0.9 and edges > 0.9, (size, edges)


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(BadImage, match="pixel limit"):
        render(encoded(Image.new("L", (4000, 4000)), "PNG", optimize=True), max_pixels=1_000_000)
