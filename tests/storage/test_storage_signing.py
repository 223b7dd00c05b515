"""Signed, opaque, expiring links for files in a local storage."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from marketplace.config import Settings
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.storage import (
    LocalStorage,
    open_storage,
    resolve_file_token,
    serve_signed_file,
    sign_file_token,
    verify_file_token,
)

SECRET = "k" * 40


def token_of(url: str, settings: Settings) -> str:
    prefix = f"{settings.public_base_url}/files/"
    assert url.startswith(prefix)
    return url[len(prefix) :]


def flip(token: str, index: int) -> str:
    swapped = "A" if token[index] != "A" else "B"
    return token[:index] + swapped + token[index + 1 :]


@pytest.fixture
def store(tmp_path: Path, storage_settings: Settings) -> LocalStorage:
    storage = open_storage(str(tmp_path / "root"), storage_settings)
    assert isinstance(storage, LocalStorage)
    storage.write("gt/gt_cat_01.jpg", b"\xff\xd8 pretend jpeg")
    return storage


def test_round_trip() -> None:
    token = sign_file_token("/data/job1", "gt/gt_cat_01.jpg", 2_000_000_000, SECRET)
    parsed = verify_file_token(token, SECRET, now=1_999_999_999)
    assert (parsed.storage_uri, parsed.key, parsed.expires_at) == (
        "/data/job1",
        "gt/gt_cat_01.jpg",
        2_000_000_000,
    )


def test_token_is_opaque_and_never_repeats() -> None:
    a = sign_file_token("/data/job1", "gt/gt_cat_01.jpg", 2_000_000_000, SECRET)
    b = sign_file_token("/data/job1", "gt/gt_cat_01.jpg", 2_000_000_000, SECRET)
    assert a != b
    raw = base64.urlsafe_b64decode(a + "=" * (-len(a) % 4))
    for clear in (b"gt_cat", b"job1", b"/data", b"2000000000"):
        assert clear not in raw
    assert "gt_cat" not in a and "/" not in a and "+" not in a and "=" not in a


def test_expired_link_is_refused() -> None:
    token = sign_file_token("/d", "a.jpg", 1_000, SECRET)
    with pytest.raises(Forbidden, match="link expired") as caught:
        verify_file_token(token, SECRET, now=1_000)
    assert caught.value.status_code == 403
    assert caught.value.to_body()["reason"] == "link_expired"


@pytest.mark.parametrize("where", [0, 5, 30, -5])
def test_tampered_token_is_refused(where: int) -> None:
    token = sign_file_token("/d", "a.jpg", 2_000_000_000, SECRET)
    with pytest.raises(Forbidden, match="bad signature"):
        verify_file_token(flip(token, where), SECRET, now=0)


@pytest.mark.parametrize("garbage", ["", "x", "not base64 at all!!", "A" * 200])
def test_garbage_token_is_refused(garbage: str) -> None:
    with pytest.raises(Forbidden, match="bad signature"):
        verify_file_token(garbage, SECRET, now=0)


def test_other_secret_is_refused() -> None:
    token = sign_file_token("/d", "a.jpg", 2_000_000_000, SECRET)
    with pytest.raises(Forbidden, match="bad signature"):
        verify_file_token(token, "another-secret" * 4, now=0)


def test_storage_url_serves_the_file(store: LocalStorage, storage_settings: Settings) -> None:
    url = store.url("gt/gt_cat_01.jpg", ttl_s=60)
    token = token_of(url, storage_settings)
    assert "gt_cat" not in url
    assert resolve_file_token(token, storage_settings) == (store.uri, "gt/gt_cat_01.jpg")
    body, content_type = serve_signed_file(token, storage_settings)
    assert isinstance(body, Path)
    assert body.read_bytes() == b"\xff\xd8 pretend jpeg"
    assert content_type == "image/jpeg"


def test_served_link_expires(store: LocalStorage, storage_settings: Settings) -> None:
    token = token_of(store.url("gt/gt_cat_01.jpg", ttl_s=60), storage_settings)
    with pytest.raises(Forbidden, match="link expired"):
        serve_signed_file(token, storage_settings, now=time.time() + 61)


def test_deleted_file_is_not_found(store: LocalStorage, storage_settings: Settings) -> None:
    token = token_of(store.url("gt/gt_cat_01.jpg", ttl_s=60), storage_settings)
    store.delete_prefix("gt/")
    with pytest.raises(NotFound):
        serve_signed_file(token, storage_settings)


def test_signed_traversal_is_still_refused(store: LocalStorage, storage_settings: Settings) -> None:
    """Even a validly signed token cannot reach outside its storage root."""
    token = sign_file_token(store.uri, "../outside.jpg", int(time.time()) + 60, storage_settings.secret_key)
    with pytest.raises(InvalidInput):
        serve_signed_file(token, storage_settings)


def test_url_for_unsafe_key_is_refused(store: LocalStorage) -> None:
    with pytest.raises(InvalidInput):
        store.url("../x.jpg", ttl_s=60)


def test_link_length_does_not_reveal_the_name_length() -> None:
    from marketplace.storage.signing import sign_file_token

    short = sign_file_token("/data/job", "a.jpg", 2_000_000_000, "k" * 40)
    long = sign_file_token("/data/job", "ground_truth_hard_case_0001.jpg", 2_000_000_000, "k" * 40)
    assert len(short) == len(long)
