"""Pipeline rules: what is refused (and how), who sees what, overdue fixes moving to another
annotator, and the crediting of merged objects to the workers who drew them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.escrow.evm import DevChain
from marketplace.models import utcnow
from marketplace.payments.rails import Rails
from marketplace.pipelines import service
from marketplace.pipelines.credit import credit
from tests.conftest import UserFactory
from tests.pipelines.pipetools import GT_NAMES, fund_on_chain, item_name, pipeline_body, qa_verdict, streets


def test_credit_goes_to_the_worker_whose_box_it_is() -> None:
    merged = [
        {"label": "person", "geometry": [0, 0, 10, 10]},
        {"label": "person", "geometry": [50, 50, 10, 10]},
    ]
    answers = [
        (7, [{"label": "person", "geometry": [1, 1, 10, 10]}]),
        (
            9,
            [
                {"label": "person", "geometry": [0, 0, 10, 10]},
                {"label": "person", "geometry": [51, 50, 10, 10]},
            ],
        ),
        (11, [{"label": "car", "geometry": [50, 50, 10, 10]}]),  # another label: never credited
    ]
    assert credit(merged, answers) == ([9, 9], 9)
    assert credit([{"label": "person", "geometry": [200, 200, 5, 5]}], answers) == ([None], 7)
    assert credit([], [(4, [])]) == ([], 4)


def test_bad_pipelines_are_refused_with_the_reason(
    client: TestClient, make_user: UserFactory, data_root: Path, shared_datasets: Path
) -> None:
    requester = make_user("requester")
    good = pipeline_body(data_root, {"images": [], "annotations": [], "categories": []})

    def refused(body: dict[str, Any], needle: str) -> None:
        r = client.post("/api/pipelines", json=body, headers=requester["headers"])
        assert r.status_code == 422, r.text
        assert needle in r.text, r.text

    refused({**good, "stages": good["stages"][::-1]}, "followed by exactly one qa stage")
    twice = [good["stages"][0], {**good["stages"][1], "labels": ["car", "person"]}, good["stages"][2]]
    refused({**good, "stages": twice}, "in two annotate stages")
    refused({**good, "stages": good["stages"][2:]}, "stages")
    refused({**good, "data_uri": "relative/path"}, "absolute path")
    worker = make_user("worker")
    assert client.post("/api/pipelines", json=good, headers=worker["headers"]).status_code == 403
    r = client.post("/api/pipelines/qa/claim", headers=requester["headers"])
    assert r.status_code == 403


def test_qa_bounty_too_small_for_its_items(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path, shared_datasets: Path
) -> None:
    from tests.pipelines.pipetools import gt_coco, real_images

    root = data_root / "tiny"
    root.mkdir()
    gold = real_images(shared_datasets, root)
    body = pipeline_body(root, gt_coco(shared_datasets, gold))
    body["stages"][2]["bounty_amount"] = 5  # 8 items cannot each get 1 after the fee
    r = client.post("/api/pipelines", json=body, headers=make_user("requester")["headers"])
    assert r.status_code == 422 and r.json()["field"] == "stages[2].bounty_amount", r.text
    assert "a QA bounty of 5 cannot pay 8 items" in r.json()["detail"] and "the minimum is" in r.text
    with session_factory(settings)() as s:  # nothing half-written
        from sqlalchemy import func, select

        from marketplace.models import Job, Pipeline

        assert s.scalar(select(func.count()).select_from(Pipeline)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_overdue_fix_goes_to_another_annotator_and_strangers_are_refused(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    st = streets(client, make_user, settings, data_root, shared_datasets)
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    st.annotate(client, settings)
    qa, stranger = st.qa, make_user("worker")
    # QA claims items until it finds the badly drawn one and raises an issue on it
    while True:
        r = client.post("/api/pipelines/qa/claim", headers=qa["headers"])
        assert r.status_code == 200, r.text
        item = r.json()
        name = item_name(settings, item["id"])
        issues = qa_verdict(item, st.gold[name])
        decision = client.post
        url = f"/api/pipeline-items/{item['id']}/decision"
        # the hostile and the mistaken: someone else's item, a stage that is not the item's, no object 99
        assert decision(url, json={"action": "approve"}, headers=stranger["headers"]).status_code == 404
        bad_stage = {
            "action": "issue",
            "issues": [{"stage_job_id": st.stage_ids[2], "object_index": 0, "comment": "x"}],
        }
        r = decision(url, json=bad_stage, headers=qa["headers"])
        assert r.status_code == 422 and "not an annotate stage" in r.text
        no_object = {
            "action": "issue",
            "issues": [{"stage_job_id": st.stage_ids[1], "object_index": 99, "comment": "x"}],
        }
        r = decision(url, json=no_object, headers=qa["headers"])
        assert r.status_code == 422 and "no object 99" in r.text
        assert decision(url, json={"action": "issue", "issues": []}, headers=qa["headers"]).status_code == 422
        if name != st.moved:  # (the hidden checks' defects flagged, data items approved)
            verdict = {"action": "issue", "issues": issues} if name in GT_NAMES else {"action": "approve"}
            assert decision(url, json=verdict, headers=qa["headers"]).status_code == 200
            r = decision(url, json={"action": "approve"}, headers=qa["headers"])  # decided twice
            assert r.status_code == 409 and r.json()["reason"] == "item_not_held"
            continue
        # one issue: the badly drawn box, back to the one worker who drew it
        one = {"action": "issue", "issues": issues[:1]}
        assert issues and decision(url, json=one, headers=qa["headers"]).status_code == 200
        break
    maker = next(
        w for w in st.walkers if client.get("/api/pipeline-items/fixes", headers=w["headers"]).json()
    )
    other = next(w for w in st.walkers if w is not maker)
    fix = {"stage_job_id": st.stage_ids[1], "objects": []}
    assert (
        client.post(f"/api/pipeline-items/{item['id']}/fix", json=fix, headers=other["headers"]).status_code
        == 404
    )
    assert client.get(item["image_url"], headers=maker["headers"]).status_code == 200
    assert client.get(item["image_url"], headers=other["headers"]).status_code == 404
    wrong_label = {"stage_job_id": st.stage_ids[1], "objects": [{"label": "car", "geometry": [1, 1, 5, 5]}]}
    r = client.post(f"/api/pipeline-items/{item['id']}/fix", json=wrong_label, headers=maker["headers"])
    assert r.status_code == 422 and "not a label of this stage" in r.text

    # the maker does not fix it in time: the sweep hands it to the other pedestrian annotator
    with session_scope(session_factory(settings)) as s:
        assert service.reassign_overdue(s, utcnow() + timedelta(hours=1)) == 0  # not due yet
        assert service.reassign_overdue(s, utcnow() + timedelta(days=2)) == 1
    assert client.get("/api/pipeline-items/fixes", headers=maker["headers"]).json() == []
    [taken] = client.get("/api/pipeline-items/fixes", headers=other["headers"]).json()
    assert taken["id"] == item["id"] and all(i["assignee_id"] == other["id"] for i in taken["issues"])
    truth = [{"label": lb, "geometry": box} for lb, box in st.gold[st.moved] if lb == "person"]
    r = client.post(
        f"/api/pipeline-items/{item['id']}/fix",
        json={"stage_job_id": st.stage_ids[1], "objects": truth},
        headers=other["headers"],
    )
    assert r.status_code == 200 and r.json()["status"] == "for_review", r.text
    # it comes back to the QA worker who raised the issue, before any other item
    r = client.post("/api/pipelines/qa/claim", headers=qa["headers"])
    assert r.status_code == 200 and r.json()["id"] == item["id"]
    assert [i["status"] for i in r.json()["issues"]] == ["fixed"] * len(r.json()["issues"])
