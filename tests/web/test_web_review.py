"""A worker appeals a rejected assignment from the earnings page; a reviewer finds it in the queue,
sees the worker's boxes against the GT with the conflicts listed, overturns it; the worker's earnings
page then shows the assignment accepted and paid for."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, my_status, submit_ok
from tests.web.conftest import screenshot, sign_in, sign_out


def test_web_reviewer_overturns_an_appealed_rejection(
    browser_page: Any, client: TestClient, quality_job: QualityJobFactory, make_user: Any, settings: Settings
) -> None:
    job = quality_job("boxes", data=4, gt=2, assignment_size=2, gt_per_assignment=1, title="Pets to review")
    worker, reviewer = make_user("worker"), make_user("reviewer")
    body = claim_ok(client, worker, job["id"])
    aid = body["assignment_id"]
    submit_ok(client, worker, aid, answer_all(settings, body, on_gt=lambda objects: []))
    assert my_status(client, worker, aid)["status"] == "rejected"

    # the worker appeals from the earnings page, once, with a comment; score vs target is shown
    page = browser_page
    sign_in(page, worker["email"])
    page.goto("/work/earnings")
    row = page.locator(f"tr[data-assignment-id='{aid}']")
    row.get_by_text("rejected").wait_for()
    assert row.locator("td.below").inner_text() == "0.0%"  # the score, below the 80% target
    row.get_by_role("button", name=f"Appeal assignment #{aid}").click()
    page.get_by_text("Your score:").wait_for()
    assert "target: 80.0%" in page.locator(f"#appeal-score-{aid}").inner_text()
    page.get_by_role("button", name="Send appeal").click()
    assert page.locator(f"#appeal-comment-{aid}").get_attribute("aria-invalid") == "true"
    page.get_by_label(f"Why should assignment #{aid} be accepted?").fill("The cat hides behind the sofa.")
    page.get_by_role("button", name="Send appeal").click()
    row.get_by_text("Appeal sent: waiting for a reviewer").wait_for()
    assert row.get_by_role("button", name=f"Appeal assignment #{aid}").count() == 0
    screenshot(page, "web_worker_appeal_sent")
    sign_out(page)

    # the reviewer: the queue filtered to appeals, the side-by-side view, the conflicts, the decision
    sign_in(page, reviewer["email"])
    assert page.url.endswith("/review")
    page.get_by_label("Kind").select_option("appeal")
    item = page.locator("button.queue-item").filter(has_text="The cat hides behind the sofa.")
    item.wait_for()
    dispute_id = item.get_attribute("data-dispute-id")
    item.click()
    page.wait_for_function(f"document.body.dataset.disputeLoaded === '{dispute_id}'")
    detail = page.locator("#detail")
    assert detail.get_by_role("heading", name="Dispute").first.is_visible()
    assert detail.locator(f"section.assignment[data-assignment-id='{aid}']").is_visible()
    assert detail.locator("figure.panel").filter(has_text="Ground truth").count() == 1
    # the GT box; the worker drew none
    assert detail.locator("figure.panel svg.overlay rect.obj").count() == 1
    conflict = detail.locator("ul.conflicts li").first
    assert "Missing" in conflict.inner_text() and "cat" in conflict.inner_text()
    history = detail.locator("table.history")
    assert "opened" in history.inner_text() and worker["email"] in history.inner_text()
    page.get_by_role("radio", name="Overturn").check()
    page.get_by_label("Comment (recorded with your decision)").fill("Occluded: the empty answer is fair.")
    screenshot(page, "web_reviewer_dispute_detail")
    page.get_by_role("button", name="Record decision").click()
    summary = page.locator("#decision-summary")
    summary.wait_for()
    assert "Overturn" in summary.inner_text() and reviewer["email"] in summary.inner_text()
    assert "decided: overturn" in history.inner_text() and "Occluded" in history.inner_text()
    page.locator("#queue").get_by_text("Nothing here").wait_for()  # the open-appeals queue is empty now
    screenshot(page, "web_reviewer_overturned")
    sign_out(page)

    # the worker sees the assignment accepted, the appeal's outcome and the money earned
    sign_in(page, worker["email"])
    page.goto("/work/earnings")
    row = page.locator(f"tr[data-assignment-id='{aid}']")
    row.get_by_text("Appeal accepted: the assignment was overturned").wait_for()
    assert row.locator(".status").inner_text() == "accepted"
    assert "$" in row.locator("td").nth(5).inner_text()
    assert page.locator("#totals .stat").first.locator(".v").inner_text() != "0"
    screenshot(page, "web_worker_earnings_after_overturn")
    assert my_status(client, worker, aid)["status"] == "accepted"
