"""Shared fixtures: a real PostgreSQL database built by the migrations, an app, users, images."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text
from sqlalchemy.engine import make_url

from marketplace.app import create_app
from marketplace.config import Settings
from marketplace.db import dispose_engines, get_engine
from marketplace.migrations import upgrade
from marketplace.models import Base

pytest_plugins = ["tests.s3_server", "tests.browser"]

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "TILEWORK_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def shared_datasets_dir() -> Path:
    return Path(os.environ.get("TILEWORK_SHARED", REPO.parent / "shared")) / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = shared_datasets_dir()
    if not path.is_dir():
        pytest.skip(f"needs the shared datasets at {path} (absent in a plain clone)")
    return path


def _pg_conninfo(url: str) -> str:
    u = make_url(url)
    return f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    name = f"tilework_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_conninfo(PG_ADMIN_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_pg(pg_url: str) -> str:
    upgrade(pg_url)
    return pg_url


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
def settings(migrated_pg: str, tmp_path: Path, data_root: Path) -> Iterator[Settings]:
    yield Settings(
        environment="test",
        home=tmp_path / "home",
        database_url=migrated_pg,
        public_data_roots=[data_root, shared_datasets_dir()],
        secret_key="test-secret-key-that-is-long-enough-000",
    )
    _truncate_all(migrated_pg)


def _truncate_all(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with get_engine(Settings(database_url=url)).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


UserFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_user(client: TestClient, settings: Settings) -> UserFactory:
    """Create an account of any role and return {id, email, token, headers}."""
    from marketplace.accounts import service
    from marketplace.db import session_factory, session_scope
    from marketplace.models import Role

    counter = iter(range(1, 10_000))

    def _make(role: str = "requester", email: str | None = None) -> dict[str, Any]:
        email = email or f"{role}{next(counter)}@example.org"
        with session_scope(session_factory(settings)) as session:
            user = service.register(session, email=email, password="correct horse 1", role=Role(role))
            token = service.issue_token(session, user, name="test", ttl_days=1)[0]
        return {"id": user.id, "email": email, "token": token, "headers": auth(token)}

    return _make


# -- images and ground truth -----------------------------------------------------------------------


def write_image(path: Path, size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 200)).save(path, format=fmt)
    return path


def coco_boxes(
    images: dict[str, tuple[int, int]], boxes: dict[str, list[tuple[str, list[float]]]], labels: list[str]
) -> dict[str, Any]:
    """A COCO instances file: images {name: (w, h)}, boxes {name: [(label, [x, y, w, h])]}."""
    cats = [{"id": i + 1, "name": name} for i, name in enumerate(labels)]
    cat_id = {c["name"]: c["id"] for c in cats}
    imgs = [
        {"id": i + 1, "file_name": n, "width": w, "height": h} for i, (n, (w, h)) in enumerate(images.items())
    ]
    img_id = {img["file_name"]: img["id"] for img in imgs}
    anns = []
    for name, objs in boxes.items():
        for label, bbox in objs:
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img_id[name],
                    "category_id": cat_id[label],
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    return {"images": imgs, "annotations": anns, "categories": cats}


@pytest.fixture
def box_dataset(data_root: Path) -> dict[str, Any]:
    """Six 64x48 images, two of them GT with one 'cat' box each."""
    names = [f"img{i:02d}.png" for i in range(6)]
    for name in names:
        write_image(data_root / name)
    gt = coco_boxes(
        {names[0]: (64, 48), names[1]: (64, 48)},
        {names[0]: [("cat", [4, 4, 20, 20])], names[1]: [("dog", [10, 5, 30, 30])]},
        ["cat", "dog"],
    )
    return {"root": data_root, "names": names, "gt": gt}


def job_body(data_uri: str, gt: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "boxes",
        "title": "Boxes on pets",
        "labels": ["cat", "dog"],
        "data_uri": data_uri,
        "gt": gt,
        "bounty_amount": 10_000,
        "currency": "usd",
        "rail": "card",
        "assignment_size": 2,
        "gt_per_assignment": 1,
    }
    body.update(overrides)
    return body


def prove_s3_prefix(client: TestClient, user: dict[str, Any], s3: Any, bucket: str, prefix: str) -> None:
    """Register ``s3://bucket/prefix`` for ``user`` and prove it the way a requester does: write the
    token into the proof object, then verify."""
    r = client.post("/api/data-sources", json={"uri": f"s3://{bucket}/{prefix}"}, headers=user["headers"])
    assert r.status_code == 201, r.text
    source = r.json()
    s3.put_object(Bucket=bucket, Key=f"{prefix}/tilework-owner.txt", Body=source["token"].encode())
    r = client.post(f"/api/data-sources/{source['id']}/verify", headers=user["headers"])
    assert r.status_code == 200 and r.json()["verified"], r.text


def dumps(obj: Any) -> str:
    return json.dumps(obj)
