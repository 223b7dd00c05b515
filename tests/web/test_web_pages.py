"""Page-level checks: sign up / sign in / sign out through the forms; every form control on every page
has a label; the requester's create-job form shows intake errors next to their field and creates a job."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.web.conftest import JobFactory, screenshot, sign_in

UNLABELLED_JS = """
() => {
  const controls = [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, [role=checkbox], [role=radio], [role=textbox]')];
  const named = (el) => (el.labels && el.labels.length > 0 && [...el.labels].some(l => l.textContent.trim()))
    || (el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby');
  const buttons = [...document.querySelectorAll('button, a.button')].filter(
    b => !(b.textContent.trim() || (b.getAttribute('aria-label') || '').trim()));
  return controls.filter(el => !named(el)).map(el => el.outerHTML.slice(0, 120))
    .concat(buttons.map(b => 'button without a name: ' + b.outerHTML.slice(0, 120)));
}
"""


def _unlabelled(page: Any) -> list[str]:
    result: list[str] = page.evaluate(UNLABELLED_JS)
    return result


def test_web_signup_signin_signout_forms(browser_page: Any) -> None:
    page = browser_page
    page.goto("/work")
    assert "/signin?next=/work" in page.url
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    assert page.locator("#email-error").is_visible()
    assert "at least 8" in page.locator("#password-error").inner_text()
    screenshot(page, "web_signup_errors")

    page.get_by_label("Email").fill("new.worker@example.org")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_label("annotate images and get paid (worker)").check()
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/work")
    assert page.get_by_role("heading", name="Job board").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "tw_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    assert not [c for c in page.context.cookies() if c["name"] == "tw_token"]
    page.goto("/work/earnings")
    assert "/signin" in page.url

    page.get_by_label("Email").fill("new.worker@example.org")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "wrong email or password"
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/work/earnings")
    page.get_by_text("No assignments yet").wait_for()


def test_web_every_form_control_has_a_label(
    browser_page: Any,
    make_user: Any,
    box_dataset: dict[str, Any],
    active_job: JobFactory,
    live_server: Any,
) -> None:
    page = browser_page
    problems: dict[str, list[str]] = {}

    def check(path: str, ready: str | None = None) -> None:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        if ready:
            page.wait_for_function(ready)
        found = _unlabelled(page)
        if found:
            problems[path] = found

    check("/signin")
    check("/signup")
    box_job = active_job(str(box_dataset["root"]), box_dataset["gt"])
    tiled_job = active_job(
        str(box_dataset["root"]),
        box_dataset["gt"],
        type="classification",
        labels=["cat", "dog"],
        title="Pets",
    )
    worker = make_user("worker")
    sign_in(page, worker["email"])
    check("/work")
    check(f"/work/jobs/{box_job['id']}", "document.body.dataset.assignmentId > 0")
    check(f"/work/jobs/{tiled_job['id']}", "document.body.dataset.assignmentId > 0")
    screenshot(page, "web_labels_tiled_cat_dog")
    check("/work/earnings")
    check("/work/qa", "document.body.dataset.itemId === 'none'")
    assert page.get_by_role("heading", name="Nothing to review right now").is_visible()
    check("/work/fixes", "document.body.dataset.fixes === '0'")
    assert page.get_by_text("No issues on your work").is_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, box_job["requester"]["email"])
    check("/jobs")
    check("/jobs/new")
    check(f"/jobs/{box_job['id']}", "document.body.dataset.loaded === '1'")
    screenshot(page, "web_requester_job_page")
    page.get_by_role("button", name="Sign out").click()

    reviewer = make_user("reviewer")
    sign_in(page, reviewer["email"])
    check("/review")
    assert not problems, f"form controls without a label: {json.dumps(problems, indent=1)}"


def test_web_requester_creates_a_job_with_field_errors(
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
    assert page.url.endswith("/jobs")
    page.get_by_role("link", name="New job", exact=True).first.click()
    page.wait_for_url("**/jobs/new")

    images = [str(box_dataset["root"] / name) for name in box_dataset["names"]]
    bad_gt = tmp_path / "bad_gt.json"
    bad_gt.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "missing.png", "width": 64, "height": 48}],
                "annotations": [],
                "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
            }
        )
    )
    good_gt = tmp_path / "gt.json"
    good_gt.write_text(json.dumps(box_dataset["gt"]))

    # nothing filled in: the browser-side checks put each message next to its field
    page.get_by_role("button", name="Create job").click()
    assert page.locator("#title-error").is_visible()
    assert page.locator("#gt-error").is_visible()
    assert page.get_by_label("Title").get_attribute("aria-invalid") == "true"

    page.get_by_label("Title").fill("Pets from the browser")
    page.get_by_label("Instructions for workers").fill("Draw a box around every cat and dog.")
    # labels from a COCO file of a tool that lists every category it knows: only the used ones come
    every = copy.deepcopy(box_dataset["gt"])
    every["categories"] += [{"id": 100 + i, "name": f"thing {i}"} for i in range(78)]
    every_gt = tmp_path / "every.json"
    every_gt.write_text(json.dumps(every))
    page.get_by_label("Ground truth").set_input_files(str(every_gt))
    page.get_by_role("button", name="Take the labels from the ground-truth file").click()
    page.wait_for_function("document.getElementById('labels').value !== ''")  # the file is read async
    assert page.get_by_label("Labels").input_value() == "cat\ndog"
    page.get_by_label("Labels").fill("cat\ndog\ncat")
    page.get_by_label("Image files", exact=True).set_input_files(images)
    page.get_by_label("Ground truth").set_input_files(str(good_gt))
    page.get_by_label("Bounty").fill("100")
    page.get_by_text("Quality and assignment settings").click()
    page.get_by_label("Images per assignment", exact=True).fill("2")
    page.get_by_label("Hidden GT images per assignment").fill("1")
    page.get_by_role("button", name="Create job").click()
    page.locator("#labels-error").wait_for()
    assert "unique" in page.locator("#labels-error").inner_text()

    # the server's GT check names the gt field
    page.get_by_label("Labels").fill("cat\ndog")
    page.get_by_label("Ground truth").set_input_files(str(bad_gt))
    page.get_by_role("button", name="Create job").click()
    page.locator("#gt-error").wait_for()
    assert "missing.png" in page.locator("#gt-error").inner_text()
    assert page.locator("#labels-error").is_hidden()
    screenshot(page, "web_requester_create_job_errors")

    page.get_by_label("Ground truth").set_input_files(str(good_gt))
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    page.wait_for_function("document.body.dataset.loaded === '1'")
    assert page.get_by_role("heading", name="Pets from the browser").is_visible()
    assert page.locator("#job-status").inner_text() == "draft"
    # The card rail is off on this server: the form offered the chain rail and its token (6 decimals).
    assert page.get_by_role("button", name="Fund with a wallet").is_visible()
    screenshot(page, "web_requester_job_created")

    job_id = int(page.url.rsplit("/", 1)[1])
    job = client.get(f"/api/jobs/{job_id}", headers=requester["headers"]).json()
    assert (job["rail"], job["currency"], job["bounty_amount"]) == ("chain", "tusd", "100000000")
    assert job["image_count"] == 6 and job["assignment_size"] == 2

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel job").click()
    page.get_by_text("The job is cancelled").wait_for()
    assert client.get(f"/api/jobs/{job_id}", headers=requester["headers"]).json()["status"] == "cancelled"
