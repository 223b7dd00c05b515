"""Property-based fuzzing of every operation in the OpenAPI document, once per role (Schemathesis).

Shared by ``benchmarks/fuzz.py`` (a real uvicorn server, a long campaign) and
``tests/security/test_fuzz_openapi.py`` (the app in process, a bounded budget).

* ``seed`` builds realistic data first, so generated ids can hit real rows: a funded card job with
  accepted, rejected and held assignments and an open appeal, plus a draft chain job, and one signed-in
  user of each role.
* ``fuzz`` runs each operation with positive and negative data from the schema, then with the seeded
  ids in its path, and checks every answer: no status >= 500, the status code documented, the content
  type and the body matching the documented schema. Failures are recorded, not raised, so one campaign
  reports everything it found.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.errors
from hypothesis import HealthCheck, Phase
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from marketplace.accounts import service as accounts
from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.flows import funding as funding_flow
from marketplace.models import Job, Role
from marketplace.payments import repository as payments_repo
from marketplace.payments import service as payments
from marketplace.payments.rails import Rails
from tests.conftest import coco_boxes, write_image
from tests.quality_db.conftest import answer_all

ROLES = ("worker", "reviewer", "requester", "admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
GT_BOX = [4.0, 4.0, 20.0, 20.0]


@dataclass
class Seed:
    tokens: dict[str, str]
    #: path parameter -> real ids the fuzzer should also try
    ids: dict[str, list[int]]


@dataclass
class Outcome:
    cases: int = 0
    server_errors: int = 0
    schema_violations: int = 0
    crashes: int = 0
    #: "METHOD /path status: what" -> how often
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)

    def line(self) -> str:
        return (
            f"cases={self.cases} server_errors={self.server_errors} "
            f"schema_violations={self.schema_violations} crashes={self.crashes}"
        )


# -- seeding ---------------------------------------------------------------------------------------


def _user(settings: Settings, role: str, email: str) -> tuple[int, str]:
    with session_scope(session_factory(settings)) as session:
        user = accounts.register(session, email=email, password="correct horse 1", role=Role(role))
        token = accounts.issue_token(session, user, name="fuzz", ttl_days=1)[0]
        return user.id, token


def _spare_token_id(settings: Settings, user_id: int) -> int:
    """A second token of the user, for the fuzzer to revoke without signing the user out."""
    with session_scope(session_factory(settings)) as session:
        user = accounts.repository.get_user(session, user_id)
        assert user is not None
        return accounts.issue_token(session, user, name="spare", ttl_days=1)[1].id


def _job_data(root: Path, data: int = 6, gt: int = 4) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    names = [f"img{i:03d}.png" for i in range(data + gt)]
    for name in names:
        write_image(root / name)
    gt_names = names[data:]
    coco = coco_boxes(
        {n: (64, 48) for n in gt_names}, {n: [("cat", GT_BOX)] for n in gt_names}, ["cat", "dog"]
    )
    return coco


def _job_body(root: Path, coco: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "boxes",
        "title": "Fuzz boxes",
        "labels": ["cat", "dog"],
        "data_uri": str(root),
        "gt": coco,
        "bounty_amount": 1_000_000,
        "currency": "usd",
        "rail": "card",
        "assignment_size": 2,
        "gt_per_assignment": 1,
    }
    body.update(overrides)
    return body


def _ok(response: Any, *codes: int) -> Any:
    if response.status_code not in (codes or (200, 201)):
        raise RuntimeError(f"seeding failed: {response.status_code} {response.text[:500]}")
    return response.json()


def seed(http: Any, settings: Settings, data_root: Path, rails: Rails) -> Seed:
    """Users of each role, a funded card job with assignments in every state and an open appeal, and
    a draft chain job. ``http`` is an httpx-style client on the app; ``rails`` pays the seed job."""
    tag = f"{time.time_ns() % 10**9}"
    users = {role: _user(settings, role, f"fuzz-{role}-{tag}@example.org") for role in ROLES}
    helpers = [_user(settings, "worker", f"fuzz-helper{i}-{tag}@example.org") for i in range(2)]
    auth = {role: {"Authorization": f"Bearer {token}"} for role, (_, token) in users.items()}

    root = data_root / f"fuzz-{tag}"
    coco = _job_data(root)
    job = _ok(http.post("/api/jobs", json=_job_body(root, coco), headers=auth["requester"]), 201)
    with session_scope(session_factory(settings)) as session:
        row = session.get(Job, job["id"])
        assert row is not None
        payments.start_funding(session, row, rails, fee_bps=settings.platform_fee_bps)
        funding = payments_repo.funding_for_job(session, row.id)
        assert funding is not None
        funding_flow.funds_arrived(session, funding, row.bounty_amount, source="fuzz seed")

    # a rejected assignment with an open appeal, an accepted one, and one held by the fuzzing worker
    bad, good = ({"Authorization": f"Bearer {token}"} for _, token in helpers)
    claim = _ok(http.post(f"/api/jobs/{job['id']}/assignments/claim", headers=bad))
    answers = answer_all(settings, claim, on_gt=lambda objects: [])
    _ok(http.post(f"/api/assignments/{claim['assignment_id']}/submit", json=answers, headers=bad))
    appeal = _ok(
        http.post(
            f"/api/assignments/{claim['assignment_id']}/appeal", json={"comment": "look again"}, headers=bad
        ),
        201,
    )
    claim = _ok(http.post(f"/api/jobs/{job['id']}/assignments/claim", headers=good))
    _ok(
        http.post(
            f"/api/assignments/{claim['assignment_id']}/submit",
            json=answer_all(settings, claim),
            headers=good,
        )
    )
    held = _ok(http.post(f"/api/jobs/{job['id']}/assignments/claim", headers=auth["worker"]))

    chain_root = data_root / f"fuzz-chain-{tag}"
    chain_coco = _job_data(chain_root)
    chain_job = _ok(
        http.post(
            "/api/jobs",
            json=_job_body(chain_root, chain_coco, rail="chain", currency="tusd", bounty_amount=str(10**24)),
            headers=auth["requester"],
        ),
        201,
    )
    return Seed(
        tokens={role: token for role, (_, token) in users.items()},
        ids={
            "job_id": [job["id"], chain_job["id"]],
            "assignment_id": [held["assignment_id"]],
            "dispute_id": [appeal["id"]],
            "token_id": [_spare_token_id(settings, users["requester"][0])],
        },
    )


# -- fuzzing ---------------------------------------------------------------------------------------


def _destructive_last(operation: Any) -> tuple[int, str]:
    path: str = operation.path
    return (1 if path.endswith(("/cancel", "/decide")) or operation.method.upper() == "DELETE" else 0, path)


def _record(outcome: Outcome, case: Case, response: Any, error: BaseException) -> None:
    status = getattr(response, "status_code", None)
    if status is not None and status >= 500:
        outcome.server_errors += 1
    else:
        outcome.schema_violations += 1
    failures = getattr(error, "exceptions", None) or [error]
    title = "; ".join(
        str(getattr(f, "title", "") or f or type(f).__name__).splitlines()[0][:120] for f in failures
    )
    key = f"{case.operation.method.upper()} {case.operation.path} {status}: {title}"
    outcome.failures[key] += 1
    if key not in outcome.examples:
        body = getattr(response, "text", "")[:300]
        outcome.examples[key] = f"{case.as_curl_command()}\n  -> {status} {body}"


def fuzz(
    schema: Any,
    seed_data: Seed,
    *,
    examples: int,
    roles: Iterable[str] = ROLES,
    random_seed: int = 11,
    call_kwargs: dict[str, Any] | None = None,
    alive: Callable[[], bool] = lambda: True,
    progress: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """Fuzz every operation of ``schema`` as each role; ``alive`` tells whether the server still answers
    (a failed request or a dead server counts as a crash and ends the campaign)."""
    outcome = Outcome()
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=_destructive_last)
    for role in roles:
        headers = {"Authorization": f"Bearer {seed_data.tokens[role]}"}
        for operation in operations:
            known = {
                p.name: seed_data.ids[p.name] for p in operation.path_parameters if p.name in seed_data.ids
            }
            plans: list[tuple[GenerationMode, dict[str, Any] | None]] = [
                (GenerationMode.POSITIVE, None),
                (GenerationMode.NEGATIVE, None),
            ]
            for i in range(max((len(ids) for ids in known.values()), default=0)):
                plans.append(
                    (GenerationMode.POSITIVE, {n: ids[min(i, len(ids) - 1)] for n, ids in known.items()})
                )
            for mode, path_parameters in plans:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
                if not _run(strategy, outcome, headers, examples, random_seed, call_kwargs or {}, alive):
                    return outcome
            progress(f"{role:9} {operation.method.upper():6} {operation.path}  {outcome.line()}")
    return outcome


def _run(
    strategy: Any,
    outcome: Outcome,
    headers: dict[str, str],
    examples: int,
    random_seed: int,
    call_kwargs: dict[str, Any],
    alive: Callable[[], bool],
) -> bool:
    crashed = False

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.seed(random_seed)
    @hypothesis.given(case=strategy)
    def run(case: Case) -> None:
        nonlocal crashed
        if crashed:
            return
        outcome.cases += 1
        try:
            response = case.call(headers=headers, **call_kwargs)
        except Exception as exc:  # the server did not answer
            if alive():
                _record(outcome, case, None, exc)
            else:
                outcome.crashes += 1
                crashed = True
            return
        outcome.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups the failures it found
            _record(outcome, case, response, exc)

    # Unsatisfiable: nothing to make invalid (no parameters and no body, in negative mode)
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()
    return not crashed
