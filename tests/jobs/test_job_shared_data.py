"""A job made from the real COCO sample (images + instances) in ../shared/datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import UserFactory, job_body, prove_s3_prefix

pytestmark = pytest.mark.shared


def gt_subset(instances: dict[str, Any], keep: int) -> dict[str, Any]:
    """The first ``keep`` images of the COCO file as GT, with their annotations."""
    images = sorted(instances["images"], key=lambda i: i["file_name"])[:keep]
    ids = {img["id"] for img in images}
    anns = [a for a in instances["annotations"] if a["image_id"] in ids]
    return {"images": images, "annotations": anns, "categories": instances["categories"]}


@pytest.fixture
def icevision(shared_datasets: Path) -> dict[str, Any]:
    root = shared_datasets / "coco_icevision_samples"
    instances = json.loads((root / "instances.json").read_text())
    return {
        "images": root / "images",
        "gt": gt_subset(instances, keep=2),
        "labels": [c["name"] for c in instances["categories"]],
    }


def test_job_from_coco_sample_local_folder(
    client: TestClient, make_user: UserFactory, icevision: dict[str, Any]
) -> None:
    body = job_body(
        str(icevision["images"]), icevision["gt"], labels=icevision["labels"], assignment_size=2,
        gt_per_assignment=2,
    )  # fmt: skip
    r = client.post("/api/jobs", json=body, headers=make_user()["headers"])
    assert r.status_code == 201, r.text
    job = r.json()
    assert (job["image_count"], job["gt_count"]) == (6, 2)
    assert len(job["labels"]) == 80


def test_job_from_coco_sample_on_s3(
    client: TestClient,
    make_user: UserFactory,
    icevision: dict[str, Any],
    s3_env: Any,
    s3_bucket: str,
    settings: Any,
) -> None:
    s3 = s3_env.client()
    for path in sorted(icevision["images"].iterdir()):
        s3.put_object(Bucket=s3_bucket, Key=f"icevision/{path.name}", Body=path.read_bytes())
    client.app.state.settings = settings.model_copy(update={"s3_endpoint_url": s3_env.endpoint_url})  # type: ignore[attr-defined]
    requester = make_user()
    prove_s3_prefix(client, requester, s3, s3_bucket, "icevision")
    body = job_body(
        f"s3://{s3_bucket}/icevision", icevision["gt"], labels=icevision["labels"], assignment_size=2,
        gt_per_assignment=2,
    )  # fmt: skip
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    assert r.status_code == 201, r.text
    assert (r.json()["image_count"], r.json()["gt_count"]) == (6, 2)

    prove_s3_prefix(client, requester, s3, s3_bucket, "nothing-here")
    missing = job_body(f"s3://{s3_bucket}/nothing-here", icevision["gt"], labels=icevision["labels"])
    r = client.post("/api/jobs", json=missing, headers=requester["headers"])
    assert r.status_code == 422 and "at least 2" in r.json()["detail"]
