"""Issue 19: the statements a claim and a submission send to PostgreSQL, counted (a guard against
round trips creeping back: each one is a wait on the database under load)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from marketplace.config import Settings
from marketplace.db import get_engine
from tests.assignments.conftest import JobFactory, claim, right_answers, submit
from tests.conftest import UserFactory


@pytest.fixture
def transactions(settings: Settings) -> Iterator[list[list[str]]]:
    """The statements of each transaction on the app's engine, in order (the last one open)."""
    engine = get_engine(settings)
    seen: list[list[str]] = [[]]

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen[-1].append(" ".join(sql.split())[:80])

    def ended(*_: Any) -> None:
        seen.append([])

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", ended)
    event.listen(engine, "rollback", ended)
    yield seen
    event.remove(engine, "before_cursor_execute", statement)
    event.remove(engine, "commit", ended)
    event.remove(engine, "rollback", ended)


def test_a_claim_is_four_statements_and_a_submission_two(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    transactions: list[list[str]],
) -> None:
    job = make_job(data=4, gt=4, assignment_size=2, gt_per_assignment=2)
    worker = make_user("worker")
    assert client.get("/api/me", headers=worker["headers"]).status_code == 200  # the token, now cached

    transactions[:] = [[]]
    r = claim(client, worker, job["id"])
    assert r.status_code == 200, r.text
    claimed = [t for t in transactions if t]
    assert len(claimed) == 1 and len(claimed[0]) == 4, claimed

    body = right_answers(settings, r.json())
    transactions[:] = [[]]
    s = submit(client, worker, r.json()["assignment_id"], body)
    assert s.status_code == 200, s.text
    submitted, *scoring = [t for t in transactions if t]
    assert len(submitted) == 2, submitted  # the job and the assignment locked in one statement
    assert scoring, "the submission was scored in its own transaction after commit"
