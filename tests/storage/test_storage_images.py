"""Image probing from a head buffer: sizes, retries with a bigger head, and refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marketplace.config import Settings
from marketplace.errors import InvalidInput, PayloadTooLarge
from marketplace.storage import LocalStorage, iter_probed_images, open_storage, probe_image, probe_image_bytes
from marketplace.storage.images import HEAD_SIZES


class CountingStorage(LocalStorage):
    """Records every ``read_head`` size, to show how much of a file was read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heads: list[int] = []

    def read_head(self, key: str, n: int) -> bytes:
        self.heads.append(n)
        return super().read_head(key, n)


@pytest.fixture
def store(tmp_path: Path, storage_settings: Settings) -> CountingStorage:
    return CountingStorage(tmp_path / "root")


@pytest.mark.parametrize(
    ("fmt", "ext", "expected_format"),
    [
        ("JPEG", "jpg", "JPEG"),
        ("PNG", "png", "PNG"),
        ("WEBP", "webp", "WEBP"),
        ("BMP", "bmp", "BMP"),
        ("GIF", "gif", "GIF"),
        ("TIFF", "tiff", "TIFF"),
    ],
)
def test_probe_sizes_by_format(
    store: CountingStorage, storage_settings: Settings, images: Any, fmt: str, ext: str, expected_format: str
) -> None:
    data = images.plain(641, 479, fmt)
    store.write(f"img/photo.{ext}", data)
    info = probe_image(store, f"img/photo.{ext}", storage_settings)
    assert (info.name, info.width, info.height, info.size_bytes, info.format) == (
        f"img/photo.{ext}",
        641,
        479,
        len(data),
        expected_format,
    )


def test_small_header_needs_only_the_first_head(
    store: CountingStorage, storage_settings: Settings, images: Any
) -> None:
    big_png = images.plain(2000, 1500, "PNG", compress_level=0)  # ~9 MB of pixels, header up front
    store.write("big.png", big_png)
    assert probe_image(store, "big.png", storage_settings).width == 2000
    assert store.heads == [HEAD_SIZES[0]]


def test_jpeg_with_sof_behind_big_exif_retries_with_bigger_head(
    store: CountingStorage, storage_settings: Settings, images: Any
) -> None:
    data = images.jpeg_big_exif(300, 200, orientation=6)
    assert len(data) > HEAD_SIZES[0]
    store.write("exif.jpg", data)
    info = probe_image(store, "exif.jpg", storage_settings)
    assert (info.width, info.height, info.orientation, info.display_size) == (300, 200, 6, (200, 300))
    assert store.heads == [HEAD_SIZES[0], len(data)]  # file < 1 MiB: the second read is the whole file


def test_listing_sizes_skip_the_stat(store: CountingStorage, storage_settings: Settings, images: Any) -> None:
    for i in range(20):
        store.write(f"set/{i:02d}.png", images.plain(10 + i, 5, "PNG"))
    store.write("set/notes.txt", b"not an image, not listed by iter_images")
    infos = list(iter_probed_images(store, "set/", storage_settings, max_workers=4))
    assert [(i.name, i.width) for i in infos] == [(f"set/{i:02d}.png", 10 + i) for i in range(20)]


def test_not_an_image_is_refused_naming_the_file(
    store: CountingStorage, storage_settings: Settings, images: Any
) -> None:
    store.write("fake.jpg", b"this is text, not a JPEG" * 10)
    store.write("empty.png", b"")
    store.write("cut.jpg", images.plain(64, 64, "JPEG")[:1])
    for key in ("fake.jpg", "empty.png", "cut.jpg"):
        with pytest.raises(InvalidInput, match=key):
            probe_image(store, key, storage_settings)


def test_unaccepted_formats_are_refused(storage_settings: Settings, images: Any) -> None:
    with pytest.raises(InvalidInput, match="doc.jpg"):
        probe_image_bytes("doc.jpg", images.plain(10, 10, "PDF"), storage_settings)


def test_oversized_file_is_refused_before_reading(
    store: CountingStorage, storage_settings: Settings, images: Any
) -> None:
    data = images.plain(100, 100, "PNG")
    store.write("huge.png", data)
    settings = storage_settings.model_copy(update={"max_image_bytes": len(data) - 1})
    with pytest.raises(PayloadTooLarge, match="huge.png"):
        probe_image(store, "huge.png", settings)
    assert store.heads == []


def test_decompression_bomb_header_is_refused(storage_settings: Settings, images: Any) -> None:
    bomb = images.png_bomb(50_000, 50_000)
    assert len(bomb) < 200
    with pytest.raises(PayloadTooLarge, match="bomb.png") as caught:
        probe_image_bytes("bomb.png", bomb, storage_settings)
    assert caught.value.status_code == 413


def test_pixel_limit_comes_from_settings(storage_settings: Settings, images: Any) -> None:
    data = images.png_bomb(2_000, 1_000)  # 2 Mpx, under Pillow's own limit
    strict = storage_settings.model_copy(update={"max_image_pixels": 1_000_000})
    with pytest.raises(PayloadTooLarge, match=r"wide.png.*2000x1000"):
        probe_image_bytes("wide.png", data, strict)
    assert probe_image_bytes("wide.png", data, storage_settings).width == 2_000


def test_probe_image_bytes_for_uploads(storage_settings: Settings, images: Any) -> None:
    data = images.jpeg_big_exif(33, 44)
    info = probe_image_bytes("upload.jpg", data, storage_settings)
    assert (info.name, info.width, info.height, info.size_bytes, info.format) == (
        "upload.jpg",
        33,
        44,
        len(data),
        "JPEG",
    )


@pytest.mark.shared
def test_shared_coco_samples_through_local_storage(
    coco_samples_dir: Path, storage_settings: Settings
) -> None:
    import json

    expected = {
        img["file_name"]: (img["width"], img["height"])
        for img in json.loads((coco_samples_dir / "instances.json").read_text())["images"]
    }
    storage = open_storage(f"file://{coco_samples_dir / 'images'}", storage_settings)
    listed = list(storage.iter_images())
    assert len(listed) == 6
    infos = list(iter_probed_images(storage, "", storage_settings))
    assert {i.name: (i.width, i.height) for i in infos} == {k: expected[k] for k in (o.key for o in listed)}
    assert all(i.format == "JPEG" for i in infos)
