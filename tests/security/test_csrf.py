"""Cookie sessions cannot be ridden from another site: SameSite cookies, an Origin (or Referer) check on
state changes, and a CSRF token wherever the cookie authenticates. Bearer-token calls are unaffected
(issue 11, item 8)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from marketplace.app import create_app
from marketplace.config import Settings
from tests.conftest import job_body
from tests.web.conftest import sign_in

SELF = "http://testserver"
EVIL = "https://evil.example"


def browser_sign_in(client: TestClient, email: str) -> str:
    """Sign in through the form the way a browser does; returns the CSRF token of the session."""
    client.get("/signin")
    token = client.cookies["tw_csrf"]
    r = client.post(
        "/signin",
        data={"email": email, "password": "correct horse 1", "csrf_token": token},
        headers={"Origin": SELF},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert client.cookies.get("tw_token")
    return token


def draft_job(client: TestClient, requester: dict[str, Any], box_dataset: dict[str, Any]) -> int:
    r = client.post(
        "/api/jobs", json=job_body(str(box_dataset["root"]), box_dataset["gt"]), headers=requester["headers"]
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_cross_origin_cancel_is_refused(
    client: TestClient, make_user: Any, box_dataset: dict[str, Any]
) -> None:
    requester = make_user("requester")
    job_id = draft_job(client, requester, box_dataset)
    token = browser_sign_in(client, requester["email"])
    cancel = f"/api/jobs/{job_id}/cancel"

    r = client.post(cancel, headers={"Origin": EVIL, "X-CSRF-Token": token})
    assert r.status_code == 403 and r.json()["error"] == "cross_origin_refused", r.text
    r = client.post(cancel, headers={"Referer": f"{EVIL}/page"})
    assert r.status_code == 403 and r.json()["error"] == "cross_origin_refused"
    r = client.post(cancel)  # no Origin, no Referer: a cookie alone never changes anything
    assert r.status_code == 403 and r.json()["error"] == "cross_origin_refused"
    r = client.post(cancel, headers={"Origin": SELF})  # same origin, but no token
    assert r.status_code == 403 and r.json()["error"] == "csrf_token_invalid"
    r = client.post(cancel, headers={"Origin": SELF, "X-CSRF-Token": "forged"})
    assert r.status_code == 403 and r.json()["error"] == "csrf_token_invalid"
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "draft"

    r = client.post(cancel, headers={"Origin": SELF, "X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


def test_referer_is_accepted_when_origin_is_absent(
    client: TestClient, make_user: Any, box_dataset: dict[str, Any]
) -> None:
    requester = make_user("requester")
    job_id = draft_job(client, requester, box_dataset)
    token = browser_sign_in(client, requester["email"])
    r = client.post(
        f"/api/jobs/{job_id}/cancel", headers={"Referer": f"{SELF}/jobs/{job_id}", "X-CSRF-Token": token}
    )
    assert r.status_code == 200, r.text


def test_bearer_calls_are_not_affected(
    client: TestClient, make_user: Any, box_dataset: dict[str, Any]
) -> None:
    requester = make_user("requester")
    job_id = draft_job(client, requester, box_dataset)
    r = client.post(f"/api/jobs/{job_id}/cancel", headers={**requester["headers"], "Origin": EVIL})
    assert r.status_code == 200, r.text


def test_login_csrf_is_refused(client: TestClient, make_user: Any) -> None:
    """An attacker's page cannot sign the victim's browser into the attacker's account."""
    attacker = make_user("worker")
    form = {"email": attacker["email"], "password": "correct horse 1"}
    r = client.post("/signin", data=form, headers={"Origin": EVIL}, follow_redirects=False)
    assert r.status_code == 403 and "tw_token" not in client.cookies
    r = client.post("/signin", data=form, headers={"Origin": SELF}, follow_redirects=False)
    assert r.status_code == 403 and "tw_token" not in client.cookies  # no token from our page
    client.get("/signin")
    r = client.post(
        "/signin",
        data={**form, "csrf_token": "attacker-chosen"},
        headers={"Origin": SELF},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "tw_token" not in client.cookies
    r = client.post(
        "/signup",
        data={"email": "new@example.org", "password": "correct horse 1", "role": "worker"},
        headers={"Origin": EVIL},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_signout_needs_the_token(client: TestClient, make_user: Any) -> None:
    user = make_user("worker")
    token = browser_sign_in(client, user["email"])
    r = client.post("/signout", headers={"Origin": EVIL}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/signout", data={"csrf_token": token}, headers={"Origin": SELF}, follow_redirects=False)
    assert r.status_code == 303


def test_cookie_flags(settings: Settings, make_user: Any, migrated_pg: str, tmp_path: Any) -> None:
    user = make_user("worker")
    with TestClient(create_app(settings)) as c:
        page = c.get("/signin")
        assert "samesite=strict" in page.headers["set-cookie"].lower()
        assert 'name="csrf_token"' in page.text and 'name="csrf-token"' in page.text
        token = c.cookies["tw_csrf"]
        r = c.post(
            "/signin",
            data={"email": user["email"], "password": "correct horse 1", "csrf_token": token},
            headers={"Origin": SELF},
            follow_redirects=False,
        )
        cookie = r.headers["set-cookie"].lower()
        assert "samesite=lax" in cookie and "httponly" in cookie and "secure" not in cookie
    prod = settings.model_copy(update={"environment": "production"})
    with TestClient(create_app(prod), base_url="https://tilework.example") as c:
        page = c.get("/signin")
        assert "secure" in page.headers["set-cookie"].lower()
        r = c.post(
            "/signin",
            data={"email": user["email"], "password": "correct horse 1", "csrf_token": c.cookies["tw_csrf"]},
            headers={"Origin": "https://tilework.example"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert "secure" in r.headers["set-cookie"].lower()


def test_same_origin_page_flow_in_the_browser(
    strict_page: Any, make_user: Any, client: TestClient, box_dataset: dict[str, Any]
) -> None:
    """The pages send the token: a requester signs in and cancels a draft job from its page."""
    requester = make_user("requester")
    job_id = draft_job(client, requester, box_dataset)
    sign_in(strict_page, requester["email"])
    strict_page.wait_for_url("**/jobs")
    strict_page.goto(f"/jobs/{job_id}")
    strict_page.once("dialog", lambda dialog: dialog.accept())
    strict_page.locator("#cancel-job").click()
    strict_page.get_by_text("The job is cancelled").wait_for()
    assert client.get(f"/api/jobs/{job_id}", headers=requester["headers"]).json()["status"] == "cancelled"
