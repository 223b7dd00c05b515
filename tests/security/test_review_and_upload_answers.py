"""A reviewer banning a worker who does not exist gets a clear 422, and no answer shows where the
server keeps uploaded data (issue 11, low items)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.conftest import UserFactory, job_body
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, submit_ok


def test_banning_an_unknown_worker_is_a_clear_422(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("boxes", data=4, gt=2, assignment_size=2, gt_per_assignment=1)
    worker, reviewer = make_user("worker"), make_user("reviewer")
    body = claim_ok(client, worker, job["id"])
    submit_ok(client, worker, body["assignment_id"], answer_all(settings, body, on_gt=lambda objects: []))
    r = client.post(
        f"/api/assignments/{body['assignment_id']}/appeal", json={"comment": "x"}, headers=worker["headers"]
    )
    assert r.status_code == 201, r.text
    dispute = r.json()["id"]
    for unknown in (999_999, job["requester"]["id"], reviewer["id"]):
        r = client.post(
            f"/api/reviews/disputes/{dispute}/decide",
            json={"action": "ban_worker", "worker_id": unknown},
            headers=reviewer["headers"],
        )
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "worker_id"
        assert f"no worker with id {unknown}" in r.json()["detail"]
    r = client.post(
        f"/api/reviews/disputes/{dispute}/decide",
        json={"action": "ban_worker", "worker_id": worker["id"]},
        headers=reviewer["headers"],
    )
    assert r.status_code == 200, r.text


def test_answers_never_show_the_servers_upload_folder(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any], settings: Settings
) -> None:
    requester = make_user("requester")
    spec = job_body("unused", {})
    del spec["data_uri"], spec["gt"]
    files = [
        ("gt", ("gt.json", json.dumps(box_dataset["gt"]).encode(), "application/json")),
        *[("images", (n, (box_dataset["root"] / n).read_bytes(), "image/png")) for n in box_dataset["names"]],
    ]
    created = client.post(
        "/api/jobs/upload", data={"spec": json.dumps(spec)}, files=files, headers=requester["headers"]
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    shown = [
        created,
        client.get(f"/api/jobs/{job_id}", headers=requester["headers"]),
        client.get("/api/jobs", headers=requester["headers"]),
        client.post(f"/api/jobs/{job_id}/cancel", headers=requester["headers"]),
    ]
    for r in shown:
        assert r.status_code == 200 or r.status_code == 201, r.text
        assert str(settings.home) not in r.text and "uploads/" not in r.text, r.text
    assert created.json()["data_uri"].startswith("upload:")
