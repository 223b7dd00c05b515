"""A requester creates a card-rail job in the browser and funds it through the clearly marked test-card
path against localstripe (the card rail in emulator mode); localstripe's signed webhook opens the job and
the job page shows it active. A second test stands Stripe.js in for js.stripe.com (no network here) to
check the Payment Element path: loaded at runtime, mounted with the client secret, confirmed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marketplace.config import Settings
from marketplace.payments.rails import Rails
from tests.payments.paytools import emulator_rails, emulator_settings, localstripe_url  # noqa: F401
from tests.web.conftest import LiveServer, fill_new_job_form, screenshot, sign_in


@pytest.fixture
def live_server(settings: Settings, emulator_rails: Rails, localstripe_url: str) -> Iterator[LiveServer]:  # noqa: F811
    """The job pages served by a deployment whose card rail is the local Stripe emulator."""
    server = LiveServer(settings.model_copy(update=emulator_settings(localstripe_url))).start()
    try:
        yield server
    finally:
        server.stop()


def _create_card_job(page: Any, box_dataset: dict[str, Any], tmp_path: Path, title: str) -> int:
    # dollars in the form, cents in the API
    fill_new_job_form(page, box_dataset, tmp_path, title=title, rail="card", bounty="100")
    assert page.get_by_label("Currency").input_value() == "usd"
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    page.wait_for_function("document.body.dataset.loaded === '1'")
    assert page.locator("#job-status").inner_text() == "draft"
    return int(page.url.rsplit("/", 1)[1])


def test_web_requester_funds_a_card_job_with_the_test_card(
    browser_page: Any, make_user: Any, box_dataset: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    page = browser_page
    stripe_js: list[str] = []
    page.on("request", lambda req: stripe_js.append(req.url) if "js.stripe.com" in req.url else None)
    sign_in(page, make_user("requester")["email"])
    _create_card_job(page, box_dataset, tmp_path, "Pets paid by card")

    # emulator mode: no Payment Element, a clearly marked test-card path instead
    assert page.get_by_role("button", name="Pay by card").is_hidden()
    marked = page.locator("#card-test")
    assert "Test mode" in marked.inner_text() and "4242 4242 4242 4242" in marked.inner_text()
    screenshot(page, "web_requester_card_test_mode")
    page.get_by_role("button", name="Test mode: pay with the test card 4242 4242 4242 4242").click()
    page.get_by_text("waiting for the emulator's signed webhook").wait_for()

    # the page polls until localstripe's signed payment_intent.succeeded webhook has opened the job
    page.wait_for_function("document.getElementById('job-status').textContent === 'active'", timeout=20_000)
    assert page.locator("#funding").is_hidden()
    page.get_by_text("Payment received: the job is open for work.").wait_for()
    page.wait_for_function("document.getElementById('money').textContent.includes('$100.00')")
    screenshot(page, "web_requester_card_job_active")
    assert not stripe_js  # Stripe.js is never loaded against the emulator


FAKE_STRIPE_JS = """
window.__stripe = { calls: [] };
window.Stripe = function (key) {
  window.__stripe.calls.push(["Stripe", key]);
  return {
    elements(opts) {
      window.__stripe.calls.push(["elements", opts.clientSecret]);
      return { create(kind) {
        window.__stripe.calls.push(["create", kind]);
        return { mount(sel) {
          window.__stripe.calls.push(["mount", sel]);
          const input = document.createElement("input");
          input.setAttribute("aria-label", "Card number");
          document.querySelector(sel).append(input);
        } };
      } };
    },
    async confirmPayment(opts) {
      window.__stripe.calls.push(["confirmPayment", opts.redirect, opts.confirmParams.return_url]);
      return { paymentIntent: { status: "succeeded" } };
    },
  };
};
"""


def test_web_card_payment_element_loads_stripe_js_at_runtime(
    browser_page: Any,
    make_user: Any,
    box_dataset: dict[str, Any],
    live_server: LiveServer,
    emulator_rails: Rails,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Real Stripe mode (publishable key, Stripe's API base): js.stripe.com is requested by a script tag
    at runtime; here the request is answered by a stand-in, as the test machine has no network."""
    import httpx

    page = browser_page
    server_settings = live_server.settings
    server_settings.stripe_api_base = None  # the page now takes this deployment for real Stripe
    server_settings.stripe_publishable_key = "pk_test_tilework"
    page.route(
        "https://js.stripe.com/v3/",
        lambda route: route.fulfill(status=200, content_type="application/javascript", body=FAKE_STRIPE_JS),
    )
    requester = make_user("requester")
    sign_in(page, requester["email"])
    job_id = _create_card_job(page, box_dataset, tmp_path, "Pets paid with Stripe")
    assert page.locator("#card-test").is_hidden()
    page.get_by_role("button", name="Pay by card").click()
    page.locator("#payment-element input").wait_for()
    calls = page.evaluate("window.__stripe.calls")
    # the client secret handed to Stripe.js is the one of the job's PaymentIntent (created on localstripe)
    secret = httpx.post(f"{live_server.url}/api/jobs/{job_id}/fund", headers=requester["headers"]).json()[
        "client_secret"
    ]
    assert calls[:4] == [
        ["Stripe", "pk_test_tilework"],
        ["elements", secret],
        ["create", "payment"],
        ["mount", "#payment-element"],
    ]
    assert page.evaluate("[...document.scripts].some((s) => s.src === 'https://js.stripe.com/v3/')")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.get_by_text("the job opens as soon as Stripe confirms it").wait_for()
    screenshot(page, "web_requester_card_payment_element")
    confirm = page.evaluate("window.__stripe.calls")[4]
    assert confirm == ["confirmPayment", "if_required", f"{live_server.url}/jobs/{job_id}?paid=card"]
    assert page.locator("#job-status").inner_text() == "awaiting funds"  # only the webhook opens it
