"""Polygon jobs end to end on PostgreSQL: COCO GT (polygons and RLE) in, checked submissions, scoring on
hidden GT by mask IoU, merging two workers, COCO segmentation out; hostile polygons get a clear 422."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from fastapi.testclient import TestClient
from pycocotools.coco import COCO
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.geometry import polygons as geo
from marketplace.models import Assignment, AssignmentItem, Job
from tests.assignments.conftest import activate_job_now
from tests.conftest import UserFactory, job_body, write_image
from tests.quality_db.conftest import answer_all, claim_ok, item_truth, submit_ok

W, H = 64, 48
OUTER = [8.0, 6.0, 40.0, 6.0, 40.0, 36.0, 8.0, 36.0]
HOLE = [18.0, 14.0, 28.0, 14.0, 28.0, 26.0, 18.0, 26.0]
TRIANGLE = [44.0, 10.0, 60.0, 10.0, 52.0, 40.0]


def _rle_of(rings: list[list[float]]) -> dict[str, Any]:
    return geo.as_json_rle(geo.to_rle(rings, H, W))


def _gt_coco(gt_names: list[str]) -> dict[str, Any]:
    """GT image 0 is an RLE (a square with a hole), the others polygons; every GT image has a cat."""
    images = [{"id": i + 1, "file_name": n, "width": W, "height": H} for i, n in enumerate(gt_names)]
    anns = []
    for i in range(len(gt_names)):
        segmentation: Any = _rle_of([OUTER, HOLE]) if i == 0 else [OUTER, TRIANGLE]
        anns.append(
            {"id": i + 1, "image_id": i + 1, "category_id": 1, "segmentation": segmentation, "iscrowd": 0}
        )
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    return {"images": images, "annotations": anns, "categories": cats}


def _make_job(
    client: TestClient, make_user: UserFactory, data_root: Path, **overrides: Any
) -> dict[str, Any]:
    names = [f"img{i:04d}.png" for i in range(8)]
    for name in names:
        write_image(data_root / name, (W, H))
    requester = make_user("requester")
    gt = overrides.pop("gt", None) or _gt_coco(names[4:])
    body = job_body(str(data_root), gt, type="polygons", bounty_amount=1_000_000, **overrides)
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    return {"response": r, "requester": requester, "names": names}


def _as_drawn(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a worker who gets the GT right sends: rings (an RLE GT traced into rings)."""
    out = []
    for o in objects:
        g = o["geometry"]
        out.append({"label": o["label"], "geometry": geo.rle_to_rings(g) if isinstance(g, dict) else g})
    return out


