"""Image dimensions without decoding pixels.

``Image.open`` only parses the header, so we hand Pillow the first 64 KiB of the file, then 1 MiB,
then the whole file, stopping as soon as the header parses: a JPEG whose SOF marker sits behind a
large EXIF/ICC block, or a TIFF whose directory is at the end, simply takes another read.
Only the formats we accept are tried (no EPS/PSD/… plugins on untrusted input).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from PIL import Image

from marketplace.errors import InvalidInput, PayloadTooLarge
from marketplace.storage.base import Storage

if TYPE_CHECKING:
    from marketplace.config import Settings

HEAD_SIZES = (64 * 1024, 1024 * 1024)
PIL_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
EXIF_ORIENTATION_TAG = 0x0112
_TRANSPOSED_ORIENTATIONS = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class ImageInfo:
    """What we know about an image from its header. ``width``/``height`` are the stored pixel
    dimensions; ``orientation`` is the EXIF orientation (1 = none; 5–8 mean a browser shows it
    rotated by 90°, see :attr:`display_size`)."""

    name: str
    width: int
    height: int
    size_bytes: int
    format: str
    orientation: int = 1

    @property
    def display_size(self) -> tuple[int, int]:
        if self.orientation in _TRANSPOSED_ORIENTATIONS:
            return self.height, self.width
        return self.width, self.height


class _HeaderIncomplete(Exception):
    pass


def _check_byte_size(name: str, size_bytes: int, settings: Settings) -> None:
    if size_bytes > settings.max_image_bytes:
        raise PayloadTooLarge(
            f"image {name!r} is {size_bytes} bytes, over the {settings.max_image_bytes}-byte limit"
        )


def _check_pixels(name: str, width: int, height: int, settings: Settings) -> None:
    if width <= 0 or height <= 0:
        raise InvalidInput(f"image {name!r} has an invalid size {width}x{height}")
    if width * height > settings.max_image_pixels:
        raise PayloadTooLarge(
            f"image {name!r} is {width}x{height} = {width * height} pixels, over the "
            f"{settings.max_image_pixels}-pixel limit (possible decompression bomb)"
        )


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not make a valid image unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _parse_header(name: str, head: bytes, size_bytes: int, complete: bool) -> ImageInfo:
    """Parse the header in ``head``; raise _HeaderIncomplete when more bytes might help."""
    try:
        with Image.open(io.BytesIO(head), formats=PIL_FORMATS) as image:
            width, height = image.size
            return ImageInfo(name, width, height, size_bytes, str(image.format), _orientation(image))
    except Image.DecompressionBombError as exc:  # Pillow's own guard (2x its MAX_IMAGE_PIXELS)
        raise PayloadTooLarge(f"image {name!r} is too large in pixels (decompression bomb): {exc}") from exc
    except Exception as exc:  # untrusted input: plugins raise OSError, SyntaxError, struct.error, …
        if not complete:
            raise _HeaderIncomplete from exc
        raise InvalidInput(f"file {name!r} is not a readable image ({type(exc).__name__}: {exc})") from exc


def _probe(name: str, size_bytes: int, read_head: Callable[[int], bytes], settings: Settings) -> ImageInfo:
    _check_byte_size(name, size_bytes, settings)
    for n in (*[h for h in HEAD_SIZES if h < size_bytes], size_bytes):
        head = read_head(n)
        try:
            info = _parse_header(name, head, size_bytes, complete=len(head) >= size_bytes)
        except _HeaderIncomplete:
            continue
        _check_pixels(name, info.width, info.height, settings)
        return info
    raise InvalidInput(f"file {name!r} is not a readable image")


def probe_image(storage: Storage, key: str, settings: Settings, size_bytes: int | None = None) -> ImageInfo:
    """Width/height/format of ``key`` reading only its head. Pass ``size_bytes`` from a listing
    to skip a HEAD/stat. Raises InvalidInput (not an image), PayloadTooLarge (too many bytes or
    pixels), NotFound."""
    if size_bytes is None:
        size_bytes = storage.size(key)
    return _probe(key, size_bytes, partial(storage.read_head, key), settings)


def probe_image_bytes(name: str, data: bytes, settings: Settings) -> ImageInfo:
    """The same checks for an uploaded file already in memory."""
    return _probe(name, len(data), lambda n: data[:n], settings)


def iter_probed_images(
    storage: Storage, prefix: str, settings: Settings, *, max_workers: int = 8
) -> Iterator[ImageInfo]:
    """Probe every image under ``prefix`` in listing order, ``max_workers`` ranged reads in flight
    (S3 latency dominates). Lazy: at most ``2 * max_workers`` probes are pending at a time. The
    first failing image raises its error."""
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="probe") as pool:
        pending: deque[Future[ImageInfo]] = deque()
        for obj in storage.iter_images(prefix):
            pending.append(pool.submit(probe_image, storage, obj.key, settings, obj.size))
            if len(pending) >= 2 * max_workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
