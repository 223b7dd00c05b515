"""COCO polygons from the real icevision sample go into a polygons job as GT and come out of its
export with masks identical under pycocotools (../shared/datasets; skipped when absent)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pycocotools.coco import COCO

from marketplace.config import Settings
from tests.assignments.conftest import activate_job_now
from tests.conftest import UserFactory, job_body
from tests.quality_db.conftest import answer_all, claim_ok, submit_ok

pytestmark = pytest.mark.shared


def _coco(data: dict[str, Any]) -> COCO:
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _masks_by_image(coco: COCO) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for img in coco.dataset["images"]:
        anns = [a for a in coco.imgToAnns[img["id"]] if not a.get("iscrowd")]
        masks = [coco.annToMask(a) for a in anns]
        out[img["file_name"]] = sorted(masks, key=lambda m: (int(m.sum()), np.flatnonzero(m)[:1].tolist()))
    return out


def test_icevision_polygons_round_trip_import_to_export_with_identical_masks(
    client: TestClient, make_user: UserFactory, settings: Settings, shared_datasets: Path
) -> None:
    root = shared_datasets / "coco_icevision_samples"
    instances = json.loads((root / "instances.json").read_text())
    images = sorted(instances["images"], key=lambda i: i["file_name"])
    data_image = next(
        i for i in images if not any(a["image_id"] == i["id"] for a in instances["annotations"])
    )
    gt_images = [i for i in images if i is not data_image]
    gt_ids = {i["id"] for i in gt_images}
    gt = {
        "images": gt_images,
        "annotations": [a for a in instances["annotations"] if a["image_id"] in gt_ids],
        "categories": instances["categories"],
    }
    assert sum(isinstance(a["segmentation"], list) for a in gt["annotations"]) >= 30
    labels = [c["name"] for c in instances["categories"]]
    requester = make_user("requester")
    body = job_body(
        str(root / "images"), gt, type="polygons", labels=labels, assignment_size=1, gt_per_assignment=1,
        bounty_amount=100_000,
    )  # fmt: skip
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    activate_job_now(settings, job_id)
    worker = make_user("worker")
    claim = claim_ok(client, worker, job_id)
    submit_ok(client, worker, claim["assignment_id"], answer_all(settings, claim))  # GT right, data empty

    files = {
        f["name"]: f["url"]
        for f in client.get(f"/api/jobs/{job_id}/results", headers=requester["headers"]).json()
    }
    exported = client.get(files["instances.json"], headers=requester["headers"]).json()
    exported_rle = client.get(files["instances_rle.json"], headers=requester["headers"]).json()
    original = _masks_by_image(_coco(gt))
    for export in (exported, exported_rle):
        export["images"] = [i for i in export["images"] if i["is_gt"]]
        got = _masks_by_image(_coco(export))
        assert set(got) == set(original)
        for name, masks in original.items():
            assert len(got[name]) == len(masks), name
            for mine, theirs in zip(got[name], masks, strict=True):
                assert np.array_equal(mine, theirs), name
    polygons = [a for a in exported["annotations"] if isinstance(a["segmentation"], list)]
    assert len(polygons) >= 30  # exported as COCO polygons, not only as masks
