"""Per-object attributes in the browser: a requester defines them in the new-job form (a typo is shown
next to the field), the job page says how far GT is exposed, and a worker sets them on a box in the
attributes card (undoable); the submission carries them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import AssignmentItem
from tests.web.conftest import activate, fill_new_job_form, image_xy, screenshot, sign_in, sign_out


def _attributes(page: Any) -> Any:
    return page.evaluate("window.__tilework.editor().item.objects.map(o => o.attributes || {})")


def test_web_attributes_from_the_form_to_the_workers_submission(
    browser_page: Any,
    client: TestClient,
    make_user: Any,
    box_dataset: dict[str, Any],
    settings: Settings,
    tmp_path: Path,
) -> None:
    page = browser_page
    requester = make_user("requester")
    sign_in(page, requester["email"])
    fill_new_job_form(page, box_dataset, tmp_path, title="Pets with attributes", rail="chain", bounty="250")
    page.get_by_label("Object attributes").fill("occluded\ncolour: red")
    page.get_by_role("button", name="Create job").click()
    error = page.locator("#attributes-error")
    error.wait_for(state="visible")
    assert "line 2: a menu needs at least two values" in error.inner_text()
    page.get_by_label("Object attributes").fill("occluded\ncolour: red, green\nnote: text")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    job = client.get(f"/api/jobs/{job_id}", headers=requester["headers"]).json()
    assert job["attributes"] == [
        {"name": "occluded", "kind": "checkbox", "values": []},
        {"name": "colour", "kind": "select", "values": ["red", "green"]},
        {"name": "note", "kind": "text", "values": []},
    ]
    page.wait_for_selector("#gt-exposure")
    assert "worker accounts" in page.locator("#gt-exposure").inner_text()

    activate(settings, job_id)
    worker = make_user("worker")
    sign_out(page)
    sign_in(page, worker["email"])
    page.goto(f"/work/jobs/{job_id}")
    page.wait_for_function("document.body.dataset.assignmentId > 0")
    assignment_id = int(page.evaluate("document.body.dataset.assignmentId"))
    assert not page.locator(".card.attributes").is_visible()  # nothing selected yet
    page.mouse.move(*image_xy(page, 4, 4))
    page.mouse.down()
    page.mouse.move(*image_xy(page, 30, 24), steps=6)
    page.mouse.up()
    card = page.locator(".card.attributes")
    card.wait_for(state="visible")
    assert "Attributes of box 1" in card.inner_text()
    card.get_by_label("occluded").check()
    card.get_by_label("colour").select_option("green")
    card.get_by_label("note").fill("half behind the sofa")
    card.get_by_label("note").press("Enter")
    assert _attributes(page) == [{"occluded": True, "colour": "green", "note": "half behind the sofa"}]
    screenshot(page, "web_worker_attributes")
    page.evaluate("window.__tilework.editor().focusStage()")
    page.keyboard.press("Control+z")  # the note
    page.keyboard.press("Control+z")  # the colour
    assert _attributes(page) == [{"occluded": True}]
    page.keyboard.press("Control+Shift+z")
    assert _attributes(page) == [{"occluded": True, "colour": "green"}]

    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.body.dataset.assignmentId != '{assignment_id}'")
    with session_factory(settings)() as session:
        answers = session.scalars(
            select(AssignmentItem.answer)
            .where(AssignmentItem.assignment_id == assignment_id)
            .order_by(AssignmentItem.position)
        ).all()
    drawn = [a for answer in answers for a in answer or []]
    assert [a["attributes"] for a in drawn] == [{"occluded": True, "colour": "green", "note": ""}]
