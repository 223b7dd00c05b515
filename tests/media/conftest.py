"""Jobs whose GT set was made separately from the rest of the data, the way requesters make them."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageCms
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import AssignmentItem, Job
from tests.conftest import UserFactory, coco_boxes, job_body
from tests.payments.paytools import chain, dev_chain, rails, task_env  # noqa: F401  (fixtures)

SIZE = (96, 64)
GT_BOX = [4.0, 4.0, 20.0, 20.0]


def scene(seed: int) -> Image.Image:
    """A small picture that differs from image to image (a gradient and a block)."""
    image = Image.linear_gradient("L").resize(SIZE).convert("RGB")
    image.paste((seed * 37 % 256, seed * 91 % 256, 120), (10 + seed % 40, 8, 40 + seed % 40, 40))
    return image


def write_normal(path: Path, seed: int) -> None:
    """The data: PNG files, as exported by one tool."""
    scene(seed).save(path, format="PNG")


def write_gt(path: Path, seed: int) -> None:
    """The GT set, made separately: another camera's JPEGs (EXIF, ICC, comment, progressive, 4:4:4)."""
    exif = Image.Exif()
    exif[0x010F] = "GT-Camera Inc."  # Make
    exif[0x0132] = "2021:03:04 05:06:07"  # DateTime
    exif[0x0112] = 1  # Orientation: as stored
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    scene(seed).save(
        path, format="JPEG", quality=97, subsampling="4:4:4", progressive=True, exif=exif.tobytes(),
        icc_profile=srgb if seed % 2 else None, comment=b"gold standard v2",
    )  # fmt: skip


def make_mixed_data(root: Path, data: int, gt: int) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    names = [f"frame{i:04d}.png" for i in range(data)]
    for i, name in enumerate(names):
        write_normal(root / name, i)
    gt_names = [f"gold{i:04d}.jpg" for i in range(gt)]
    for i, name in enumerate(gt_names):
        write_gt(root / name, 100 + i)
    coco = coco_boxes({n: SIZE for n in gt_names}, {n: [("cat", GT_BOX)] for n in gt_names}, ["cat", "dog"])
    return {"root": root, "names": names, "gt_names": gt_names, "gt": coco}


MixedJob = Callable[..., dict[str, Any]]


@pytest.fixture
def mixed_job(client: TestClient, make_user: UserFactory, data_root: Path) -> MixedJob:
    """Create (not activate) a boxes job over normal PNGs and separately made GT JPEGs."""
    counter = iter(range(1000))

    def _make(data: int = 8, gt: int = 4, **overrides: Any) -> dict[str, Any]:
        dataset = make_mixed_data(data_root / f"mixed{next(counter)}", data, gt)
        requester = make_user("requester")
        fields = {"bounty_amount": 1_000_000, "assignment_size": 2, "gt_per_assignment": 1, **overrides}
        r = client.post("/api/jobs", json=job_body(str(dataset["root"]), dataset["gt"], **fields),
                        headers=requester["headers"])  # fmt: skip
        assert r.status_code == 201, r.text
        return {"id": r.json()["id"], "requester": requester, **dataset}

    return _make


def fetch_all(client: TestClient, make_user: UserFactory, job_id: int, workers: int) -> list[dict[str, Any]]:
    """Claim with ``workers`` fresh accounts and fetch every item: [{item, response}]."""
    seen: list[dict[str, Any]] = []
    for _ in range(workers):
        worker = make_user("worker")
        r = client.post(f"/api/jobs/{job_id}/assignments/claim", headers=worker["headers"])
        if r.status_code != 200:
            break
        for item in r.json()["items"]:
            path = item["image_url"].split("://", 1)[-1].partition("/")[2]
            seen.append({"item": item, "response": client.get("/" + path)})
    return seen


def gt_tokens(settings: Settings, tokens: list[str]) -> set[str]:
    """Test-only: which items are hidden GT (read from the database, which no worker can do)."""
    with session_factory(settings)() as s:
        stmt = select(AssignmentItem.token).where(
            AssignmentItem.token.in_(tokens), AssignmentItem.is_gt.is_(True)
        )
        return set(s.scalars(stmt))


def job_row(settings: Settings, job_id: int) -> Job:
    with session_factory(settings)() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def decode(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image