def _coco(raw: bytes) -> COCO:
    coco = COCO()
    coco.dataset = json.loads(raw)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def test_polygon_job_is_scored_on_mask_iou_merged_and_exported_as_coco_segmentation(
    client: TestClient, make_user: UserFactory, data_root: Path, settings: Settings
) -> None:
    made = _make_job(client, make_user, data_root, overlap=2, assignment_size=2, gt_per_assignment=1)
    assert made["response"].status_code == 201, made["response"].text
    job_id = made["response"].json()["id"]
    activate_job_now(settings, job_id)
    workers = [make_user("worker"), make_user("worker")]
    drawn = {0: [OUTER, HOLE], 1: [[v + (1.0 if k % 2 == 0 else 0.0) for k, v in enumerate(OUTER)], HOLE]}
    for n, worker in enumerate(workers):
        for _ in range(2):
            claim = claim_ok(client, worker, job_id)
            assert claim["job_type"] == "polygons"

            def on_data(token: str, n: int = n) -> list[dict[str, Any]]:
                anns = [{"label": "cat", "geometry": drawn[n]}]
                if n == 1:
                    anns.append({"label": "dog", "geometry": [TRIANGLE]})  # only one of two drew it
                return anns

            submit_ok(client, worker, claim["assignment_id"], answer_all(settings, claim, _as_drawn, on_data))
    with session_factory(settings)() as s:
        assert s.get(Job, job_id).status == "completed"  # type: ignore[union-attr]
        scored = list(s.scalars(select(Assignment).where(Assignment.job_id == job_id)))
        assert len(scored) == 4 and all(a.status == "accepted" for a in scored)
        for a in scored:
            (item,) = a.score_details["items"].values()
            assert item["accuracy"] == 1.0 and 0.9 <= item["boundary_iou"] <= 1.0

    headers = made["requester"]["headers"]
    listing = client.get(f"/api/jobs/{job_id}/results", headers=headers)
    assert listing.status_code == 200, listing.text
    files = {f["name"]: client.get(f["url"], headers=headers).content for f in listing.json()}
    assert {"instances.json", "instances_rle.json", "summary.json"} <= set(files)
    coco, coco_rle = _coco(files["instances.json"]), _coco(files["instances_rle.json"])
    gt_ids = {i["id"] for i in coco.dataset["images"] if i["is_gt"]}
    assert len(gt_ids) == 4
    vote = geo.decode(geo.to_rle(drawn[0], H, W)) | geo.decode(geo.to_rle(drawn[1], H, W))  # 2 workers, a tie
    for ann in coco.dataset["annotations"]:
        mask = coco.annToMask(ann)
        assert np.array_equal(mask, coco_rle.annToMask(coco_rle.anns[ann["id"]]))
        assert ann["area"] == pytest.approx(float(mask.sum()))
        rows, cols = np.nonzero(mask)
        assert ann["bbox"] == pytest.approx([cols.min(), rows.min(), np.ptp(cols) + 1, np.ptp(rows) + 1])
        if ann["image_id"] in gt_ids:
            continue
        if ann["category_id"] == 2:  # one worker of two: kept (quorum 0.5) with half the confidence
            assert ann["support"] == 1 and ann["score"] <= 0.5 + 1e-9
            assert np.array_equal(mask, geo.decode(geo.to_rle([TRIANGLE], H, W)))
            assert isinstance(ann["segmentation"], list)  # no hole: exported as polygons
            continue
        assert isinstance(ann["segmentation"], dict)  # a hole: exported as an RLE
        assert np.array_equal(mask, vote) and ann["support"] == 2 and ann["score"] > 0.9
    gt_segmentations = [a["segmentation"] for a in coco.dataset["annotations"] if a["image_id"] in gt_ids]
    assert sum(isinstance(s, dict) for s in gt_segmentations) == 1  # the RLE GT stays an RLE
    assert [OUTER, TRIANGLE] in gt_segmentations  # polygon GT: the very rings the requester gave


BOW_TIE = [10.0, 10.0, 30.0, 30.0, 30.0, 10.0, 10.0, 30.0]


@pytest.mark.parametrize(
    ("geometry", "says"),
    [
        ([[1.0, 1.0, 5.0, 5.0, 1.0, 1.0]], "at least 3 distinct vertices"),
        ([[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]], "encloses no area"),
        ([[1.0, 1.0, 500.0, 1.0, 5.0, 9.0]], "outside the 64x48 image"),
        ([[1.0, 1.0, 5.0, 1.0, 5.0, 9.0, 3.0]], "even length"),
        ([OUTER, OUTER], "cancel each other out"),
        (OUTER, "a polygon is a list of rings"),
        ([[float(v % 40) for v in range(2 * geo.MAX_VERTICES + 2)]], "at most"),
        ([[[1.0, 2.0]]], "geometry"),
        ([[1.0, "x", 5.0, 1.0, 5.0, 9.0]], "geometry"),
        ([[1.0, 1.0, 5.0, 1.0, 5.0, 9.0]] * (geo.MAX_RINGS + 1), "geometry"),
    ],
)
def test_hostile_polygons_get_a_422_naming_the_problem_and_nothing_is_stored(
    client: TestClient,
    make_user: UserFactory,
    data_root: Path,
    settings: Settings,
    geometry: Any,
    says: str,
) -> None:
    made = _make_job(client, make_user, data_root)
    job_id = made["response"].json()["id"]
    activate_job_now(settings, job_id)
    worker = make_user("worker")
    claim = claim_ok(client, worker, job_id)
    body = answer_all(settings, claim, _as_drawn, lambda token: [{"label": "cat", "geometry": [TRIANGLE]}])
    body["items"][-1]["annotations"].append({"label": "cat", "geometry": geometry})
    r = client.post(f"/api/assignments/{claim['assignment_id']}/submit", json=body, headers=worker["headers"])
    assert r.status_code == 422, r.text
    assert says in r.text
    with session_factory(settings)() as s:
        assignment = s.get(Assignment, claim["assignment_id"])
        assert assignment is not None and assignment.status == "assigned"
        items = s.scalars(select(AssignmentItem).where(AssignmentItem.assignment_id == assignment.id))
        assert all(i.answer is None for i in items)


