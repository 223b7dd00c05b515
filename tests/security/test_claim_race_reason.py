"""Issue 11 (low): two concurrent claims by the same worker gave a misleading ``no_assignments_left``
(the second claim skipped the chunk the first had locked and found nothing else). A worker's claims in
a job are now taken one at a time: the second waits and is told it already holds an assignment."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketplace.assignments import claim_repository
from tests.assignments.conftest import JobFactory
from tests.conftest import UserFactory


def test_a_second_concurrent_claim_is_told_the_first_holds_it(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = make_job(data=1, gt=2, assignment_size=1, gt_per_assignment=1)  # a single chunk
    worker = make_user("worker")
    inside, release = threading.Event(), threading.Event()
    real = claim_repository.issue  # on PostgreSQL, the statement after the one that takes the slot
    calls = iter(range(1_000))

    def held_first(*args: Any) -> Any:
        if next(calls) == 0:  # the first claim pauses after taking the chunk's slot
            inside.set()
            release.wait(30)
        return real(*args)

    monkeypatch.setattr(claim_repository, "issue", held_first)
    results: dict[str, Any] = {}

    def claim(name: str) -> None:
        results[name] = client.post(f"/api/jobs/{job['id']}/assignments/claim", headers=worker["headers"])

    first = threading.Thread(target=claim, args=("first",))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=claim, args=("second",))
    second.start()
    second.join(1.0)
    release.set()
    first.join(60)
    second.join(60)

    assert results["first"].status_code == 200, results["first"].text
    assert results["second"].status_code == 409
    body = results["second"].json()
    assert body["reason"] == "already_assigned", body
    assert body["assignment_id"] == results["first"].json()["assignment_id"]
