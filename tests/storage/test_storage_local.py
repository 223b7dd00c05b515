"""LocalStorage: listing, key safety, reads/writes, deletion, and the factory."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from marketplace.config import Settings
from marketplace.errors import InvalidInput, NotFound
from marketplace.storage import LocalStorage, ObjectInfo, S3Storage, open_storage


@pytest.fixture
def store(tmp_path: Path, storage_settings: Settings) -> LocalStorage:
    storage = open_storage(str(tmp_path / "root"), storage_settings)
    assert isinstance(storage, LocalStorage)
    storage.root.mkdir()
    return storage


def put(store: LocalStorage, files: dict[str, bytes]) -> None:
    for key, data in files.items():
        store.write(key, data)


def test_listing_is_s3_ordered_with_sizes(store: LocalStorage) -> None:
    put(store, {"a/x.jpg": b"12", "a-b.jpg": b"1", "a/sub/y.PNG": b"123", "b.txt": b"", "a/z.jpeg": b"4"})
    listed = list(store.iter_objects())
    assert listed == [
        ObjectInfo("a-b.jpg", 1),  # '-' sorts before '/', as in a bucket
        ObjectInfo("a/sub/y.PNG", 3),
        ObjectInfo("a/x.jpg", 2),
        ObjectInfo("a/z.jpeg", 1),
        ObjectInfo("b.txt", 0),
    ]
    assert [o.key for o in listed] == sorted(o.key for o in listed)


def test_prefix_is_a_string_prefix_like_s3(store: LocalStorage) -> None:
    put(store, {"img/001.jpg": b"1", "img/002.jpg": b"1", "img/100.jpg": b"1", "img2/003.jpg": b"1"})
    assert [o.key for o in store.iter_objects("img/0")] == ["img/001.jpg", "img/002.jpg"]
    assert [o.key for o in store.iter_objects("img/")] == ["img/001.jpg", "img/002.jpg", "img/100.jpg"]
    assert [o.key for o in store.iter_objects("img")] == [
        "img/001.jpg",
        "img/002.jpg",
        "img/100.jpg",
        "img2/003.jpg",
    ]
    assert list(store.iter_objects("missing/")) == []


def test_iter_images_filters_extensions_case_insensitively(store: LocalStorage) -> None:
    names = [
        "a.JPG",
        "b.jpeg",
        "c.Png",
        "d.webp",
        "e.bmp",
        "f.GIF",
        "g.tif",
        "h.TIFF",
        "i.txt",
        "j",
        "k.json",
    ]
    put(store, {f"d/{n}": b"x" for n in names})
    assert [o.key.split("/")[1] for o in store.iter_images("d/")] == names[:8]


def test_listing_is_lazy(store: LocalStorage) -> None:
    put(store, {f"many/{i:05d}.jpg": b"x" for i in range(2000)})
    listing = store.iter_objects("many/")
    assert not isinstance(listing, list)
    assert next(listing) == ObjectInfo("many/00000.jpg", 1)
    assert sum(1 for _ in listing) == 1999


def test_missing_root_lists_nothing(tmp_path: Path, storage_settings: Settings) -> None:
    assert list(open_storage(str(tmp_path / "nope"), storage_settings).iter_objects()) == []


@pytest.mark.parametrize(
    "key",
    ["../secret.jpg", "a/../../secret.jpg", "/etc/passwd", "a/./b.jpg", "a//b.jpg", "a\\..\\b", "a\x00b", ""],
)
def test_unsafe_keys_are_refused(store: LocalStorage, key: str) -> None:
    for call in (store.read, store.exists, store.size, lambda k: store.write(k, b"x")):
        with pytest.raises(InvalidInput):
            call(key)


@pytest.mark.parametrize("prefix", ["../", "a/../../", "/etc/"])
def test_unsafe_prefixes_are_refused(store: LocalStorage, prefix: str) -> None:
    with pytest.raises(InvalidInput):
        list(store.iter_objects(prefix))


def test_symlinks_escaping_the_root_are_refused_and_not_listed(store: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"secret")
    put(store, {"ok.jpg": b"ok"})
    os.symlink(outside / "secret.jpg", store.root / "leak.jpg")
    os.symlink(outside, store.root / "leakdir")
    os.symlink(store.root / "ok.jpg", store.root / "alias.jpg")  # stays inside: allowed

    assert [o.key for o in store.iter_objects()] == ["alias.jpg", "ok.jpg"]
    for key in ("leak.jpg", "leakdir/secret.jpg"):
        with pytest.raises(InvalidInput, match="outside"):
            store.read(key)
    assert list(store.iter_objects("leakdir/")) == []
    assert store.read("alias.jpg") == b"ok"


def test_read_head_read_size_exists(store: LocalStorage) -> None:
    store.write("deep/er/file.bin", bytes(range(256)))
    assert store.read_head("deep/er/file.bin", 10) == bytes(range(10))
    assert store.read_head("deep/er/file.bin", 10_000) == bytes(range(256))
    assert store.read_head("deep/er/file.bin", 0) == b""
    assert store.read("deep/er/file.bin") == bytes(range(256))
    assert store.size("deep/er/file.bin") == 256
    assert store.exists("deep/er/file.bin")
    assert not store.exists("deep/er/other.bin")
    assert not store.exists("deep/er")  # a directory is not an object
    for call in (store.read, store.size, lambda k: store.read_head(k, 1)):
        with pytest.raises(NotFound):
            call("deep/er/other.bin")


def test_write_replaces_atomically_without_leftovers(store: LocalStorage) -> None:
    store.write("f.txt", b"one")
    store.write("f.txt", b"two")
    assert store.read("f.txt") == b"two"
    assert [o.key for o in store.iter_objects()] == ["f.txt"]


def test_write_file_copies_a_large_file_in_pieces(store: LocalStorage) -> None:
    data = bytes(range(256)) * 20_000  # 5 MB: several pieces
    source = io.BytesIO(data)
    store.write_file("up/v.mp4", source)
    assert store.read("up/v.mp4") == data and source.tell() == len(data)
    assert [o.key for o in store.iter_objects()] == ["up/v.mp4"]  # no temporary file left


def test_delete_prefix(store: LocalStorage) -> None:
    put(store, {"job/1/a.jpg": b"1", "job/1/sub/b.jpg": b"1", "job/10/c.jpg": b"1", "keep.jpg": b"1"})
    assert store.delete_prefix("job/1/") == 2
    assert [o.key for o in store.iter_objects()] == ["job/10/c.jpg", "keep.jpg"]
    assert not (store.root / "job" / "1").exists()  # emptied folders are cleaned up
    assert store.delete_prefix("job/") == 1
    assert [o.key for o in store.iter_objects()] == ["keep.jpg"]
    with pytest.raises(InvalidInput, match="empty prefix"):
        store.delete_prefix("")


def test_open_storage_locations(tmp_path: Path, storage_settings: Settings) -> None:
    folder = tmp_path / "with space"
    by_uri = open_storage(f"file://{folder.as_posix().replace(' ', '%20')}", storage_settings)
    assert isinstance(by_uri, LocalStorage) and by_uri.root == folder.resolve()
    assert isinstance(open_storage(f"file://localhost{folder}", storage_settings), LocalStorage)
    by_path = open_storage(str(folder), storage_settings)
    assert isinstance(by_path, LocalStorage) and by_path.uri == str(folder.resolve())

    s3 = open_storage("s3://my-bucket/jobs/7", storage_settings)
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix, s3.uri) == ("my-bucket", "jobs/7/", "s3://my-bucket/jobs/7/")
    assert isinstance(open_storage("s3://my-bucket", storage_settings), S3Storage)

    for bad in ("", "s3://", "s3:///prefix", "http://example.com/x", "gs://bucket/x", "file://remote/x"):
        with pytest.raises(InvalidInput):
            open_storage(bad, storage_settings)
