"""A worker on a polygons job, in Chromium: draws a polygon by clicking its vertices, adds a hole,
drags a vertex (zoomed in), undoes the drag, inserts and deletes vertices, takes and drops a
box-to-polygon suggestion, moves the shape and undoes it, submits; the stored geometry is what was
drawn, and the requester's results browser draws it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import AssignmentItem
from tests.web.conftest import JobFactory, open_work, screenshot, sign_in, sign_out

W, H = 160, 120
OUTER = [(20.0, 15.0), (120.0, 15.0), (120.0, 95.0), (20.0, 95.0)]
HOLE = [(50.0, 40.0), (80.0, 40.0), (65.0, 70.0)]


DISC = (140.0, 104.0, 12.0)  # a red disc on every image, outside the shape drawn: for the box assist


def _dataset(root: Path) -> dict[str, Any]:
    names = [f"p{i:02d}.png" for i in range(4)]
    for name in names:
        image = Image.new("RGB", (W, H), (90, 120, 200))
        x, y, r = DISC
        ImageDraw.Draw(image).ellipse([x - r, y - r, x + r, y + r], fill=(230, 40, 40))
        image.save(root / name, format="PNG")
    gt = {
        "images": [{"id": 1, "file_name": names[0], "width": W, "height": H}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "segmentation": [[30, 30, 90, 30, 60, 90]],
            }
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    return {"root": root, "gt": gt}


def _client(page: Any, x: float, y: float) -> tuple[float, float]:
    point = page.evaluate(f"window.__tilework.editor().imageToClient({x}, {y})")
    return point["x"], point["y"]


def _click(page: Any, x: float, y: float, **kwargs: Any) -> None:
    page.mouse.click(*_client(page, x, y), **kwargs)


def _shapes(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        "window.__tilework.editor().item.objects.map(o => ({label: o.label,"
        " rings: o.rings.map(r => r.map(p => [p.x, p.y]))}))"
    )


def _near(got: list[list[float]], want: list[tuple[float, float]], tol: float = 1.0) -> bool:
    return len(got) == len(want) and all(
        abs(a[0] - b[0]) <= tol and abs(a[1] - b[1]) <= tol for a, b in zip(got, want, strict=True)
    )


def test_web_worker_draws_a_polygon_with_a_hole_edits_undoes_and_submits(
    browser_page: Any, settings: Settings, make_user: Any, data_root: Path, active_job: JobFactory
) -> None:
    page = browser_page
    data = _dataset(data_root)
    job = active_job(
        str(data["root"]), data["gt"], type="polygons", title="Shapes", assignment_size=1, accuracy_target=0.0
    )  # accepted whatever the hidden GT says, so the results browser has it
    worker = make_user("worker")
    open_work(page, worker, job["id"])
    assignment_id = int(page.evaluate("document.body.dataset.assignmentId"))
    page.get_by_text("Polygons", exact=False).first.wait_for()
    with session_factory(settings)() as session:  # test-only: which item is not hidden GT
        items = session.scalars(
            select(AssignmentItem)
            .where(AssignmentItem.assignment_id == assignment_id)
            .order_by(AssignmentItem.position)
        )
        data_position = next(n for n, i in enumerate(items) if not i.is_gt)
    if data_position:
        page.keyboard.press("n")

    # the outline: four clicks, closed by clicking the first vertex again
    for x, y in OUTER:
        _click(page, x, y)
    assert _shapes(page) == []  # still drawing
    _click(page, *OUTER[0])
    (shape,) = _shapes(page)
    assert _near(shape["rings"][0], OUTER)
    # the hole: H with the shape selected, three clicks, Enter
    page.keyboard.press("h")
    for x, y in HOLE:
        _click(page, x, y)
    page.keyboard.press("Enter")
    (shape,) = _shapes(page)
    assert len(shape["rings"]) == 2 and _near(shape["rings"][1], HOLE)
    assert page.locator("ol.objects li").first.inner_text().startswith("cat — 7 vertices, 2 rings")

    # zoomed in, drag the outline's second vertex, then undo the drag
    scale = page.evaluate("window.__tilework.editor().item.view.scale")
    page.mouse.move(*_client(page, *OUTER[1]))  # zoom at the vertex: it stays under the pointer
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"window.__tilework.editor().item.view.scale > {scale * 1.2}")
    page.mouse.move(*_client(page, *OUTER[1]))
    page.mouse.down()
    page.mouse.move(*_client(page, 112, 22), steps=5)
    page.mouse.up()
    dragged = _shapes(page)[0]["rings"][0]
    assert abs(dragged[1][0] - 112) < 0.5 and abs(dragged[1][1] - 22) < 0.5  # finer when zoomed in
    page.keyboard.press("Control+z")
    assert _near(_shapes(page)[0]["rings"][0], OUTER)
    page.keyboard.press("f")

    # a vertex inserted by dragging the bottom edge, then deleted again with a right-click
    page.mouse.move(*_client(page, 70, 95))
    page.mouse.down()
    page.mouse.move(*_client(page, 70, 110), steps=4)
    page.mouse.up()
    assert len(_shapes(page)[0]["rings"][0]) == 5
    _click(page, 70, 110, button="right")
    assert _near(_shapes(page)[0]["rings"][0], OUTER)
    # B, a box dragged around the disc: the server's suggestion (GrabCut) becomes a second shape
    x, y, r = DISC
    page.keyboard.press("b")
    page.mouse.move(*_client(page, x - r - 5, y - r - 5))
    page.mouse.down()
    page.mouse.move(*_client(page, x + r + 5, y + r + 5), steps=4)
    page.mouse.up()
    page.wait_for_function("window.__tilework.editor().item.objects.length === 2")
    suggested = _shapes(page)[1]["rings"][0]
    xs, ys = [p[0] for p in suggested], [p[1] for p in suggested]
    assert abs(min(xs) - (x - r)) < 2.5 and abs(max(xs) - (x + r)) < 2.5
    assert abs(min(ys) - (y - r)) < 2.5 and abs(max(ys) - (y + r)) < 2.5
    page.keyboard.press("Delete")  # not wanted after all: the suggested shape is selected
    assert len(_shapes(page)) == 1

    # the whole shape dragged from inside (between the outline and the hole), then undone
    page.mouse.move(*_client(page, 30, 80))
    page.mouse.down()
    page.mouse.move(*_client(page, 36, 84), steps=4)
    page.mouse.up()
    moved = _shapes(page)[0]["rings"]
    assert _near(moved[0], [(x + 6, y + 4) for x, y in OUTER]) and _near(
        moved[1], [(x + 6, y + 4) for x, y in HOLE]
    )
    page.keyboard.press("Control+z")
    assert _near(_shapes(page)[0]["rings"][0], OUTER)
    screenshot(page, "web_worker_polygon_with_hole")

    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.body.dataset.assignmentId != '{assignment_id}'")
    with session_factory(settings)() as session:
        items = list(
            session.scalars(
                select(AssignmentItem)
                .where(AssignmentItem.assignment_id == assignment_id)
                .order_by(AssignmentItem.position)
            )
        )
    (stored,) = items[data_position].answer
    assert items[1 - data_position].answer == []
    assert stored["label"] == "cat"
    outer, hole = stored["geometry"]
    assert _near([outer[k : k + 2] for k in range(0, len(outer), 2)], OUTER)
    assert _near([hole[k : k + 2] for k in range(0, len(hole), 2)], HOLE)

    # the requester's results browser draws it, hole and all (overlap 1: the worker's answer is final)
    sign_out(page)
    sign_in(page, job["requester"]["email"])
    page.goto(f"/jobs/{job['id']}/results")
    page.wait_for_function("document.body.dataset.loaded === '1'")
    shapes = page.locator("#thumbs li svg path.shape")
    assert shapes.count() == 1
    assert shapes.first.get_attribute("d").count("M") == 2  # the outline and the hole
