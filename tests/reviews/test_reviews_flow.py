"""Appeals and reviewer decisions through the API: appeal once, overturn (accepted and payable),
decide once, chunk disputes, and who may see what."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import Assignment, Chunk, JobWorkerBan
from marketplace.payouts import service as payouts
from tests.conftest import UserFactory
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, my_status, submit_ok


def _nothing(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return []


@pytest.fixture
def accepted_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = payouts.earn
    monkeypatch.setattr(payouts, "earn", lambda s, a: (calls.append(a.id), real(s, a)))
    return calls


def test_appeal_once_then_overturn_makes_the_work_accepted_and_payable(
    client: TestClient,
    quality_job: QualityJobFactory,
    make_user: UserFactory,
    settings: Settings,
    accepted_calls: list[int],
) -> None:
    job = quality_job("boxes", data=4, gt=2, assignment_size=2, gt_per_assignment=1)
    worker, other, reviewer = make_user("worker"), make_user("worker"), make_user("reviewer")
    body = claim_ok(client, worker, job["id"])
    aid = body["assignment_id"]
    submit_ok(client, worker, aid, answer_all(settings, body, on_gt=_nothing))
    assert my_status(client, worker, aid)["status"] == "rejected"

    assert (
        client.post(
            f"/api/assignments/{aid}/appeal", json={"comment": "x"}, headers=other["headers"]
        ).status_code
        == 404
    )
    r = client.post(
        f"/api/assignments/{aid}/appeal", json={"comment": "the cat is hidden"}, headers=worker["headers"]
    )
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert appeal["status"] == "open" and appeal["comment"] == "the cat is hidden"
    again = client.post(
        f"/api/assignments/{aid}/appeal", json={"comment": "again"}, headers=worker["headers"]
    )
    assert again.status_code == 409 and again.json()["reason"] == "already_appealed"
    assert my_status(client, worker, aid)["can_appeal"] is False

    queue = client.get(
        "/api/reviews/disputes", params={"kind": "appeal", "status": "open"}, headers=reviewer["headers"]
    )
    assert [d["id"] for d in queue.json()] == [appeal["id"]]
    detail = client.get(f"/api/reviews/disputes/{appeal['id']}", headers=reviewer["headers"]).json()
    items = detail["context"]["assignment"]["items"]
    gt_item = next(i for i in items if i["is_gt"])
    assert gt_item["gt"] == [{"label": "cat", "geometry": [4.0, 4.0, 20.0, 20.0]}]
    assert gt_item["worker_answer"] == [] and [c["kind"] for c in gt_item["conflicts"]] == ["missing"]
    assert all(i["image_url"].startswith("http") for i in items)
    assert detail["history"][0]["action"] == "opened" and detail["history"][0]["actor_id"] == worker["id"]
    unlink = client.post(
        f"/api/reviews/disputes/{appeal['id']}/decide", json={"action": "unlink"}, headers=reviewer["headers"]
    )
    assert unlink.status_code == 422 and "ambiguous_stitch" in unlink.text  # a video stitch's action only

    r = client.post(
        f"/api/reviews/disputes/{appeal['id']}/decide",
        json={"action": "overturn", "comment": "occluded, fair"},
        headers=reviewer["headers"],
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert (
        decided["decision"] == "overturn"
        and decided["decided_by"] == reviewer["id"]
        and decided["decided_at"]
    )
    assert (
        decided["history"][-1]["action"] == "decided:overturn"
        and decided["history"][-1]["actor_id"] == reviewer["id"]
    )
    assert accepted_calls == [aid]  # payments' hook: the work becomes payable
    twice = client.post(
        f"/api/reviews/disputes/{appeal['id']}/decide", json={"action": "uphold"}, headers=reviewer["headers"]
    )
    assert twice.status_code == 409 and twice.json()["reason"] == "already_decided"
    assert my_status(client, worker, aid)["status"] == "accepted"
    mine = client.get("/api/appeals/mine", headers=worker["headers"]).json()
    assert mine[0]["decision"] == "overturn" and "decided_by" not in mine[0]
    assert client.get("/api/appeals/mine", headers=other["headers"]).json() == []
    with session_factory(settings)() as s:
        a = s.get(Assignment, aid)
        chunk = s.get(Chunk, a.chunk_id) if a else None
        assert chunk is not None and chunk.accepted_count == 1 and chunk.status == "done"
    # an accepted assignment cannot be appealed
    assert (
        client.post(
            f"/api/assignments/{aid}/appeal", json={"comment": "x"}, headers=worker["headers"]
        ).status_code
        == 409
    )


def test_exhausted_chunk_opens_a_dispute_the_reviewer_reopens_and_bans(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("boxes", data=2, gt=4, assignment_size=2, gt_per_assignment=1, max_attempts=2)
    reviewer = make_user("reviewer")
    workers = [make_user("worker") for _ in range(2)]
    for w in workers:
        body = claim_ok(client, w, job["id"])
        submit_ok(client, w, body["assignment_id"], answer_all(settings, body, on_gt=_nothing))
    queue = client.get(
        "/api/reviews/disputes",
        params={"kind": "chunk_failed_max_attempts", "job_id": job["id"]},
        headers=reviewer["headers"],
    ).json()
    assert len(queue) == 1 and queue[0]["subject"].startswith("chunk:")
    detail = client.get(f"/api/reviews/disputes/{queue[0]['id']}", headers=reviewer["headers"]).json()
    assert len(detail["context"]["chunk_assignments"]) == 2
    r = client.post(
        f"/api/reviews/disputes/{queue[0]['id']}/decide",
        json={"action": "reopen_chunk"},
        headers=reviewer["headers"],
    )
    assert r.status_code == 200, r.text
    newcomer = make_user("worker")
    assert claim_ok(client, newcomer, job["id"])["items"]
    # a worker ban decided on an appeal
    body_id = detail["context"]["chunk_assignments"][0]["id"]
    appeal = client.post(
        f"/api/assignments/{body_id}/appeal", json={"comment": "pls"}, headers=workers[0]["headers"]
    ).json()
    r = client.post(
        f"/api/reviews/disputes/{appeal['id']}/decide",
        json={"action": "ban_worker"},
        headers=reviewer["headers"],
    )
    assert r.status_code == 200, r.text
    with session_factory(settings)() as s:
        assert s.scalars(select(JobWorkerBan.worker_id)).all() == [workers[0]["id"]]


def test_role_matrix(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("boxes", data=4, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    body = claim_ok(client, worker, job["id"])
    submit_ok(client, worker, body["assignment_id"], answer_all(settings, body, on_gt=_nothing))
    appeal = client.post(
        f"/api/assignments/{body['assignment_id']}/appeal", json={"comment": "hm"}, headers=worker["headers"]
    ).json()
    users = {role: make_user(role) for role in ("requester", "reviewer", "admin")}
    users["worker"] = worker
    expected = {"worker": 403, "requester": 403, "reviewer": 200, "admin": 200}
    for role, status in expected.items():
        h = users[role]["headers"]
        assert client.get("/api/reviews/disputes", headers=h).status_code == status, role
        assert client.get(f"/api/reviews/disputes/{appeal['id']}", headers=h).status_code == status, role
    assert client.get("/api/reviews/disputes").status_code == 401
    for role in ("worker", "requester"):
        r = client.post(
            f"/api/reviews/disputes/{appeal['id']}/decide",
            json={"action": "uphold"},
            headers=users[role]["headers"],
        )
        assert r.status_code == 403
    # appeals are a worker's own thing
    assert client.get("/api/appeals/mine", headers=users["reviewer"]["headers"]).status_code == 403
    # the job's requester sees the dispute count, not the disputes; another requester sees nothing
    q = client.get(f"/api/jobs/{job['id']}/quality", headers=job["requester"]["headers"])
    assert q.status_code == 200 and q.json()["disputes"]["appeal"] == {"open": 1}
    assert (
        client.get(f"/api/jobs/{job['id']}/quality", headers=users["requester"]["headers"]).status_code == 404
    )
    assert client.get(f"/api/jobs/{job['id']}/quality", headers=worker["headers"]).status_code == 403
    # workers see their own assignment's quality only
    assert (
        client.get(
            f"/api/assignments/{body['assignment_id']}/quality", headers=make_user("worker")["headers"]
        ).status_code
        == 404
    )
