"""Storage fixtures: settings without a database, image makers, S3 settings.

The S3 server itself (SeaweedFS) is the ``s3_server`` fixture of tests/s3_server.py.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from marketplace.config import Settings
from tests.s3_server import S3Server

REPO = Path(__file__).resolve().parents[2]


# -- settings and images ---------------------------------------------------------------------


@pytest.fixture
def storage_settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        home=tmp_path / "home",
        secret_key="storage-tests-" + "s" * 40,
        public_base_url="http://testserver",
    )


def make_image_bytes(width: int, height: int, fmt: str = "JPEG", **save_args: Any) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 30, 200)).save(buf, fmt, **save_args)
    return buf.getvalue()


def make_jpeg_with_big_exif(width: int, height: int, pad: int = 60_000, orientation: int = 1) -> bytes:
    """A JPEG whose SOF marker sits after ``pad`` bytes of EXIF (and a 200 KB ICC profile)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010E] = "x" * pad  # ImageDescription
    return make_image_bytes(width, height, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 200_000)


def make_png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny valid PNG whose IHDR is patched to claim ``width`` x ``height`` (CRC fixed up)."""
    data = bytearray(make_image_bytes(8, 8, "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


class ImageMaker:
    """Handed to tests by the ``images`` fixture (test modules don't import conftest)."""

    plain = staticmethod(make_image_bytes)
    jpeg_big_exif = staticmethod(make_jpeg_with_big_exif)
    png_bomb = staticmethod(make_png_bomb)


@pytest.fixture(scope="session")
def images() -> type[ImageMaker]:
    return ImageMaker


# -- shared datasets -------------------------------------------------------------------------


def shared_datasets_dir() -> Path:
    return Path(os.environ.get("TILEWORK_SHARED", REPO.parent / "shared")) / "datasets"


@pytest.fixture(scope="session")
def coco_samples_dir() -> Path:
    path = shared_datasets_dir() / "coco_icevision_samples"
    if not (path / "images").is_dir():
        pytest.skip(f"needs the shared datasets at {path} (absent in a plain clone; set TILEWORK_SHARED)")
    return path


@pytest.fixture
def s3_settings(s3_env: S3Server, storage_settings: Settings) -> Settings:
    return storage_settings.model_copy(update={"s3_endpoint_url": s3_env.endpoint_url})
