"""Fixtures for the assignment server: active jobs with hidden GT, and the right answers for them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.flows.funding import activate as activate_job
from marketplace.models import AssignmentItem, GtAnnotation, Job
from tests.conftest import UserFactory, coco_boxes, job_body, write_image

JobFactory = Callable[..., dict[str, Any]]
GT_BOX = [4.0, 4.0, 20.0, 20.0]


def make_box_data(root: Path, data: int, gt: int) -> dict[str, Any]:
    """``data`` + ``gt`` images of one size with names of one length; each GT image has one cat box."""
    names = [f"img{i:04d}.png" for i in range(data + gt)]
    for name in names:
        write_image(root / name)
    gt_names = names[data:]
    coco = coco_boxes(
        {n: (64, 48) for n in gt_names}, {n: [("cat", GT_BOX)] for n in gt_names}, ["cat", "dog"]
    )
    return {"names": names, "gt_names": gt_names, "gt": coco}


@pytest.fixture
def make_job(client: TestClient, make_user: UserFactory, data_root: Path, settings: Settings) -> JobFactory:
    """Create a boxes job (via the API) and activate it; returns {id, requester, ...}."""
    counter = iter(range(10_000))

    def _make(
        data: int = 6,
        gt: int = 4,
        *,
        activate: bool = True,
        requester: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        root = data_root / f"job{next(counter)}"
        root.mkdir()
        dataset = make_box_data(root, data, gt)
        requester = requester or make_user("requester")
        body = job_body(str(root), dataset["gt"], bounty_amount=1_000_000, **overrides)
        r = client.post("/api/jobs", json=body, headers=requester["headers"])
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        if activate:
            activate_job_now(settings, job_id)
        return {"id": job_id, "requester": requester, "root": root, **dataset}

    return _make


def activate_job_now(settings: Settings, job_id: int) -> None:
    with session_scope(session_factory(settings)) as session:
        job = session.get(Job, job_id)
        assert job is not None
        activate_job(session, job)


def right_answers(settings: Settings, claim: dict[str, Any], *, gt_right: bool = True) -> dict[str, Any]:
    """A submission: the GT answer on GT items (or nothing when ``gt_right`` is False), empty elsewhere.

    Test-only: it reads the hidden GT from the database, which no worker can do."""
    tokens = [item["item_id"] for item in claim["items"]]
    with session_factory(settings)() as session:
        items = {
            i.token: i
            for i in session.scalars(select(AssignmentItem).where(AssignmentItem.token.in_(tokens)))
        }
        answers = []
        for token in tokens:
            item = items[token]
            anns: list[dict[str, Any]] = []
            if item.is_gt and gt_right:
                gts = session.scalars(select(GtAnnotation).where(GtAnnotation.image_id == item.image_id))
                anns = [{"label": g.label, "geometry": g.geometry} for g in gts]
            answers.append({"item_id": token, "annotations": anns})
    return {"items": answers}


def claim(
    client: TestClient, worker: dict[str, Any], job_id: int | None = None, *, ahead: bool = False
) -> Any:
    url = f"/api/jobs/{job_id}/assignments/claim" if job_id is not None else "/api/assignments/claim"
    return client.post(url, headers=worker["headers"], params={"ahead": "true"} if ahead else None)


def submit(client: TestClient, worker: dict[str, Any], assignment_id: int, body: dict[str, Any]) -> Any:
    return client.post(f"/api/assignments/{assignment_id}/submit", json=body, headers=worker["headers"])
