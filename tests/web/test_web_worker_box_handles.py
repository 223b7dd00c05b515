"""Box picking and resizing in the Konva editor, in Chromium: a box drawn inside a bigger one is picked
by a click on it (the smallest box under the pointer wins), the bigger one by a click beside it; the
selected box's corner handle resizes it, and a handle dragged past the opposite edge flips the box. And
the view: the wheel zooms about the pointer, Space+drag pans, F fits."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import JobFactory, drag, image_xy, open_work


def _boxes(page: Any) -> list[list[float]]:
    return page.evaluate("window.__tilework.editor().item.objects.map(o => [o.x, o.y, o.w, o.h])")


def _selected(page: Any) -> int:
    return page.evaluate("window.__tilework.editor().item.selected")


def _near(got: list[float], want: list[float], tol: float = 0.6) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(got, want, strict=True))


def test_web_worker_picks_nested_boxes_and_resizes_with_handles(
    browser_page: Any, make_user: Any, box_dataset: dict[str, Any], active_job: JobFactory
) -> None:
    page = browser_page
    job = active_job(str(box_dataset["root"]), box_dataset["gt"])
    worker = make_user("worker")
    open_work(page, worker, job["id"])

    # a small box, then a big one around it (a drag that starts on a box moves it instead)
    drag(page, image_xy(page, 20, 15), image_xy(page, 30, 25))  # id 1
    page.keyboard.press("Escape")
    drag(page, image_xy(page, 4, 4), image_xy(page, 50, 40))  # id 2
    small, big = _boxes(page)
    assert _near(big, [4, 4, 46, 36]) and _near(small, [20, 15, 10, 10])

    page.keyboard.press("Escape")
    page.mouse.click(*image_xy(page, 25, 20))
    assert _selected(page) == 1  # inside both: the smaller one
    page.mouse.click(*image_xy(page, 10, 30))
    assert _selected(page) == 2  # inside the big one only

    # the big box's south-east handle, dragged: the box follows it
    drag(page, image_xy(page, 50, 40), image_xy(page, 58, 44))
    assert _near(_boxes(page)[1], [4, 4, 54, 40])
    # its north-west handle dragged past the opposite corner: the box flips
    drag(page, image_xy(page, 4, 4), image_xy(page, 62, 46))
    assert _near(_boxes(page)[1], [58, 44, 4, 2])
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert _near(_boxes(page)[1], [4, 4, 46, 36])
    assert _near(_boxes(page)[0], [20, 15, 10, 10])  # the small box never moved


def test_web_worker_zooms_at_the_cursor_pans_and_fits(
    browser_page: Any, make_user: Any, box_dataset: dict[str, Any], active_job: JobFactory
) -> None:
    page = browser_page
    job = active_job(str(box_dataset["root"]), box_dataset["gt"])
    worker = make_user("worker")
    open_work(page, worker, job["id"])
    drag(page, image_xy(page, 10, 10), image_xy(page, 30, 30))
    fitted = page.evaluate("window.__tilework.editor().item.view")

    # the wheel zooms in about the pointer: the image point under it stays put
    at = image_xy(page, 40, 20)
    page.mouse.move(*at)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"window.__tilework.editor().item.view.scale > {fitted['scale'] * 1.5}")
    after = image_xy(page, 40, 20)
    assert abs(after[0] - at[0]) < 1 and abs(after[1] - at[1]) < 1

    # Space + drag pans the view; the box stays where it is on the image
    view = page.evaluate("window.__tilework.editor().item.view")
    page.keyboard.down("Space")
    drag(page, (at[0], at[1]), (at[0] - 60, at[1] + 30))
    page.keyboard.up("Space")
    panned = page.evaluate("window.__tilework.editor().item.view")
    assert abs(panned["tx"] - (view["tx"] - 60)) < 1 and abs(panned["ty"] - (view["ty"] + 30)) < 1
    assert _near(_boxes(page)[0], [10, 10, 20, 20])

    # F fits the image again
    page.keyboard.press("f")
    assert page.evaluate("window.__tilework.editor().item.view") == fitted
