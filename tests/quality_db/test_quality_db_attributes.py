"""Per-object attributes end to end: defined on the job, shown with the assignment, checked on submit,
voted when merged, carried to the COCO export."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.conftest import UserFactory, job_body
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, submit_ok
from tests.quality_db.test_quality_db_export import _results

ATTRIBUTES = [
    {"name": "occluded", "kind": "checkbox"},
    {"name": "colour", "kind": "select", "values": ["red", "green"]},
    {"name": "note", "kind": "text"},
]


def _box(attributes: dict[str, Any] | None) -> list[dict[str, Any]]:
    box: dict[str, Any] = {"label": "cat", "geometry": [10.0, 10.0, 20.0, 16.0]}
    return [box | {"attributes": attributes}] if attributes is not None else [box]


def test_three_workers_attributes_are_voted_into_the_coco_export(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job(
        "boxes", data=2, gt=3, assignment_size=2, gt_per_assignment=1, overlap=3, attributes=ATTRIBUTES
    )
    said = [
        {"occluded": True, "colour": "green", "note": "behind a chair"},
        {"occluded": True},
        {"occluded": False, "colour": "green", "note": "behind a chair"},
    ]
    for attributes in said:
        worker = make_user("worker")
        body = claim_ok(client, worker, job["id"])
        assert body["attributes"] == [
            {"name": "occluded", "kind": "checkbox", "values": []},
            {"name": "colour", "kind": "select", "values": ["red", "green"]},
            {"name": "note", "kind": "text", "values": []},
        ]
        submit_ok(
            client,
            worker,
            body["assignment_id"],
            answer_all(settings, body, on_data=lambda t, a=attributes: _box(a)),
        )
    coco = json.loads(_results(client, job)["instances.json"])
    data_images = {i["id"] for i in coco["images"] if not i["is_gt"]}
    merged = [a for a in coco["annotations"] if a["image_id"] in data_images]
    assert len(merged) == 2 and all(a["support"] == 3 for a in merged)
    # occluded: two of three; colour: two said green, one left it (default red); note: two of three
    assert all(
        a["attributes"] == {"occluded": True, "colour": "green", "note": "behind a chair"} for a in merged
    )
    gt_annotations = [a for a in coco["annotations"] if a["image_id"] not in data_images]
    assert gt_annotations and all(
        "attributes" not in a for a in gt_annotations
    )  # the requester's GT has none


def test_a_wrong_attribute_is_a_422_naming_the_item_and_nothing_is_stored(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("boxes", data=2, gt=2, assignment_size=2, gt_per_assignment=1, attributes=ATTRIBUTES)
    worker = make_user("worker")
    body = claim_ok(client, worker, job["id"])
    for attributes, message in [
        ({"colour": "blue"}, "attribute 'colour' is one of ['red', 'green'], not 'blue'"),
        ({"truncated": True}, "unknown attribute(s) 'truncated'"),
        ({"occluded": "yes"}, "attribute 'occluded' is a checkbox"),
    ]:
        answers = answer_all(settings, body, on_data=lambda t, a=attributes: _box(a))
        r = client.post(
            f"/api/assignments/{body['assignment_id']}/submit", json=answers, headers=worker["headers"]
        )
        assert r.status_code == 422, r.text
        assert message in r.json()["detail"] and "annotation 0" in r.json()["detail"], r.text
    r = client.get(f"/api/assignments/{body['assignment_id']}", headers=worker["headers"])
    assert r.status_code == 200 and r.json()["status"] == "assigned"  # nothing half-written
    submit_ok(client, worker, body["assignment_id"], answer_all(settings, body, on_data=lambda t: _box({})))


def test_attributes_are_refused_where_they_do_not_belong(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    plain = quality_job("boxes", data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    body = claim_ok(client, worker, plain["id"])
    answers = answer_all(settings, body, on_data=lambda t: _box({"occluded": True}))
    r = client.post(
        f"/api/assignments/{body['assignment_id']}/submit", json=answers, headers=worker["headers"]
    )
    assert r.status_code == 422 and "defines no attributes" in r.json()["detail"], r.text
    submit_ok(client, worker, body["assignment_id"], answer_all(settings, body, on_data=lambda t: _box(None)))
    coco = json.loads(_results(client, plain)["instances.json"])
    assert coco["annotations"] and all("attributes" not in a for a in coco["annotations"])


def test_a_classification_job_cannot_define_attributes(client: TestClient, make_user: UserFactory) -> None:
    requester = make_user("requester")
    body = job_body("/nowhere", {}, type="classification", labels=["yes", "no"], attributes=ATTRIBUTES)
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    assert r.status_code == 422 and "attributes belong to drawn objects" in r.text, r.text