def test_a_self_crossing_polygon_is_stored_repaired(
    client: TestClient, make_user: UserFactory, data_root: Path, settings: Settings
) -> None:
    made = _make_job(client, make_user, data_root)
    job_id = made["response"].json()["id"]
    activate_job_now(settings, job_id)
    worker = make_user("worker")
    claim = claim_ok(client, worker, job_id)
    truth = item_truth(settings, [i["item_id"] for i in claim["items"]])
    data_token = next(t for t, (is_gt, _, _) in truth.items() if not is_gt)
    body = answer_all(settings, claim, _as_drawn, lambda token: [{"label": "cat", "geometry": [BOW_TIE]}])
    submit_ok(client, worker, claim["assignment_id"], body)
    with session_factory(settings)() as s:
        item = s.scalar(select(AssignmentItem).where(AssignmentItem.token == data_token))
        assert item is not None
        (stored,) = item.answer
        assert len(stored["geometry"]) == 2  # the bow tie's two triangles
        masks = mask_utils.frPyObjects(stored["geometry"], H, W)
        assert sum(int(m.sum()) for m in (mask_utils.decode(x) for x in masks)) == pytest.approx(200, abs=12)


@pytest.mark.parametrize(
    ("segmentation", "says"),
    [
        ([[1.0, 1.0, 90.0, 1.0, 5.0, 9.0]], "outside"),
        ([[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]], "encloses no area"),
        ({"size": [H + 1, W], "counts": [10, 5, (H + 1) * W - 15]}, "but the image is"),
        ({"size": [H, W], "counts": [10, 5]}, "cover exactly"),
        ({"size": [H, W], "counts": "~~~"}, "alphabet"),
        ("not a segmentation", "non-empty list of rings"),
    ],
)
def test_bad_gt_segmentations_are_refused_and_no_job_is_created(
    client: TestClient,
    make_user: UserFactory,
    data_root: Path,
    settings: Settings,
    segmentation: Any,
    says: str,
) -> None:
    names = [f"img{i:04d}.png" for i in range(8)]
    gt = _gt_coco(names[4:])
    gt["annotations"][1]["segmentation"] = segmentation
    made = _make_job(client, make_user, data_root, gt=gt)
    r = made["response"]
    assert r.status_code == 422 and says in r.text and "GT annotation 2" in r.text, r.text
    with session_factory(settings)() as s:
        assert s.scalar(select(Job.id)) is None


def test_reviewers_see_rle_gt_as_rings_and_fix_polygon_gt_with_checked_rings() -> None:
    from marketplace.errors import InvalidInput
    from marketplace.models import JobType
    from marketplace.quality.polygon_export import display_rings
    from marketplace.reviews.service import checked_gt_object

    rle = _rle_of([OUTER, HOLE])
    rings = display_rings(rle)
    assert len(rings) == 2 and np.array_equal(
        geo.decode(geo.to_rle(rings, H, W)), geo.decode(geo.to_rle(rle, H, W))
    )
    assert display_rings([OUTER]) == [OUTER]
    job = Job(type=JobType.polygons, labels=["cat", "dog"])
    assert checked_gt_object(job, "cat", [OUTER, HOLE]) == {"label": "cat", "geometry": [OUTER, HOLE]}
    assert len(checked_gt_object(job, "dog", [BOW_TIE])["geometry"]) == 2
    with pytest.raises(InvalidInput, match="at least 3 distinct vertices"):
        checked_gt_object(job, "cat", [[1.0, 1.0, 2.0, 2.0, 1.0, 1.0]])
    with pytest.raises(InvalidInput, match="not one of the job's labels"):
        checked_gt_object(job, "bird", [OUTER])
    boxes = Job(type=JobType.boxes, labels=["cat"])
    with pytest.raises(InvalidInput, match="needs 4 coordinates"):
        checked_gt_object(boxes, "cat", [OUTER])


