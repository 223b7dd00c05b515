"""A worker on a points job, in Chromium (the PointTool of the Konva editor): clicks place points, a
press-and-drag places one where the button is released, dragging a point moves it, undo takes the move
back, Delete removes the selected point; the submitted geometry is what was placed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import AssignmentItem
from tests.web.conftest import JobFactory, image_xy, open_work, screenshot


def _points(page: Any) -> list[list[float]]:
    return page.evaluate("window.__tilework.editor().item.objects.map(o => [o.x, o.y])")


def _near(got: list[list[float]], want: list[tuple[float, float]], tol: float = 0.6) -> bool:
    return len(got) == len(want) and all(
        abs(a[0] - b[0]) <= tol and abs(a[1] - b[1]) <= tol for a, b in zip(got, want, strict=True)
    )


def test_web_worker_places_moves_undoes_and_deletes_points(
    browser_page: Any, settings: Settings, make_user: Any, box_dataset: dict[str, Any], active_job: JobFactory
) -> None:
    page = browser_page
    names = box_dataset["names"]
    gt = {
        "images": [{"id": 1, "file_name": names[0], "width": 64, "height": 48}],
        "categories": [{"id": 1, "name": "nose", "keypoints": ["nose"], "skeleton": []}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "keypoints": [30, 10, 2], "num_keypoints": 1}
        ],
    }
    job = active_job(str(box_dataset["root"]), gt, type="points", labels=["nose"], title="Noses")
    worker = make_user("worker")
    open_work(page, worker, job["id"])
    assignment_id = int(page.evaluate("document.body.dataset.assignmentId"))
    stage_label = page.get_by_role("application").get_attribute("aria-label") or ""
    assert stage_label.startswith("Image: click to place a point")

    page.mouse.click(*image_xy(page, 10, 12))
    page.mouse.move(*image_xy(page, 40, 30))  # press, drag, release: the point lands where released
    page.mouse.down()
    page.mouse.move(*image_xy(page, 44, 34), steps=4)
    page.mouse.up()
    assert _near(_points(page), [(10, 12), (44, 34)])
    assert page.locator("ol.objects li").count() == 2

    page.mouse.move(*image_xy(page, 10, 12))  # drag the first point, then undo the drag
    page.mouse.down()
    page.mouse.move(*image_xy(page, 20, 22), steps=4)
    page.mouse.up()
    assert _near(_points(page), [(20, 22), (44, 34)])
    page.keyboard.press("Control+z")
    assert _near(_points(page), [(10, 12), (44, 34)])
    screenshot(page, "web_worker_points")

    page.mouse.click(*image_xy(page, 44, 34))  # select the second point, delete it
    page.keyboard.press("Delete")
    assert _near(_points(page), [(10, 12)])

    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.body.dataset.assignmentId != '{assignment_id}'")
    with session_factory(settings)() as session:
        first = session.scalars(
            select(AssignmentItem)
            .where(AssignmentItem.assignment_id == assignment_id)
            .order_by(AssignmentItem.position)
        ).first()
    assert first is not None and first.answer is not None
    (stored,) = first.answer
    assert stored["label"] == "nose"
    assert _near([stored["geometry"]], [(10, 12)])
