"""The storage interface every backend implements, and the key rules they share.

A *key* is always a POSIX-style path relative to the storage's root (a local folder, or a bucket
plus prefix): ``images/0001.jpg``. Keys never start with ``/``, never contain ``..`` or empty
segments, and never contain a backslash or NUL. A *prefix* follows S3 semantics: a plain string
prefix of the key (``images/00`` matches ``images/0001.jpg``), ``""`` meaning everything.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from marketplace.errors import InvalidInput

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"})
LIST_PAGE_SIZE = 1000


class ObjectInfo(NamedTuple):
    """One listed object: its key (relative to the storage root) and its size in bytes."""

    key: str
    size: int


def is_image_key(key: str) -> bool:
    """True when the key's extension is one of the image formats we accept (case-insensitive)."""
    name = key.rsplit("/", 1)[-1]
    if "." not in name:
        return False
    return name.rsplit(".", 1)[1].lower() in IMAGE_EXTENSIONS


def _check_segments(value: str, what: str) -> None:
    if "\x00" in value or "\\" in value:
        raise InvalidInput(f"{what} {value!r} contains a forbidden character (NUL or backslash)")
    if value.startswith("/"):
        raise InvalidInput(f"{what} {value!r} must be relative, not absolute")
    if any(part == ".." for part in value.split("/")):
        raise InvalidInput(f"{what} {value!r} must not contain '..'")


def normalize_key(key: str) -> str:
    """Validate an object key and return it unchanged; raise InvalidInput when it is unsafe."""
    if not key:
        raise InvalidInput("object key must not be empty")
    _check_segments(key, "object key")
    if any(part in ("", ".") for part in key.split("/")):
        raise InvalidInput(f"object key {key!r} must not contain empty or '.' segments")
    return key


def normalize_prefix(prefix: str) -> str:
    """Validate a listing prefix (``""`` = everything); a trailing ``/`` is allowed."""
    if not prefix:
        return ""
    _check_segments(prefix, "prefix")
    inner = prefix[:-1] if prefix.endswith("/") else prefix
    if any(part in ("", ".") for part in inner.split("/")):
        raise InvalidInput(f"prefix {prefix!r} must not contain empty or '.' segments")
    return prefix


class Storage(abc.ABC):
    """Object storage rooted at one location (``uri``). All keys are relative to that root."""

    uri: str

    @abc.abstractmethod
    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object under ``prefix`` lazily, in key (byte) order, one page at a time."""

    def iter_images(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Like :meth:`iter_objects`, keeping only keys with an image extension."""
        return (obj for obj in self.iter_objects(prefix) if is_image_key(obj.key))

    @abc.abstractmethod
    def read_head(self, key: str, n: int) -> bytes:
        """The first ``n`` bytes of the object (fewer if it is shorter)."""

    @abc.abstractmethod
    def read(self, key: str) -> bytes:
        """The whole object. Raises NotFound when it does not exist."""

    @abc.abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Create or replace the object."""

    def write_file(self, key: str, source: BinaryIO) -> None:
        """Create or replace the object from an open file (read from where it stands); the stores
        override it to copy in pieces, so a large upload is never held in memory whole."""
        self.write(key, source.read())

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether the object exists."""

    @abc.abstractmethod
    def size(self, key: str) -> int:
        """The object's size in bytes. Raises NotFound when it does not exist."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under a non-empty ``prefix``; return how many were deleted."""


def require_nonempty_prefix(prefix: str) -> str:
    """``delete_prefix("")`` would wipe the whole storage: refuse it explicitly."""
    prefix = normalize_prefix(prefix)
    if not prefix:
        raise InvalidInput("refusing to delete with an empty prefix (it would delete everything)")
    return prefix
