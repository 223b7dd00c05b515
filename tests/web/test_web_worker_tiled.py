"""Tiled classification: the first assignment is done with the keyboard only (arrows, space, Ctrl+Enter);
the second with the mouse, whose hovers, throttled positions and clicks arrive as interaction records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import AssignmentItem
from tests.conftest import write_image
from tests.web.conftest import JobFactory, screenshot


def _yes_no_dataset(root: Path, count: int = 14) -> dict[str, Any]:
    names = [f"thumb{i:02d}.png" for i in range(count)]
    for name in names:
        write_image(root / name, size=(80, 60))
    gt_names = names[:2]
    gt = {
        "images": [{"id": i + 1, "file_name": n, "width": 80, "height": 60} for i, n in enumerate(gt_names)],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1},
            {"id": 2, "image_id": 2, "category_id": 2},
        ],
        "categories": [{"id": 1, "name": "yes"}, {"id": 2, "name": "no"}],
    }
    return {"root": root, "gt": gt}


def _answers(settings: Settings, assignment_id: int) -> list[AssignmentItem]:
    with session_factory(settings)() as session:
        stmt = (
            select(AssignmentItem)
            .where(AssignmentItem.assignment_id == assignment_id)
            .order_by(AssignmentItem.position)
        )
        items = list(session.scalars(stmt))
        session.expunge_all()
        return items


def test_web_tiled_classification_keyboard_only_then_mouse(
    browser_page: Any, settings: Settings, make_user: Any, data_root: Path, active_job: JobFactory
) -> None:
    page = browser_page
    page.set_viewport_size({"width": 900, "height": 860})  # a grid of 4-5 columns: two rows of tiles
    data = _yes_no_dataset(data_root)
    job = active_job(
        str(data["root"]),
        data["gt"],
        type="classification",
        title="Is there a dog?",
        description="Select every photo with a dog in it, even a partly visible one.",
        labels=["yes", "no"],
        assignment_size=6,
        gt_per_assignment=2,
    )
    worker = make_user("worker")

    # sign in with the keyboard too
    page.goto(f"/signin?next=/work/jobs/{job['id']}")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # brand
    page.get_by_label("Email").focus()
    page.keyboard.type(worker["email"])
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse 1")
    page.keyboard.press("Enter")
    page.wait_for_function("document.body.dataset.assignmentId > 0")
    first_id = int(page.evaluate("document.body.dataset.assignmentId"))
    tiles = page.get_by_role("checkbox")
    assert tiles.count() == 8
    assert page.locator("#tiled-class").inner_text() == "Is there a dog?"
    assert page.get_by_text('Select every image where the answer is "yes"').is_visible()
    assert page.get_by_role("button", name="Next class").is_hidden()
    assert page.get_by_text("Select every photo with a dog in it").is_visible()

    # nothing chosen yet: Ctrl+Enter asks for an explicit answer instead of submitting
    page.keyboard.press("Control+Enter")
    page.get_by_text('or choose "None of these"').wait_for()
    assert page.evaluate("document.body.dataset.assignmentId") == str(first_id)

    # back to the grid (Shift+Tab from "None of these" lands on the focused tile), select tiles 1, 2 and 6
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")  # one row down from tile 2
    page.keyboard.press("Space")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Space")  # toggle tile 2 off again
    page.keyboard.press("Space")  # and on
    checked = page.evaluate(
        "[...document.querySelectorAll('[role=checkbox]')]"
        ".map(t => t.getAttribute('aria-checked') === 'true')"
    )
    cols = page.evaluate(
        "getComputedStyle(document.querySelector('.tiles')).gridTemplateColumns.split(' ').length"
    )
    assert 1 + cols < 8
    expected = {0, 1, 1 + cols}
    assert {i for i, c in enumerate(checked) if c} == expected
    screenshot(page, "web_worker_tiled_keyboard")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.body.dataset.assignmentId != '{first_id}'")
    second_id = int(page.evaluate("document.body.dataset.assignmentId"))

    items = _answers(settings, first_id)
    labels = [[a["label"] for a in item.answer] for item in items]
    assert labels == [["yes"] if i in expected else ["no"] for i in range(8)]
    assert len(items[1].interactions["clicks_ms"]) == 3  # on, off, on
    assert items[1].interactions["time_on_item_ms"] > 0  # keyboard focus counts as time on the image

    # the second assignment with the mouse: hover, wander, click one tile
    second_tiles = page.get_by_role("checkbox")
    second_tiles.nth(3).hover()
    box = second_tiles.nth(3).bounding_box()
    assert box is not None
    for step in range(6):
        page.mouse.move(box["x"] + 10 + step * 12, box["y"] + 10 + step * 6)
        page.wait_for_timeout(120)
    second_tiles.nth(3).click()
    second_tiles.nth(0).hover()
    page.keyboard.press("Control+Enter")
    page.get_by_role("heading", name="Nice work: 2 submitted").wait_for()
    screenshot(page, "web_worker_tiled_nothing_left")
    assert page.get_by_role("link", name="Back to the job board").is_visible()

    items = _answers(settings, second_id)
    record = items[3].interactions
    assert [a["label"] for a in items[3].answer] == ["yes"]
    assert len(record["hovers"]) == 1 and record["hovers"][0]["leave_ms"] >= record["hovers"][0]["enter_ms"]
    assert len(record["mouse"]) >= 3
    assert all(0 <= x <= 80 and 0 <= y <= 60 for _, x, y in record["mouse"])
    assert len(record["clicks_ms"]) == 1
