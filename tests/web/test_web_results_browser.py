"""The requester looks at the results on the images: merged boxes drawn on thumbnails, the images the
workers disagree on first (and alone, filtered), and every worker's version of one image."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, my_status, submit_ok
from tests.web.conftest import screenshot, sign_in

BOX = [8.0, 6.0, 30.0, 24.0]


def test_web_results_browser_shows_merged_boxes_and_each_workers_version(
    browser_page: Any, client: TestClient, quality_job: QualityJobFactory, make_user: Any, settings: Settings
) -> None:
    job = quality_job("boxes", data=2, gt=2, assignment_size=2, gt_per_assignment=1, overlap=2)
    # two workers: both draw a cat on the first data image; on the second, one says cat and one dog
    for label_on_second in ("cat", "dog"):
        worker = make_user("worker")
        body = claim_ok(client, worker, job["id"])
        answer = answer_all(settings, body)
        data_items = [i for i in answer["items"] if not i["annotations"]]
        for n, item in enumerate(sorted(data_items, key=lambda i: _image_name(body, i["item_id"]))):
            item["annotations"] = [{"label": "cat" if n == 0 else label_on_second, "geometry": BOX}]
        submit_ok(client, worker, body["assignment_id"], answer)
        assert my_status(client, worker, body["assignment_id"])["status"] == "accepted"

    api = client.get(f"/api/jobs/{job['id']}/result-images", headers=job["requester"]["headers"]).json()
    assert api["total"] == 2 and [len(i["objects"]) >= 1 for i in api["items"]] == [True, True]
    first, second = api["items"]
    assert first["confidence"] <= second["confidence"]  # least sure first
    other = make_user("requester")
    image_url = f"/api/jobs/{job['id']}/images/{first['image_id']}"
    assert client.get(f"/api/jobs/{job['id']}/result-images", headers=other["headers"]).status_code == 404
    assert client.get(image_url, headers=other["headers"]).status_code == 404
    image = client.get(image_url, headers=job["requester"]["headers"])
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")

    page = browser_page
    sign_in(page, job["requester"]["email"])
    page.goto(f"/jobs/{job['id']}")
    page.get_by_role("link", name="Look at the results on the images").click()
    page.wait_for_function("document.body.dataset.loaded === '1'")
    thumbs = page.locator("#thumbs li")
    assert thumbs.count() == 2
    assert page.locator("#thumbs li svg rect.box").count() >= 2  # the merged boxes, drawn
    page.wait_for_function(
        "[...document.querySelectorAll('#thumbs img')].every(i => i.complete && i.naturalWidth)"
    )
    screenshot(page, "web_requester_results_browser")

    thumbs.first.get_by_role("button").click()
    dialog = page.locator("dialog#versions")
    dialog.wait_for()
    choices = dialog.locator("#version-choice label")
    assert choices.count() == 3  # merged + the two workers
    assert choices.nth(1).inner_text().strip().startswith("Worker ")
    choices.nth(1).click()
    assert dialog.locator("svg rect.box").count() == 1  # that worker's one box
    screenshot(page, "web_requester_results_versions")
    dialog.get_by_role("button", name="Close").click()

    # cat against dog on the second image: the workers disagree there, and only there
    assert (first["low_agreement"], second["low_agreement"]) == (True, False)
    assert api["low_agreement"] == 1 and page.locator("#thumbs li.low").count() == 1
    page.get_by_label("Only images the workers disagree on").check()
    page.wait_for_function("document.querySelectorAll('#thumbs li').length === 1")
    assert page.locator("#thumbs li.low").count() == 1


def _image_name(claim_body: dict[str, Any], token: str) -> int:
    """Items are shown in a fixed order; the position stands in for the image here."""
    return [i["item_id"] for i in claim_body["items"]].index(token)