def test_box_to_polygon_assist_outlines_the_object_for_the_assignments_worker_only(
    client: TestClient, make_user: UserFactory, data_root: Path, settings: Settings
) -> None:
    from PIL import Image, ImageDraw

    made = _make_job(client, make_user, data_root)
    disc = (30.0, 22.0, 12.0)
    for name in made["names"]:  # a red disc on a noisy blue background
        rng = np.random.default_rng(len(name))
        pixels = np.clip(np.array([60, 90, 190]) + rng.integers(-25, 25, (H, W, 3)), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels)
        x, y, r = disc
        ImageDraw.Draw(image).ellipse([x - r, y - r, x + r, y + r], fill=(220, 50, 40))
        image.save(data_root / name, format="PNG")
    job_id = made["response"].json()["id"]
    activate_job_now(settings, job_id)
    worker, other = make_user("worker"), make_user("worker")
    claim = claim_ok(client, worker, job_id)
    item_id = claim["items"][0]["item_id"]
    url = f"/api/assignments/{claim['assignment_id']}/assist/box-to-polygon"
    x, y, r = disc
    box = [x - r - 4, y - r - 4, 2 * r + 8, 2 * r + 8]

    r_ok = client.post(url, json={"item_id": item_id, "box": box}, headers=worker["headers"])
    assert r_ok.status_code == 200, r_ok.text
    rings = r_ok.json()["rings"]
    truth = np.zeros((H, W), np.uint8)
    yy, xx = np.mgrid[:H, :W]
    truth[(xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= r * r] = 1
    got = geo.decode(geo.to_rle(geo.check_rings(rings, W, H), H, W))
    assert np.logical_and(got, truth).sum() / np.logical_or(got, truth).sum() > 0.85

    assert (
        client.post(url, json={"item_id": item_id, "box": box}, headers=other["headers"]).status_code == 404
    )
    for bad, says in (([1.0, 1.0, 1.0, 1.0], "too small"), ([50.0, 40.0, 30.0, 30.0], "outside")):
        r_bad = client.post(url, json={"item_id": item_id, "box": bad}, headers=worker["headers"])
        assert r_bad.status_code == 422 and says in r_bad.text, r_bad.text
    r_item = client.post(url, json={"item_id": "not-mine", "box": box}, headers=worker["headers"])
    assert r_item.status_code == 422 and "not part of assignment" in r_item.text
    submit_ok(client, worker, claim["assignment_id"], answer_all(settings, claim, _as_drawn))
    assert (
        client.post(url, json={"item_id": item_id, "box": box}, headers=worker["headers"]).status_code == 404
    )


def test_the_assist_is_for_polygon_jobs_only(
    client: TestClient, make_user: UserFactory, data_root: Path, settings: Settings
) -> None:
    names = [f"b{i}.png" for i in range(4)]
    for name in names:
        write_image(data_root / name, (W, H))
    gt = {
        "images": [{"id": 1, "file_name": names[0], "width": W, "height": H}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 10, 10], "iscrowd": 0}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    requester = make_user("requester")
    r = client.post(
        "/api/jobs", json=job_body(str(data_root), gt, bounty_amount=100_000), headers=requester["headers"]
    )
    assert r.status_code == 201, r.text
    activate_job_now(settings, r.json()["id"])
    worker = make_user("worker")
    claim = claim_ok(client, worker, r.json()["id"])
    r_assist = client.post(
        f"/api/assignments/{claim['assignment_id']}/assist/box-to-polygon",
        json={"item_id": claim["items"][0]["item_id"], "box": [4, 4, 20, 20]},
        headers=worker["headers"],
    )
    assert r_assist.status_code == 409 and r_assist.json()["reason"] == "wrong_job_type"
