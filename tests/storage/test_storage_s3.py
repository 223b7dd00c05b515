"""S3Storage against a real S3 server (SeaweedFS on 127.0.0.1, signatures checked)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from marketplace.config import Settings
from marketplace.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from marketplace.storage import (
    ObjectInfo,
    S3Storage,
    iter_probed_images,
    open_storage,
    probe_image,
)

MANY = 10_000


def key_for(i: int) -> str:
    """Every 10th object is not an image; image extensions vary in case."""
    return f"many/{i:05d}." + ("txt" if i % 10 == 0 else ("JPG" if i % 2 else "png"))


def upload(client: Any, bucket: str, items: dict[str, bytes], workers: int = 16) -> None:
    """Concurrent signed PUTs. Presigning is ~0.15 ms of CPU and an httpx PUT ~1 ms, against ~2 ms
    for a full boto3 ``put_object``; with 2 cores shared with the server that halves seeding time."""

    def presign(key: str) -> str:
        params = {"Bucket": bucket, "Key": key}
        return str(client.generate_presigned_url("put_object", Params=params, ExpiresIn=600))

    with (
        httpx.Client(limits=httpx.Limits(max_connections=workers)) as http,
        ThreadPoolExecutor(workers) as pool,
    ):
        responses = pool.map(lambda kv: http.put(presign(kv[0]), content=kv[1]), items.items())
        failed = [r for r in responses if r.status_code != 200]
    assert not failed, f"{len(failed)} uploads failed, e.g. {failed[0].status_code} {failed[0].text[:200]}"


@pytest.fixture(scope="module")
def many_objects(s3_server: Any, s3_bucket: str) -> list[str]:
    keys = [key_for(i) for i in range(MANY)]
    upload(s3_server.client(), s3_bucket, {k: b"x" * (i % 7) for i, k in enumerate(keys)})
    return keys


@pytest.fixture
def storage(s3_server: Any, s3_bucket: str, request: pytest.FixtureRequest) -> S3Storage:
    """A storage rooted at a prefix unique to the test, so tests don't see each other's objects."""
    return S3Storage(s3_bucket, f"t/{request.node.name}", client=s3_server.client())


class CallCounter:
    def __init__(self, client: Any, event: str) -> None:
        self.calls: list[dict[str, Any]] = []
        client.meta.events.register(event, self._record)

    def _record(self, params: Any = None, request: Any = None, **_: Any) -> None:
        self.calls.append({"params": params, "request": request})


def test_listing_10k_objects_page_by_page(s3_server: Any, s3_bucket: str, many_objects: list[str]) -> None:
    client = s3_server.client()
    store = S3Storage(s3_bucket, "", client=client)
    lists = CallCounter(client, "before-call.s3.ListObjectsV2")

    listing: Iterator[ObjectInfo] = store.iter_objects("many/")
    assert next(listing) == ObjectInfo("many/00000.txt", 0)
    assert len(lists.calls) == 1  # lazy: only the first page was fetched
    assert lists.calls[0]["params"]["query_string"]["max-keys"] == 1000
    rest = list(listing)
    assert len(rest) == MANY - 1
    assert [o.key for o in rest] == many_objects[1:]
    assert [o.size for o in rest[:8]] == [1, 2, 3, 4, 5, 6, 0, 1]
    assert 10 <= len(lists.calls) <= 11

    images = list(store.iter_images("many/"))
    assert len(images) == MANY - MANY // 10
    assert not any(o.key.endswith(".txt") for o in images)


def test_storage_prefix_is_stripped_from_keys(
    s3_server: Any, s3_bucket: str, many_objects: list[str]
) -> None:
    store = S3Storage(s3_bucket, "many", client=s3_server.client())
    assert store.uri == f"s3://{s3_bucket}/many/"
    expected = [key_for(i).removeprefix("many/") for i in range(9990, 10_000)]
    assert [o.key for o in store.iter_objects("0999")] == expected


def test_read_head_is_a_ranged_get(s3_server: Any, s3_bucket: str) -> None:
    client = s3_server.client()
    store = S3Storage(s3_bucket, "ranged", client=client)
    store.write("blob.bin", bytes(range(256)))
    store.write("empty.bin", b"")
    sent = CallCounter(client, "before-send.s3.GetObject")

    assert store.read_head("blob.bin", 10) == bytes(range(10))
    assert sent.calls[-1]["request"].headers["Range"] in (b"bytes=0-9", "bytes=0-9")
    assert store.read_head("blob.bin", 1000) == bytes(range(256))
    assert store.read_head("empty.bin", 10) == b""
    assert store.read("blob.bin") == bytes(range(256))
    assert store.size("blob.bin") == 256
    assert store.exists("blob.bin") and not store.exists("nope.bin")
    with pytest.raises(NotFound):
        store.read("nope.bin")
    with pytest.raises(NotFound):
        store.read_head("nope.bin", 4)
    with pytest.raises(InvalidInput):
        store.read("../escape.bin")


def test_probe_images_over_s3(storage: S3Storage, storage_settings: Settings, images: Any) -> None:
    exif_jpeg = images.jpeg_big_exif(300, 200)
    storage.write("a.jpg", exif_jpeg)
    storage.write("b.png", images.plain(123, 45, "PNG"))
    storage.write("c.webp", images.plain(7, 9, "WEBP"))
    storage.write("d.txt", b"not listed as an image")

    infos = list(iter_probed_images(storage, "", storage_settings))
    assert [(i.name, i.width, i.height, i.format) for i in infos] == [
        ("a.jpg", 300, 200, "JPEG"),
        ("b.png", 123, 45, "PNG"),
        ("c.webp", 7, 9, "WEBP"),
    ]
    assert infos[0].size_bytes == len(exif_jpeg)

    storage.write("fake.png", b"plain text " * 100)
    storage.write("bomb.png", images.png_bomb())
    with pytest.raises(InvalidInput, match="fake.png"):
        probe_image(storage, "fake.png", storage_settings)
    with pytest.raises(PayloadTooLarge, match="bomb.png"):
        probe_image(storage, "bomb.png", storage_settings)


def test_wrong_secret_is_refused(s3_server: Any, s3_bucket: str) -> None:
    bad = S3Storage(s3_bucket, "", client=s3_server.client(secret_key="not-the-secret"))
    with pytest.raises(Forbidden, match="SignatureDoesNotMatch"):
        list(bad.iter_objects("many/"))
    with pytest.raises(Forbidden):
        bad.write("intruder.txt", b"x")
    with pytest.raises(Forbidden):
        bad.read("many/00001.JPG")


def test_open_storage_uses_settings_and_aws_env(s3_settings: Settings, s3_bucket: str) -> None:
    store = open_storage(f"s3://{s3_bucket}/jobs/42", s3_settings)
    assert isinstance(store, S3Storage)
    store.write("images/a.jpg", b"a")
    store.write("images/b.jpg", b"bb")
    store.write("gt.json", b"{}")
    assert [(o.key, o.size) for o in store.iter_objects()] == [
        ("gt.json", 2),
        ("images/a.jpg", 1),
        ("images/b.jpg", 2),
    ]
    assert store.delete_prefix("images/") == 2
    assert [o.key for o in store.iter_objects()] == ["gt.json"]
    with pytest.raises(InvalidInput):
        store.delete_prefix("")


def test_delete_prefix_in_batches(s3_server: Any, s3_bucket: str) -> None:
    client = s3_server.client()
    upload(client, s3_bucket, {f"del/{i:04d}": b"" for i in range(1_205)} | {"del-keep": b""})
    store = S3Storage(s3_bucket, "", client=client)
    deletes = CallCounter(client, "before-call.s3.DeleteObjects")
    assert store.delete_prefix("del/") == 1_205
    assert len(deletes.calls) == 2
    assert [o.key for o in store.iter_objects("del")] == ["del-keep"]


@pytest.mark.shared
def test_shared_coco_samples_through_s3(
    coco_samples_dir: Path, storage: S3Storage, storage_settings: Settings
) -> None:
    expected = {
        img["file_name"]: (img["width"], img["height"])
        for img in json.loads((coco_samples_dir / "instances.json").read_text())["images"]
    }
    files = sorted((coco_samples_dir / "images").glob("*.jpg"))
    assert len(files) == 6
    for path in files:
        storage.write(f"coco/{path.name}", path.read_bytes())
    infos = list(iter_probed_images(storage, "coco/", storage_settings))
    assert {i.name.removeprefix("coco/"): (i.width, i.height) for i in infos} == expected


def test_write_file_uploads_a_large_file_in_parts(storage: S3Storage) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB: over boto3's 8 MB multipart threshold
    storage.write_file("up/v.mp4", io.BytesIO(data))
    assert storage.size("up/v.mp4") == len(data) and storage.read("up/v.mp4") == data
