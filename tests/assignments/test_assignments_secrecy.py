"""Nothing a worker can receive separates a hidden GT item from a normal one, and no GT answer leaks.

Walks every worker-facing response (claim in a job, claim ahead, claim any job, the assignment itself,
my assignments, the job board, the submit result) over many claims.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import AssignmentItem
from tests.assignments.conftest import GT_BOX, JobFactory, claim, right_answers, submit
from tests.conftest import UserFactory

TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")
URL = re.compile(r"^http://127\.0\.0\.1:8000/files/[A-Za-z0-9_-]+$")
FORBIDDEN_WORDS = (
    "is_gt",
    "gt",
    "ground",
    "truth",
    "honeypot",
    "golden",
    "score_details",
    "geometry",
    "img0",
)


def _keys(obj: Any, prefix: str = "") -> set[str]:
    if isinstance(obj, dict):
        out = set()
        for k, v in obj.items():
            out.add(f"{prefix}{k}")
            out |= _keys(v, f"{prefix}{k}.")
        return out
    if isinstance(obj, list):
        return set().union(*(_keys(v, prefix + "[].") for v in obj)) if obj else set()
    return set()


def _no_leak(response_json: Any, names: list[str]) -> None:
    text = json.dumps(response_json)
    keys = _keys(response_json)
    for word in FORBIDDEN_WORDS:
        assert not any(word in k.lower().split(".")[-1] for k in keys), (word, keys)
    assert all(name not in text for name in names)
    assert json.dumps(GT_BOX) not in text and "[4, 4, 20, 20]" not in text


def test_gt_items_are_indistinguishable(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=120, gt=12, assignment_size=2, gt_per_assignment=2)
    names = job["names"]
    gt_positions: Counter[int] = Counter()
    shapes: dict[bool, set[tuple[Any, ...]]] = {True: set(), False: set()}
    for n in range(30):
        worker = make_user("worker")
        board = client.get("/api/work/jobs", headers=worker["headers"]).json()
        _no_leak(board, names)
        r = claim(client, worker, job["id"] if n % 2 else None)
        assert r.status_code == 200
        bodies = [r.json()]
        if n % 2:  # and the next one claimed ahead: the same shape, the same secrecy
            ahead = claim(client, worker, job["id"], ahead=True)
            assert ahead.status_code == 200, ahead.text
            assert set(ahead.json()) == set(bodies[0])
            bodies.append(ahead.json())
        for body in bodies:
            _no_leak(body, names)
            again = client.get(f"/api/assignments/{body['assignment_id']}", headers=worker["headers"]).json()
            _no_leak(again, names)
            assert [i["item_id"] for i in again["items"]] == [i["item_id"] for i in body["items"]]
            with session_factory(settings)() as s:
                flags = {
                    token: is_gt
                    for token, is_gt in s.execute(
                        select(AssignmentItem.token, AssignmentItem.is_gt).where(
                            AssignmentItem.assignment_id == body["assignment_id"]
                        )
                    ).tuples()
                }
            assert len(body["items"]) == 4 and sum(flags.values()) == 2
            for position, item in enumerate(body["items"]):
                is_gt = flags[item["item_id"]]
                if is_gt:
                    gt_positions[position] += 1
                assert TOKEN.match(item["item_id"]) and URL.match(item["image_url"])
                shapes[is_gt].add(
                    (
                        tuple(sorted(item)),
                        len(item["item_id"]),
                        len(item["image_url"]),
                        item["width"],
                        item["height"],
                    )
                )
        for body in bodies:  # the current one first: the next one becomes current
            result = submit(
                client, worker, body["assignment_id"], right_answers(settings, body, gt_right=n % 3 != 0)
            )
            assert result.status_code == 200
            _no_leak(result.json(), names)
        _no_leak(client.get("/api/assignments/mine", headers=worker["headers"]).json(), names)
    assert shapes[True] == shapes[False] and len(shapes[True]) == 1
    assert set(gt_positions) == {0, 1, 2, 3}  # GT shows up anywhere in the display order
