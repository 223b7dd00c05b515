"""A pipeline's stages in sequence in the browser: a pedestrians annotator opens the stage's job and
sees, on every item, the cars the stage before drew there (dotted, labelled, not selectable); they draw
a person and submit, and the submission holds the person only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.escrow.evm import DevChain
from marketplace.models import AssignmentItem, JobImage
from marketplace.payments.rails import Rails
from tests.conftest import UserFactory
from tests.pipelines.pipetools import fund_on_chain, iou, run_annotate_stage, streets
from tests.web.conftest import drag, image_xy, open_work, screenshot


def test_web_a_later_stage_shows_the_earlier_stages_boxes_read_only(
    browser_page: Any,
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    page = browser_page
    st = streets(client, make_user, settings, data_root, shared_datasets, in_sequence=True)
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    run_annotate_stage(client, settings, st.stage_ids[0], st.cars, st.gold, "car", {})
    walker = st.walkers[0]
    assignment_id = "0"

    open_work(page, walker, st.stage_ids[1])
    for turn in range(6):  # the assignments in turn until one has an image with cars
        if turn:  # the one before was submitted: the page shows the next
            page.goto(f"/work/jobs/{st.stage_ids[1]}")
            shown = "document.body.dataset.assignmentId"
            page.wait_for_function(f"{shown} > 0 && {shown} != {assignment_id}")
        page.locator(".stage canvas").first.wait_for()
        items = page.evaluate("window.__tilework.editor().items.map(i => ({id: i.id, context: i.context}))")
        with session_factory(settings)() as s:
            rows = s.execute(
                select(AssignmentItem.token, JobImage.name)
                .join(JobImage, JobImage.id == AssignmentItem.image_id)
                .where(AssignmentItem.token.in_([i["id"] for i in items]))
            ).tuples()
            names = {token: name for token, name in rows}
        for item in items:  # every item, GT or not, carries its image's cars
            cars = [box for label, box in st.gold[names[item["id"]]] if label == "car"]
            assert len(item["context"]) == len(cars), (names[item["id"]], item["context"])
            assert all(any(iou(c["geometry"], t) > 0.99 for c in item["context"]) for t in cars)
        with_cars = next((k for k, i in enumerate(items) if i["context"]), None)
        if with_cars is not None:
            break
        assignment_id = page.evaluate("document.body.dataset.assignmentId")
        answers = [
            {
                "item_id": i["id"],
                "annotations": [
                    {"label": lb, "geometry": box} for lb, box in st.gold[names[i["id"]]] if lb == "person"
                ],
            }
            for i in items
        ]
        r = client.post(
            f"/api/assignments/{assignment_id}/submit", json={"items": answers}, headers=walker["headers"]
        )
        assert r.status_code == 200, r.text
    assert with_cars is not None, "the GT image with the car came in one of the assignments"
    for _ in range(with_cars):
        page.keyboard.press("n")
    editor = "window.__tilework.editor()"
    shown = len(items[with_cars]["context"])
    # drawn under the objects: one dotted outline per car, nothing to pick, nothing in the answer
    assert page.evaluate(f"{editor}.objectLayer.find('Rect').length") >= shown
    car = items[with_cars]["context"][0]["geometry"]
    page.mouse.click(*image_xy(page, car[0] + car[2] / 2, car[1] + car[3] / 2))
    assert page.evaluate(f"{editor}.item.objects.length") == 0
    screenshot(page, "stage-context")
    drag(page, image_xy(page, 2, 2), image_xy(page, 14, 24))  # a person, somewhere
    assert page.evaluate(f"{editor}.item.objects.length") == 1
    answers = page.evaluate(f"{editor}.answers()")
    assert sum(len(a["annotations"]) for a in answers) == 1
    assert all(o["label"] == "person" for a in answers for o in a["annotations"])
