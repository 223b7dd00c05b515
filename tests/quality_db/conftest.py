"""Fixtures for the quality engine on PostgreSQL: active jobs of each type, claims and submissions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import AssignmentItem, GtAnnotation
from tests.assignments.conftest import activate_job_now
from tests.conftest import UserFactory, job_body, write_image

QualityJobFactory = Callable[..., dict[str, Any]]
GT_BOX = [4.0, 4.0, 20.0, 20.0]


def _coco(
    job_type: str, gt_names: list[str], labels: list[str], gt_label: Callable[[int], str]
) -> dict[str, Any]:
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(labels)]
    if job_type == "points":
        for cat in cats:
            cat["keypoints"] = [cat["name"]]
    images = [{"id": i + 1, "file_name": n, "width": 64, "height": 48} for i, n in enumerate(gt_names)]
    anns: list[dict[str, Any]] = []
    for i, _ in enumerate(gt_names):
        ann: dict[str, Any] = {"id": i + 1, "image_id": i + 1, "category_id": labels.index(gt_label(i)) + 1}
        if job_type == "boxes":
            ann.update(bbox=GT_BOX, area=400.0, iscrowd=0)
        elif job_type == "points":
            ann.update(keypoints=[14.0, 14.0, 2])
        anns.append(ann)
    return {"images": images, "annotations": anns, "categories": cats}


@pytest.fixture
def quality_job(
    client: TestClient, make_user: UserFactory, data_root: Path, settings: Settings
) -> QualityJobFactory:
    """Create (through the API) and activate a job of any type; GT images have one object each."""
    counter = iter(range(10_000))

    def _make(
        job_type: str = "boxes",
        data: int = 4,
        gt: int = 4,
        *,
        labels: list[str] | None = None,
        gt_label: Callable[[int], str] | None = None,
        requester: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        root = data_root / f"qjob{next(counter)}"
        root.mkdir()
        names = [f"img{i:04d}.png" for i in range(data + gt)]
        for name in names:
            write_image(root / name)
        labels = labels or (["yes", "no"] if job_type == "classification" else ["cat", "dog"])
        gt_names = names[data:]
        coco = _coco(job_type, gt_names, labels, gt_label or (lambda i: labels[0]))
        requester = requester or make_user("requester")
        body = job_body(str(root), coco, type=job_type, labels=labels, bounty_amount=1_000_000, **overrides)
        r = client.post("/api/jobs", json=body, headers=requester["headers"])
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        activate_job_now(settings, job_id)
        return {"id": job_id, "requester": requester, "names": names, "gt_names": gt_names, "labels": labels}

    return _make


def item_truth(settings: Settings, tokens: list[str]) -> dict[str, tuple[bool, int, list[dict[str, Any]]]]:
    """token -> (is GT, image id, GT objects). Test-only: reads what no worker can see."""
    with session_factory(settings)() as session:
        items = list(session.scalars(select(AssignmentItem).where(AssignmentItem.token.in_(tokens))))
        out = {}
        for item in items:
            gts = session.scalars(select(GtAnnotation).where(GtAnnotation.image_id == item.image_id))
            out[item.token] = (
                item.is_gt,
                item.image_id,
                [{"label": g.label, "geometry": g.geometry} for g in gts],
            )
        return out


def answer_all(
    settings: Settings,
    claim_body: dict[str, Any],
    on_gt: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    on_data: Callable[[str], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """A submission: ``on_gt(gt objects)`` on GT items (default: the GT itself), ``on_data(token)``
    on the others (default: nothing)."""
    tokens = [i["item_id"] for i in claim_body["items"]]
    truth = item_truth(settings, tokens)
    items = []
    for token in tokens:
        is_gt, _, objects = truth[token]
        if is_gt:
            anns = on_gt(objects) if on_gt else objects
        elif on_data is not None:
            anns = on_data(token)
        else:
            anns = []
        items.append({"item_id": token, "annotations": anns})
    return {"items": items}


def claim_ok(client: TestClient, worker: dict[str, Any], job_id: int) -> dict[str, Any]:
    r = client.post(f"/api/jobs/{job_id}/assignments/claim", headers=worker["headers"])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def submit_ok(client: TestClient, worker: dict[str, Any], assignment_id: int, body: dict[str, Any]) -> None:
    r = client.post(f"/api/assignments/{assignment_id}/submit", json=body, headers=worker["headers"])
    assert r.status_code == 200, r.text


def my_status(client: TestClient, worker: dict[str, Any], assignment_id: int) -> dict[str, Any]:
    r = client.get(f"/api/assignments/{assignment_id}/quality", headers=worker["headers"])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body
