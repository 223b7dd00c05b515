"""Storage in a local folder: the embedded default, and a requester's local data folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from marketplace.errors import InvalidInput, NotFound
from marketplace.storage.base import (
    ObjectInfo,
    Storage,
    normalize_key,
    normalize_prefix,
    require_nonempty_prefix,
)

#: how much of an uploaded file is copied at a time
COPY_PIECE = 1 << 20


class LocalStorage(Storage):
    """Objects are files under ``root``; a key ``a/b.jpg`` is the file ``root/a/b.jpg``.

    Keys that would leave the root — ``..``, absolute keys, or symlinks pointing outside — are
    refused with InvalidInput; escaping symlinks are also skipped when listing.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)

    # -- paths -------------------------------------------------------------------------------

    def _inside_root(self, path: Path) -> bool:
        return path == self.root or path.is_relative_to(self.root)

    def path_for(self, key: str) -> Path:
        """The real filesystem path of ``key``, guaranteed to be inside the root."""
        normalize_key(key)
        resolved = (self.root / key).resolve()
        if not self._inside_root(resolved) or resolved == self.root:
            raise InvalidInput(f"object key {key!r} points outside the storage folder")
        return resolved

    # -- listing -----------------------------------------------------------------------------

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        prefix = normalize_prefix(prefix)
        dir_part, _, name_start = prefix.rpartition("/")
        directory = self.root / dir_part if dir_part else self.root
        if not self._is_safe_dir(directory):
            return
        key_base = f"{dir_part}/" if dir_part else ""
        yield from self._walk(directory, key_base, name_start)

    def _is_safe_dir(self, directory: Path) -> bool:
        return directory.is_dir() and self._inside_root(directory.resolve())

    def _walk(self, directory: Path, key_base: str, name_start: str = "") -> Iterator[ObjectInfo]:
        """Depth-first, entries sorted so that keys come out in S3's byte order (a directory
        ``a`` sorts as ``a/``, so ``a-b.jpg`` comes before ``a/x.jpg`` like in a bucket)."""
        try:
            with os.scandir(directory) as scan:
                entries = [e for e in scan if e.name.startswith(name_start)]
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return
        entries.sort(key=lambda e: e.name + "/" if e.is_dir() else e.name)
        for entry in entries:
            yield from self._entry_objects(entry, key_base)

    def _entry_objects(self, entry: os.DirEntry[str], key_base: str) -> Iterator[ObjectInfo]:
        path = Path(entry.path)
        if entry.is_symlink() and not self._inside_root(path.resolve()):
            return
        if entry.is_dir():
            if not entry.is_symlink():  # never follow directory symlinks: no cycles, no duplicates
                yield from self._walk(path, f"{key_base}{entry.name}/")
        elif entry.is_file():
            yield ObjectInfo(f"{key_base}{entry.name}", entry.stat().st_size)

    # -- reading and writing -----------------------------------------------------------------

    def _existing_file(self, key: str) -> Path:
        path = self.path_for(key)
        if not path.is_file():
            raise NotFound(f"object {key!r} not found")  # never the folder: answers must not show it
        return path

    def read_head(self, key: str, n: int) -> bytes:
        path = self._existing_file(key)
        if n <= 0:
            return b""
        with path.open("rb") as fh:
            return fh.read(n)

    def read(self, key: str) -> bytes:
        return self._existing_file(key).read_bytes()

    def size(self, key: str) -> int:
        return self._existing_file(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def write(self, key: str, data: bytes) -> None:
        """Atomic: write a temporary file beside the target, then rename over it."""
        self._write_atomic(key, lambda fh: fh.write(data))

    def write_file(self, key: str, source: BinaryIO) -> None:
        self._write_atomic(key, lambda fh: shutil.copyfileobj(source, fh, COPY_PIECE))

    def _write_atomic(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fill(fh)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def delete_prefix(self, prefix: str) -> int:
        prefix = require_nonempty_prefix(prefix)
        deleted = 0
        for obj in list(self.iter_objects(prefix)):
            (self.root / obj.key).unlink(missing_ok=True)
            deleted += 1
        self._remove_empty_dirs(prefix)
        return deleted

    def _remove_empty_dirs(self, prefix: str) -> None:
        """Remove the now-empty directories whose ``key/`` falls under the prefix."""
        dir_part = prefix.rpartition("/")[0]
        top = self.root / dir_part if dir_part else self.root
        if not self._is_safe_dir(top) or top.is_symlink():
            return
        walked = [Path(dirpath) for dirpath, _, _ in os.walk(top)]
        for directory in sorted(walked, key=lambda p: len(p.parts), reverse=True):
            rel = directory.relative_to(self.root).as_posix() + "/"
            if directory != self.root and rel.startswith(prefix):
                with contextlib.suppress(OSError):  # not empty: something else lives there
                    directory.rmdir()
