"""When the dataset is done: merge (overlap 1 and 2), export COCO / CSV; the requester downloads."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import Dispute, Job
from marketplace.payouts import service as payouts
from tests.conftest import UserFactory
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, submit_ok


def _coco(raw: bytes) -> COCO:
    coco = COCO()
    coco.dataset = json.loads(raw)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _results(client: TestClient, job: dict[str, Any]) -> dict[str, bytes]:
    headers = job["requester"]["headers"]
    listing = client.get(f"/api/jobs/{job['id']}/results", headers=headers)
    assert listing.status_code == 200, listing.text
    out = {}
    for f in listing.json():
        r = client.get(f["url"], headers=headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith(f["content_type"])
        out[f["name"]] = r.content
    return out


def test_overlap_two_boxes_are_merged_exported_and_load_in_pycocotools(
    client: TestClient,
    quality_job: QualityJobFactory,
    make_user: UserFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    completed: list[int] = []
    real_complete = payouts.settle_completed
    monkeypatch.setattr(
        payouts, "settle_completed", lambda s, j: (completed.append(j.id), real_complete(s, j))
    )
    job = quality_job("boxes", data=4, gt=4, assignment_size=2, gt_per_assignment=1, overlap=2)
    workers = [make_user("worker"), make_user("worker")]
    lone_box_token: set[str] = set()

    def boxes(shift: float, lone: bool) -> Any:
        def on_data(token: str) -> list[dict[str, Any]]:
            anns = [{"label": "cat", "geometry": [10 + shift, 10, 20, 16]}]
            if lone:
                anns.append({"label": "dog", "geometry": [40, 20, 10, 10]})
            return anns

        return on_data

    for n, worker in enumerate(workers):
        for _ in range(2):
            body = claim_ok(client, worker, job["id"])
            body_answers = answer_all(settings, body, on_data=boxes(2.0 * n, lone=n == 1))
            interactions = {"time_on_item_ms": 900 + n, "clicks_ms": [10.0, 20.0]}
            body_answers["items"][0]["interactions"] = interactions
            submit_ok(client, worker, body["assignment_id"], body_answers)
            lone_box_token.add(body["assignment_id"])
    assert completed == [job["id"]]
    with session_factory(settings)() as s:
        job_row = s.get(Job, job["id"])
        assert job_row is not None and job_row.status == "completed"

    files = _results(client, job)
    assert set(files) == {"instances.json", "interactions.json", "summary.json"}
    coco = _coco(files["instances.json"])
    assert len(coco.getImgIds()) == 8 and [c["name"] for c in coco.loadCats(coco.getCatIds())] == [
        "cat",
        "dog",
    ]
    data_imgs = [i for i in coco.dataset["images"] if not i["is_gt"]]
    gt_imgs = [i for i in coco.dataset["images"] if i["is_gt"]]
    for img in data_imgs:
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
        cats = [a for a in anns if a["category_id"] == 1]
        assert len(cats) == 1 and cats[0]["bbox"] == pytest.approx([11.0, 10, 20, 16])  # mean of the two
        assert cats[0]["score"] > 0.8 and img["workers"] == 2
        dogs = [a for a in anns if a["category_id"] == 2]
        assert len(dogs) == 1 and dogs[0]["score"] <= 0.5 + 1e-9  # only one of two workers drew it
    for img in gt_imgs:  # GT images carry the requester's GT
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
        assert [a["bbox"] for a in anns] == [[4.0, 4.0, 20.0, 20.0]]
    # the export also works as a detection result set against itself
    dets = coco.loadRes([{**a, "score": a["score"]} for a in coco.dataset["annotations"]])
    ev = COCOeval(coco, dets, "bbox")
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
    interactions = json.loads(files["interactions.json"])
    assert any(
        r["interactions"] and r["interactions"]["clicks_ms"] == [10.0, 20.0] for r in interactions["records"]
    )
    summary = json.loads(files["summary.json"])
    assert len(summary["low_agreement"]) == 4
    with session_factory(settings)() as s:
        low = list(s.scalars(select(Dispute).where(Dispute.kind == "low_agreement")))
        assert len(low) == 4 and all(d.subject_key.startswith("image:") for d in low)

    # requester only
    other = make_user("requester")
    assert client.get(f"/api/jobs/{job['id']}/results", headers=other["headers"]).status_code == 404
    for role in ("worker", "reviewer"):
        r = client.get(f"/api/jobs/{job['id']}/results/instances.json", headers=make_user(role)["headers"])
        assert r.status_code == 403
    assert (
        client.get(
            f"/api/jobs/{job['id']}/results/nope.json", headers=job["requester"]["headers"]
        ).status_code
        == 404
    )


def test_points_overlap_one_export_keypoints(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("points", data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    body = claim_ok(client, worker, job["id"])
    submit_ok(
        client,
        worker,
        body["assignment_id"],
        answer_all(settings, body, on_data=lambda t: [{"label": "dog", "geometry": [30.0, 20.0]}]),
    )
    coco = _coco(_results(client, job)["keypoints.json"])
    assert coco.loadCats([1])[0]["keypoints"] == ["cat"]
    kps = sorted(tuple(a["keypoints"]) for a in coco.dataset["annotations"])
    assert (30.0, 20.0, 2) in kps and (14.0, 14.0, 2) in kps


def test_classification_overlap_three_by_dawid_skene_to_json_and_csv(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("classification", data=2, gt=3, assignment_size=2, gt_per_assignment=1, overlap=3)
    votes = ["yes", "yes", "no"]
    for vote in votes:
        worker = make_user("worker")
        body = claim_ok(client, worker, job["id"])
        submit_ok(
            client,
            worker,
            body["assignment_id"],
            answer_all(settings, body, on_data=lambda t, v=vote: [{"label": v}]),
        )
    files = _results(client, job)
    rows = list(csv.DictReader(io.StringIO(files["classification.csv"].decode())))
    assert len(rows) == 5 and set(rows[0]) == {"image", "label", "confidence"}
    data_rows = [r for r in rows if r["image"] in job["names"][:2]]
    assert all(r["label"] == "yes" and float(r["confidence"]) > 0.5 for r in data_rows)
    items = json.loads(files["classification.json"])["items"]
    assert sum(i["is_gt"] for i in items) == 3 and all(i["label"] == "yes" for i in items if i["is_gt"])
    # which aggregator the job's GT chose, and why, for the dashboard
    aggregation = json.loads(files["summary.json"])["aggregation"]
    assert aggregation["method"] in aggregation["gt_accuracy"] and aggregation["reason"]
    # exposure parity: with every work image shown three times, GT images are shown again too
    assert 2 <= aggregation["gt_items"] <= 3 and aggregation["gt_accuracy"]["majority_vote"] is not None
    quality = client.get(f"/api/jobs/{job['id']}/quality", headers=job["requester"]["headers"]).json()
    notes = [n["message"] for n in quality["notices"] if n["kind"] == "aggregation"]
    assert len(notes) == 1 and aggregation["method"] in notes[0]


def test_classification_overlap_one_keeps_the_accepted_workers_answer(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    """With one worker per image, aggregation must not overrule the accepted answer."""
    job = quality_job("classification", data=4, gt=2, assignment_size=4, gt_per_assignment=2, overlap=1)
    worker = make_user("worker")
    body = claim_ok(client, worker, job["id"])
    labels = iter(["no", "yes", "no", "no"])
    submit_ok(
        client, worker, body["assignment_id"],
        answer_all(settings, body, on_data=lambda t: [{"label": next(labels)}]),
    )  # fmt: skip
    items = json.loads(_results(client, job)["classification.json"])["items"]
    data = sorted((i for i in items if not i["is_gt"]), key=lambda i: i["image"])
    submitted = {i["image"]: i["label"] for i in data}
    assert sorted(submitted.values()) == ["no", "no", "no", "yes"]
    assert all(0.0 <= i["confidence"] <= 1.0 for i in data)


def test_overlap_two_boxes_are_corrected_by_what_the_workers_did_on_gt(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    """Both workers draw every box 2 px too large on each side; the GT shows it and the export undoes it."""
    job = quality_job("boxes", data=2, gt=12, assignment_size=2, gt_per_assignment=12, overlap=2)

    def loose(x: float, y: float, w: float, h: float) -> list[float]:
        return [x - 2, y - 2, w + 4, h + 4]

    def on_gt(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"label": o["label"], "geometry": loose(*o["geometry"])} for o in objects]

    for _ in range(2):
        worker = make_user("worker")
        body = claim_ok(client, worker, job["id"])
        answers = answer_all(
            settings,
            body,
            on_gt=on_gt,
            on_data=lambda t: [{"label": "cat", "geometry": loose(20, 10, 16, 24)}],
        )
        submit_ok(client, worker, body["assignment_id"], answers)
    coco = _coco(_results(client, job)["instances.json"])
    data_imgs = [i["id"] for i in coco.dataset["images"] if not i["is_gt"]]
    assert len(data_imgs) == 2
    for image_id in data_imgs:
        (ann,) = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert ann["bbox"] == pytest.approx([20, 10, 16, 24], abs=1.5)  # not [18, 8, 20, 28]
        assert ann["support"] == 2 and 0 <= ann["uncertainty"] < 0.1
