"""The real scorer through the real submit endpoint: accept, reject, conflicts, what the worker sees."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import Assignment, AssignmentItem, ScoreConflict, WorkerJobQuality
from tests.conftest import UserFactory
from tests.quality_db.conftest import (
    QualityJobFactory,
    answer_all,
    claim_ok,
    item_truth,
    my_status,
    submit_ok,
)


def _shifted(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": o["label"], "geometry": [o["geometry"][0] + 30, *o["geometry"][1:]]} for o in objects]


def _relabelled(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": "dog", "geometry": o["geometry"]} for o in objects]


def test_right_answers_are_accepted_and_the_worker_sees_score_and_target_only(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("boxes", data=2, gt=2, assignment_size=2, gt_per_assignment=2, accuracy_target=0.75)
    worker = make_user("worker")
    body = claim_ok(client, worker, job["id"])
    submit_ok(client, worker, body["assignment_id"], answer_all(settings, body))
    seen = my_status(client, worker, body["assignment_id"])
    assert seen == {
        "assignment_id": body["assignment_id"],
        "status": "accepted",
        "score": 1.0,
        "target": 0.75,
        "can_appeal": False,
        "appeal": None,
    }
    with session_factory(settings)() as s:
        a = s.get(Assignment, body["assignment_id"])
        assert a is not None and a.score_details["scorer"] == "quality"
        record = s.scalars(select(WorkerJobQuality)).one()
        assert (record.gt_items, record.gt_passed, record.sprt_decision) == (2, 2, "continue")


def test_wrong_answers_are_rejected_with_conflicts_stored_for_reviewers(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("boxes", data=2, gt=2, assignment_size=2, gt_per_assignment=2)
    w1, w2 = make_user("worker"), make_user("worker")
    b1 = claim_ok(client, w1, job["id"])
    submit_ok(client, w1, b1["assignment_id"], answer_all(settings, b1, on_gt=_shifted))
    assert my_status(client, w1, b1["assignment_id"])["status"] == "rejected"
    assert my_status(client, w1, b1["assignment_id"])["can_appeal"] is True
    b2 = claim_ok(client, w2, job["id"])
    submit_ok(client, w2, b2["assignment_id"], answer_all(settings, b2, on_gt=_relabelled))
    with session_factory(settings)() as s:
        k1 = sorted(
            c.kind
            for c in s.scalars(
                select(ScoreConflict).where(ScoreConflict.assignment_id == b1["assignment_id"])
            )
        )
        k2 = [
            c.kind
            for c in s.scalars(
                select(ScoreConflict).where(ScoreConflict.assignment_id == b2["assignment_id"])
            )
        ]
    assert k1 == ["extra", "extra", "missing", "missing"]
    assert k2 == ["wrong_label", "wrong_label"]
    # the worker-facing list shows a score, never per-item details
    mine = client.get("/api/assignments/mine", headers=w2["headers"]).json()
    assert mine[0]["score"] == 0.0 and "items" not in mine[0] and "score_details" not in mine[0]


def test_points_use_a_tolerance_relative_to_the_image(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("points", data=1, gt=1, assignment_size=1, gt_per_assignment=1)
    near, far = make_user("worker"), make_user("worker")

    def nudge(dx: float) -> Any:
        return lambda objs: [
            {"label": o["label"], "geometry": [o["geometry"][0] + dx, o["geometry"][1]]} for o in objs
        ]

    # 0.02 x diagonal of 64x48 = 1.6 px
    b = claim_ok(client, near, job["id"])
    submit_ok(client, near, b["assignment_id"], answer_all(settings, b, on_gt=nudge(1.0)))
    assert my_status(client, near, b["assignment_id"])["status"] == "accepted"
    job2 = quality_job("points", data=1, gt=1, assignment_size=1, gt_per_assignment=1)
    b = claim_ok(client, far, job2["id"])
    submit_ok(client, far, b["assignment_id"], answer_all(settings, b, on_gt=nudge(3.0)))
    assert my_status(client, far, b["assignment_id"])["status"] == "rejected"


def test_classification_by_equality(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("classification", data=4, gt=2, assignment_size=2, gt_per_assignment=2)
    good, bad = make_user("worker"), make_user("worker")
    b = claim_ok(client, good, job["id"])
    submit_ok(client, good, b["assignment_id"], answer_all(settings, b, on_data=lambda t: [{"label": "no"}]))
    assert my_status(client, good, b["assignment_id"])["status"] == "accepted"
    b = claim_ok(client, bad, job["id"])
    flip = [{"label": "no"}]
    submit_ok(client, bad, b["assignment_id"], answer_all(settings, b, on_gt=lambda objs: flip))
    assert my_status(client, bad, b["assignment_id"])["score"] == 0.0


def test_gt_is_no_outlier_among_the_images_of_its_assignment(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    """The neighbourhood attack on sequential data (frames of one video, with GT frames annotated
    separately from the same video): a worker scores each item of an assignment by how far it lies
    from the others. With chunks cut as runs of consecutive files the GT items were the outliers
    (AUC 1.0); with chunks drawn at random every item is as far from its neighbours."""
    import random

    from marketplace.models import JobImage

    job = quality_job("boxes", data=120, gt=24, assignment_size=10, gt_per_assignment=2, max_attempts=50)
    spread = random.Random(7)
    with session_factory(settings)() as s:
        rows = s.execute(select(JobImage.name, JobImage.is_gt).where(JobImage.job_id == job["id"])).all()
    names = dict(rows)
    # the frame index each image shows: data in file order, GT frames from anywhere in the same video
    frame = {n: (float(n[3:7]) if not gt else spread.uniform(0, 120)) for n, gt in names.items()}
    scores: list[float] = []
    is_gt: list[bool] = []
    for _ in range(12):
        worker = make_user("worker")
        body = claim_ok(client, worker, job["id"])
        tokens = [i["item_id"] for i in body["items"]]
        truth = item_truth(settings, tokens)
        with session_factory(settings)() as s:
            shown = dict(
                s.execute(
                    select(AssignmentItem.token, JobImage.name)
                    .join(JobImage, JobImage.id == AssignmentItem.image_id)
                    .where(AssignmentItem.token.in_(tokens))
                ).all()
            )
        values = [frame[shown[t]] for t in tokens]
        median = float(np.median(values))
        scores += [abs(v - median) for v in values]
        is_gt += [truth[t][0] for t in tokens]
    assert sum(is_gt) == 24
    assert _auc(scores, is_gt) <= 0.7


def _auc(scores: list[float], positive: list[bool]) -> float:
    """ROC AUC of ``scores`` at telling the positives: the chance a positive outscores a negative."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))
