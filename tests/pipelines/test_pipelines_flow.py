"""A three-stage pipeline (cars, then pedestrians, then QA) on real COCO images, through the HTTP API
with simulated workers: QA raises issues that go back to the annotator who made the work, come back
``for_review`` to the QA worker who raised them, one is reopened; every item ends approved or
discarded, every stage is paid exactly once per accepted unit and each stage's books balance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.escrow.evm import DevChain
from marketplace.flows import pipeline as pipeline_flow
from marketplace.ledger import service as ledger
from marketplace.models import Assignment, AssignmentStatus, EntryKind, Job, JobStatus, LedgerTransaction
from marketplace.payments.rails import Rails
from marketplace.payouts import service as payouts
from marketplace.payouts import tasks as payout_tasks
from tests.conftest import UserFactory
from tests.pipelines.pipetools import GT_NAMES, fund_on_chain, iou, streets


def history_item_ids(client: TestClient, requester: dict[str, Any], pipeline_id: int) -> list[int]:
    history = client.get(f"/api/pipelines/{pipeline_id}/history", headers=requester["headers"]).json()
    return [h["item_id"] for h in history if h["status"] == "approved"]


def test_three_stage_pipeline_issues_go_back_and_every_stage_is_paid_once(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    st = streets(client, make_user, settings, data_root, shared_datasets)
    pipeline, stage_ids, gold, data_names = st.pipeline, st.stage_ids, st.gold, st.data_names
    requester, cars, qa = st.requester, st.cars, st.qa
    assert [s["kind"] for s in pipeline["stages"]] == ["annotate", "annotate", "qa"]
    assert pipeline["items"] == {"annotating": 8}
    # another requester sees nothing of it
    other = make_user("requester")
    assert client.get(f"/api/pipelines/{pipeline['id']}", headers=other["headers"]).status_code == 404
    for job_id in stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    # nothing to review before the annotate stages are done
    r = client.post("/api/pipelines/qa/claim", headers=qa["headers"])
    assert r.status_code == 409 and r.json()["reason"] == "nothing_to_review"

    who = st.annotate(client, settings)
    moved, missed = st.moved, st.missed
    view = client.get(f"/api/pipelines/{pipeline['id']}", headers=requester["headers"]).json()
    assert view["status"] == "reviewing" and view["items"] == {"completed": 8}
    # a worker outside the QA team gets nothing
    r = client.post("/api/pipelines/qa/claim", headers=cars[0]["headers"])
    assert r.status_code == 409

    raised, reopened = st.review(client, settings, qa, who)
    assert set(raised) - set(GT_NAMES) == {moved, missed} and reopened
    view = client.get(f"/api/pipelines/{pipeline['id']}", headers=requester["headers"]).json()
    discarded = 1 if not gold[data_names[-1]] else 0
    assert view["status"] == "completed"
    assert view["items"] == {"approved": 8 - discarded, **({"discarded": 1} if discarded else {})}
    assert view["open_issues"] == 0
    # the careful QA worker flagged the known defect of every hidden check, and was never stopped
    assert view["qa_checks"] == {"checks": 2, "decisions": 2, "caught": 2, "stopped_workers": 0}
    assert [s["status"] for s in view["stages"]] == ["completed"] * 3

    # money: each annotate stage paid once per accepted assignment, QA once per decided item
    payout_tasks.drain(time_budget_s=120)
    with session_factory(settings)() as s:
        for job_id in stage_ids[:2]:
            n_accepted = len(
                list(
                    s.scalars(
                        select(Assignment.id).where(
                            Assignment.job_id == job_id, Assignment.status == AssignmentStatus.accepted
                        )
                    )
                )
            )
            earnings = list(
                s.scalars(
                    select(LedgerTransaction).where(
                        LedgerTransaction.job_id == job_id, LedgerTransaction.kind == EntryKind.earning
                    )
                )
            )
            assert len(earnings) == n_accepted == 4
        qa_earnings = list(
            s.scalars(
                select(LedgerTransaction).where(
                    LedgerTransaction.job_id == stage_ids[2], LedgerTransaction.kind == EntryKind.earning
                )
            )
        )
        assert len(qa_earnings) == 8 and len({t.idem_key for t in qa_earnings}) == 8
        for job_id in stage_ids:
            books = ledger.check_balanced(s, job_id)
            assert books.funded > 0 and books.refunded >= 0 and books.payable == 0 and books.paid > 0
    assert all(b["balanced"] for b in view["books"])
    # a replayed completion, a replayed QA earning: nothing moves twice
    with session_scope(session_factory(settings)) as s:
        before = ledger.job_books(s, stage_ids[2])
        pipeline_flow.finish_if_done(s, pipeline["id"])
        item_id = history_item_ids(client, requester, pipeline["id"])[0]
        payouts.earn_unit(s, stage_ids[2], qa["id"], f"pipeline-item:{item_id}", "replayed")
    with session_factory(settings)() as s:
        assert ledger.job_books(s, stage_ids[2]) == before

    # results: the approved items, the fixes in; the history shows the round trips
    coco = client.get(f"/api/pipelines/{pipeline['id']}/results", headers=requester["headers"]).json()
    assert len(coco["images"]) == 8 - discarded
    by_name = {i["file_name"]: i["id"] for i in coco["images"]}
    for name in (moved, missed):
        boxes = [
            a["bbox"] for a in coco["annotations"] if a["image_id"] == by_name[name] and a["category_id"] == 2
        ]
        truth = [box for lb, box in gold[name] if lb == "person"]
        assert len(boxes) == len(truth) and all(any(iou(b, t) > 0.99 for t in truth) for b in boxes)
    # the manager's view of the people: who fixed what came back, the QA worker's record
    r = client.get(f"/api/pipelines/{pipeline['id']}/workers", headers=requester["headers"])
    assert r.status_code == 200, r.text
    people = {(w["stage_job_id"], w["worker_id"]): w for w in r.json()}
    walker_rows = [people[(stage_ids[1], w["id"])] for w in st.walkers if (stage_ids[1], w["id"]) in people]
    assert sum(w["issues_fixed"] for w in walker_rows) >= 2 and all(
        w["issues_open"] == 0 for w in walker_rows
    )
    assert all(w["seconds_per_item"] is not None and w["assignments_accepted"] >= 1 for w in walker_rows)
    assert sum(w["items_credited"] for w in walker_rows) == 8
    assert all(
        people[(stage_ids[0], c["id"])]["issues_fixed"] == 0
        for c in cars
        if (stage_ids[0], c["id"]) in people
    )
    qa_row = people[(stage_ids[2], qa["id"])]
    assert (qa_row["checks"], qa_row["checks_caught"], qa_row["stopped"]) == (2, 2, False)
    assert qa_row["items"] >= 8 + 3  # every data item, the two issue rounds and the reopen
    assert client.get(f"/api/pipelines/{pipeline['id']}/workers", headers=qa["headers"]).status_code == 403
    history = client.get(f"/api/pipelines/{pipeline['id']}/history", headers=requester["headers"]).json()
    trail = next(h for h in history if h["name"] == missed)
    assert [e["event"] for e in trail["events"]] == [
        "annotated",
        "claimed",
        "issue",
        "fixed",
        "for_review",
        "claimed",
        "reopen",
        "fixed",
        "for_review",
        "claimed",
        "approve",
    ]
    assert all(i["status"] == "resolved" for i in trail["issues"])
    with session_factory(settings)() as s:
        assert [s.get(Job, j).status for j in stage_ids] == [JobStatus.completed] * 3  # type: ignore[union-attr]
