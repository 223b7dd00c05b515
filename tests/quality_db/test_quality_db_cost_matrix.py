"""A classification job with a misclassification cost matrix decides by least expected cost."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.conftest import UserFactory, job_body
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, submit_ok
from tests.quality_db.test_quality_db_export import _results

LABELS = ["adult", "general"]
#: Calling adult content "general" costs ten times more than the reverse.
COSTS = [[0.0, 10.0], [1.0, 0.0]]


def _run(client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings,
         **extra: Any) -> dict[str, str]:  # fmt: skip
    job = quality_job("classification", data=2, gt=3, labels=LABELS, assignment_size=2, gt_per_assignment=1,
                      overlap=3, **extra)  # fmt: skip
    for vote in ("general", "general", "adult"):
        worker = make_user("worker")
        body = claim_ok(client, worker, job["id"])
        submit_ok(client, worker, body["assignment_id"],
                  answer_all(settings, body, on_data=lambda t, v=vote: [{"label": v}]))  # fmt: skip
    items = json.loads(_results(client, job)["classification.json"])["items"]
    return {i["image"]: i["label"] for i in items if not i["is_gt"]}


def test_a_cost_matrix_turns_a_likely_but_costly_label_into_the_safe_one(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    plain = _run(client, quality_job, make_user, settings)
    costly = _run(client, quality_job, make_user, settings, cost_matrix=COSTS)
    assert set(plain.values()) == {"general"}  # two of three workers: most likely general
    assert set(costly.values()) == {"adult"}  # but a one-in-three chance of adult costs more


def test_a_cost_matrix_must_fit_the_labels_and_the_job_type(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    requester = make_user("requester")
    root = str(box_dataset["root"])
    cases = [
        ({"cost_matrix": [[0, 1], [1, 0]]}, "only classification jobs"),  # a boxes job
        ({"type": "classification", "cost_matrix": [[0, 1, 2], [1, 0, 2], [1, 1, 0]]}, "must be 2x2"),
        ({"type": "classification", "cost_matrix": [[0, -1], [1, 0]]}, "greater than or equal to 0"),
    ]
    for overrides, expected in cases:
        r = client.post("/api/jobs", json=job_body(root, box_dataset["gt"], **overrides),
                        headers=requester["headers"])  # fmt: skip
        assert r.status_code == 422, (overrides, r.text)
        assert expected in r.json()["detail"], r.json()["detail"]
