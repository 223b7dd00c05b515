"""Expiring, opaque links to files in a local storage, served by the app at ``/files/{token}``.

A token carries ``(storage uri, key, expires_at)``. Because keys are the requester's file names
(``gt_cat_01.jpg`` …), a worker must not be able to read them from the URL — otherwise hidden
ground-truth images could be told apart from normal ones. So the payload is encrypted, not just
signed, using only the standard library:

* two sub-keys are derived from ``secret`` with HMAC-SHA256 (one to encrypt, one to authenticate);
* encryption is counter mode with HMAC-SHA256 as the pseudo-random function, under a fresh random
  16-byte nonce (every link for the same file looks different);
* the nonce and ciphertext are authenticated with HMAC-SHA256 (encrypt-then-MAC), checked with
  ``hmac.compare_digest`` before anything is decrypted.

Token = urlsafe-base64 (no padding) of ``version(1) | nonce(16) | ciphertext | tag(32)``.

The plaintext is padded with spaces to a multiple of ``PAD_BYTES``, so the link's length does not
give away the length of the file name (a GT image named ``gt_0001_hard.jpg`` would otherwise get a
longer link than ``0001.jpg``): every name shorter than the block gives links of one length.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import mimetypes
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from marketplace.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from marketplace.config import Settings

TOKEN_VERSION = 1
NONCE_BYTES = 16
TAG_BYTES = 32
PAD_BYTES = 256
_DIGEST = hashlib.sha256


@dataclass(frozen=True)
class FileToken:
    storage_uri: str
    key: str
    expires_at: int


def _subkey(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), b"tilework/files/" + purpose, _DIGEST).digest()


def _keystream_xor(key: bytes, nonce: bytes, data: bytes) -> bytes:
    block = _DIGEST().digest_size
    stream = b"".join(
        hmac.new(key, nonce + counter.to_bytes(4, "big"), _DIGEST).digest()
        for counter in range((len(data) + block - 1) // block)
    )
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


def _tag(secret: str, signed: bytes) -> bytes:
    return hmac.new(_subkey(secret, b"mac"), signed, _DIGEST).digest()


def _bad_signature(why: str) -> Forbidden:
    return Forbidden(f"bad signature: this file link is {why}", extra={"reason": "bad_signature"})


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(token: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _bad_signature("malformed") from exc


def sign_file_token(storage_uri: str, key: str, expires_at: int, secret: str) -> str:
    """An opaque token granting read access to ``key`` in ``storage_uri`` until ``expires_at``."""
    payload = json.dumps({"u": storage_uri, "k": key, "e": int(expires_at)}, separators=(",", ":")).encode()
    payload += b" " * (-len(payload) % PAD_BYTES)  # JSON ignores trailing whitespace
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = _keystream_xor(_subkey(secret, b"enc"), nonce, payload)
    signed = bytes([TOKEN_VERSION]) + nonce + ciphertext
    return _b64encode(signed + _tag(secret, signed))


def verify_file_token(token: str, secret: str, now: float | None = None) -> FileToken:
    """Check the signature, then the expiry; raise Forbidden ("bad signature" / "link expired")."""
    raw = _b64decode(token)
    if len(raw) <= 1 + NONCE_BYTES + TAG_BYTES or raw[0] != TOKEN_VERSION:
        raise _bad_signature("malformed")
    signed, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(secret, signed)):
        raise _bad_signature("invalid")
    nonce, ciphertext = signed[1 : 1 + NONCE_BYTES], signed[1 + NONCE_BYTES :]
    payload = json.loads(_keystream_xor(_subkey(secret, b"enc"), nonce, ciphertext))
    parsed = FileToken(storage_uri=payload["u"], key=payload["k"], expires_at=int(payload["e"]))
    if (time.time() if now is None else now) >= parsed.expires_at:
        raise Forbidden("link expired: ask for a fresh link", extra={"reason": "link_expired"})
    return parsed


def file_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/files/{token}"


def signed_file_url(storage_uri: str, key: str, ttl_s: int, settings: Settings) -> str:
    """``{public_base_url}/files/{token}`` valid for ``ttl_s`` seconds from now."""
    token = sign_file_token(storage_uri, key, int(time.time()) + int(ttl_s), settings.secret_key)
    return file_url(settings.public_base_url, token)


def resolve_file_token(token: str, settings: Settings, now: float | None = None) -> tuple[str, str]:
    """``(storage uri, key)`` named by a valid, unexpired token."""
    parsed = verify_file_token(token, settings.secret_key, now)
    return parsed.storage_uri, parsed.key


def content_type_for(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"


def serve_signed_file(token: str, settings: Settings, now: float | None = None) -> tuple[Path | bytes, str]:
    """What the ``/files/{token}`` route streams: a local file path (or the bytes, for a non-local
    storage) and its content type. Raises Forbidden for bad/expired tokens, NotFound when the file
    is gone, InvalidInput when the key would escape the storage root."""
    from marketplace.storage import open_storage  # the factory imports the backends, which import us
    from marketplace.storage.local import LocalStorage

    storage_uri, key = resolve_file_token(token, settings, now)
    storage = open_storage(storage_uri, settings)
    if isinstance(storage, LocalStorage):
        if str(storage.root) != storage_uri:
            # Job folders are stored as their real path: one that resolves elsewhere now was moved or
            # replaced by a link after the job was created, and is not what the requester checked in.
            raise Forbidden("this job's data folder changed after the job was created")
        path = storage.path_for(key)
        if not path.is_file():
            raise NotFound("this file no longer exists")
        return path, content_type_for(key)
    return storage.read(key), content_type_for(key)
