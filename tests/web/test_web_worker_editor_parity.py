"""The editor's object list, crosshair, contrast and shortcut sheet, in Chromium: a worker relabels and
deletes boxes from the list (and undoes both), sees the crosshair follow the pointer over the image, turns
the contrast up, and opens the shortcut sheet with "?" (modal: keys do not act behind it)."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import JobFactory, drag, image_xy, open_work, screenshot


def _boxes(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.__tilework.editor().item.objects.map(o => ({x: o.x, label: o.label}))")


def _column_red(page: Any, x: float, y: float) -> int:
    """The reddest pixel in the 20 stage pixels above image point (x, y), give or take a pixel sideways (a
    white line through the point shows up as red on the blue image)."""
    return page.evaluate(
        f"""(() => {{ const ed = window.__tilework.editor(); const c = ed.toScreen({{x: {x}, y: {y}}});
            let red = 0;
            for (let k = 4; k < 24; k++) for (const dx of [-1, 0, 1]) {{
              const p = ed.toImage({{x: c.x + dx, y: c.y - k}});
              red = Math.max(red, ed.pixelAt(p.x, p.y)[0]);
            }}
            return red; }})()"""
    )


def test_web_worker_object_list_crosshair_contrast_and_shortcut_sheet(
    browser_page: Any, make_user: Any, box_dataset: dict[str, Any], active_job: JobFactory
) -> None:
    page = browser_page
    job = active_job(str(box_dataset["root"]), box_dataset["gt"])
    worker = make_user("worker")
    open_work(page, worker, job["id"])

    drag(page, image_xy(page, 4, 4), image_xy(page, 20, 16))
    drag(page, image_xy(page, 30, 8), image_xy(page, 50, 30))
    assert [b["label"] for b in _boxes(page)] == [0, 0]

    # relabel from the list (the first box, not the selected one), then undo it
    page.get_by_label("Label of box 1").select_option("dog")
    assert [b["label"] for b in _boxes(page)] == [1, 0]
    assert page.locator("ol.objects li").first.inner_text().startswith("dog")
    page.keyboard.press("Control+z")
    assert [b["label"] for b in _boxes(page)] == [0, 0]

    # delete from the list, then undo it
    page.get_by_role("button", name="Delete box 2").click()
    assert len(_boxes(page)) == 1
    page.keyboard.press("Control+z")
    assert len(_boxes(page)) == 2

    # the crosshair: lines through the pointer over the image, gone when the pointer leaves the stage
    page.keyboard.press("Escape")
    page.mouse.move(2, 2)
    away = _column_red(page, 58, 44)
    page.mouse.move(*image_xy(page, 58, 44))
    near = _column_red(page, 58, 44)
    assert near > away + 40, (away, near)
    screenshot(page, "web_worker_editor_crosshair")
    page.mouse.move(2, 2)
    assert _column_red(page, 58, 44) == away

    # contrast: the image's pixels change
    inside = page.evaluate("window.__tilework.editor().pixelAt(40, 40)")
    page.get_by_label("Contrast").fill("250")
    assert page.evaluate("window.__tilework.editor().pixelAt(40, 40)") != inside

    # the shortcut sheet: "?" opens it; it is modal (N does not flip the image); Escape closes it
    page.locator(".stage").focus()
    page.keyboard.press("?")
    sheet = page.get_by_role("dialog", name="Keyboard shortcuts")
    sheet.wait_for()
    assert sheet.get_by_role("cell", name="Next / previous image").is_visible()
    assert sheet.get_by_text("Drag a box to move it, its handles to resize it.").is_visible()
    screenshot(page, "web_worker_editor_shortcut_sheet")
    page.keyboard.press("n")
    assert page.evaluate("window.__tilework.editor().index") == 0
    page.keyboard.press("Escape")
    sheet.wait_for(state="hidden")
    page.keyboard.press("n")
    assert page.evaluate("window.__tilework.editor().index") == 1
