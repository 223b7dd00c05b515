"""A worker signs in, starts a boxes job from the board, draws two boxes with the mouse, moves one,
undoes the move, submits with Ctrl+Enter and gets the next assignment without a page load."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import Assignment, AssignmentItem, AssignmentStatus
from tests.web.conftest import JobFactory, image_xy, open_work, screenshot, sign_in


def _drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=4)
    page.mouse.move(*end, steps=4)
    page.mouse.up()


def _boxes(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        "window.__tilework.editor().item.objects.map(o => ({x: o.x, y: o.y, w: o.w, h: o.h, label: o.label}))"
    )


def test_web_worker_draws_moves_undoes_and_submits_boxes(
    browser_page: Any, settings: Settings, make_user: Any, box_dataset: dict[str, Any], active_job: JobFactory
) -> None:
    page = browser_page
    job = active_job(str(box_dataset["root"]), box_dataset["gt"], guide_url="https://example.org/guide")
    worker = make_user("worker")

    ahead_claims: list[str] = []
    page.on("request", lambda r: ahead_claims.append(r.url) if "claim?ahead=true" in r.url else None)
    sign_in(page, worker["email"])
    assert page.url.endswith("/work")
    row = page.get_by_role("row").filter(has_text="Boxes on pets")
    row.get_by_text("Bounding boxes").wait_for()
    assert "$" in row.inner_text()
    screenshot(page, "web_worker_board")
    row.get_by_role("link", name="Start working on Boxes on pets").click()

    page.wait_for_function("document.body.dataset.assignmentId > 0")
    first_id = int(page.evaluate("document.body.dataset.assignmentId"))
    assert (
        page.get_by_role("link", name="Open the guide").get_attribute("href") == "https://example.org/guide"
    )

    # two boxes drawn with the current label "cat"; key 2 relabels the selected (last drawn) one "dog"
    _drag(page, image_xy(page, 4, 4), image_xy(page, 24, 20))
    _drag(page, image_xy(page, 34, 10), image_xy(page, 60, 40))
    page.keyboard.press("2")
    boxes = _boxes(page)
    assert len(boxes) == 2
    assert [b["label"] for b in boxes] == [0, 1]
    assert page.locator("ol.objects li").count() == 2

    # move the first box by dragging its middle, then undo the move
    before = boxes[0]
    _drag(page, image_xy(page, 14, 12), image_xy(page, 20, 16))
    moved = _boxes(page)[0]
    assert moved["x"] > before["x"] + 3 and moved["y"] > before["y"] + 2
    page.keyboard.press("Control+z")
    restored = _boxes(page)[0]
    assert abs(restored["x"] - before["x"]) < 1e-6 and abs(restored["y"] - before["y"]) < 1e-6
    assert len(_boxes(page)) == 2
    screenshot(page, "web_worker_boxes_drawn")

    # the page tried to reserve the next assignment while this one is open (claim-ahead); whether the
    # server grants it or not, the next assignment must follow the submit
    for _ in range(100):
        if ahead_claims:
            break
        page.wait_for_timeout(20)
    assert ahead_claims, "the annotation page should try to claim the next assignment ahead"
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.body.dataset.assignmentId != '{first_id}'")
    second = page.evaluate("document.body.dataset.assignmentId")
    assert second != "none", "a second assignment should be available"
    assert page.get_by_text("1 submitted this session").is_visible()
    assert page.locator("ol.objects li").count() == 0
    screenshot(page, "web_worker_next_assignment")

    with session_factory(settings)() as session:
        done = session.get(Assignment, first_id)
        assert done is not None and done.status is not AssignmentStatus.assigned
        items = list(
            session.scalars(
                select(AssignmentItem)
                .where(AssignmentItem.assignment_id == first_id)
                .order_by(AssignmentItem.position)
            )
        )
        first_answer = items[0].answer
        assert [a["label"] for a in first_answer] == ["cat", "dog"]
        x, y, w, h = first_answer[0]["geometry"]
        assert abs(x - 4) < 1.5 and abs(y - 4) < 1.5 and abs(w - 20) < 1.5 and abs(h - 16) < 1.5
        assert all(item.answer is not None for item in items)
        assert items[0].interactions["time_on_item_ms"] >= 0
    assert job["id"] > 0


def _pixel(page: Any, x: float, y: float) -> list[int]:
    """The pixel the stage shows at image point (x, y) (all of its layers, as the worker sees them)."""
    return page.evaluate(f"window.__tilework.editor().pixelAt({x}, {y})")


def test_web_worker_hides_locks_relabels_by_hotkey_and_brightens(
    browser_page: Any, make_user: Any, box_dataset: dict[str, Any], active_job: JobFactory
) -> None:
    page = browser_page
    job = active_job(str(box_dataset["root"]), box_dataset["gt"])
    worker = make_user("worker")
    open_work(page, worker, job["id"])

    page.keyboard.press("2")  # label hotkey: draw a dog
    _drag(page, image_xy(page, 4, 4), image_xy(page, 30, 24))
    assert [b["label"] for b in _boxes(page)] == [1]

    # locked: a drag on it draws a new box instead of moving it; unlocked, the same drag moves it
    page.get_by_role("button", name="Lock box 1").click()
    assert page.get_by_role("button", name="Unlock box 1").get_attribute("aria-pressed") == "true"
    _drag(page, image_xy(page, 12, 12), image_xy(page, 20, 18))
    assert len(_boxes(page)) == 2 and abs(_boxes(page)[0]["x"] - 4) < 0.01
    page.keyboard.press("Control+z")
    page.get_by_role("button", name="Unlock box 1").click()
    _drag(page, image_xy(page, 12, 12), image_xy(page, 20, 18))
    assert len(_boxes(page)) == 1 and _boxes(page)[0]["x"] > 8

    # hidden: not drawn (the box's edge pixel shows the image again), still part of the answer
    page.keyboard.press("Escape")  # unselected (no handles) and the pointer away (no crosshair)
    page.mouse.move(2, 2)
    box = _boxes(page)[0]
    edge = (box["x"], box["y"] + box["h"] / 4)
    drawn = _pixel(page, *edge)
    assert drawn[:3] == [77, 171, 247]  # the dog colour of the box's edge
    page.get_by_role("button", name="Hide box 1").click()
    assert _pixel(page, *edge) != drawn
    answers = page.evaluate("window.__tilework.editor().answers()")
    assert len(answers[0]["annotations"]) == 1
    page.get_by_role("button", name="Show box 1").click()
    assert _pixel(page, *edge) == drawn

    # brightness: the image under the cursor gets lighter
    inside = (40.0, 40.0)
    before = sum(_pixel(page, *inside)[:3])
    page.get_by_label("Brightness").fill("200")
    assert sum(_pixel(page, *inside)[:3]) > before
    screenshot(page, "web_worker_editor_hide_lock_look")
