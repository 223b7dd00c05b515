"""Every response carries the security headers; pages send a CSP that their own scripts (and Stripe.js
on the job page) live within; HSTS only in production (issue 11, low items)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from marketplace.app import create_app
from marketplace.config import Settings
from tests.conftest import job_body
from tests.web.conftest import sign_in


def csp_directives(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_pages_and_api_send_security_headers(client: TestClient, make_user: Any) -> None:
    for path in ("/signin", "/api/me", "/health", "/static/js/jobs.js", "/no-such-page"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["referrer-policy"] == "same-origin", path
        csp = csp_directives(r.headers["content-security-policy"])
        assert csp["frame-ancestors"] == ["'none'"], path
        assert "strict-transport-security" not in r.headers, path  # not production
    csp = csp_directives(client.get("/signin").headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "https://js.stripe.com" in csp["script-src"]  # the job page's Payment Element
    assert "https://js.stripe.com" in csp["frame-src"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]


def test_docs_keep_working_under_their_own_policy(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    csp = csp_directives(r.headers["content-security-policy"])
    assert "https://cdn.jsdelivr.net" in csp["script-src"]
    assert csp["frame-ancestors"] == ["'none'"]


def test_hsts_in_production(migrated_pg: str, tmp_path: Any) -> None:
    settings = Settings(
        environment="production",
        home=tmp_path / "home",
        database_url=migrated_pg,
        secret_key="production-secret-key-that-is-long-enough",
    )
    with TestClient(create_app(settings)) as c:
        r = c.get("/health")
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert "includeSubDomains" in r.headers["strict-transport-security"]


def test_pages_run_without_csp_violations(
    strict_page: Any, make_user: Any, client: TestClient, box_dataset: dict[str, Any]
) -> None:
    violations: list[str] = []
    strict_page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    requester = make_user("requester")
    job = client.post(
        "/api/jobs", json=job_body(str(box_dataset["root"]), box_dataset["gt"]), headers=requester["headers"]
    ).json()
    sign_in(strict_page, requester["email"])
    strict_page.wait_for_url("**/jobs")
    for path in ("/jobs/new", f"/jobs/{job['id']}"):
        strict_page.goto(path)
        strict_page.wait_for_load_state("networkidle")
    worker = make_user("worker")
    strict_page.context.clear_cookies()
    sign_in(strict_page, worker["email"])
    strict_page.wait_for_url("**/work")
    for path in ("/work/earnings", "/work/qa", "/work/fixes"):
        strict_page.goto(path)
        strict_page.wait_for_load_state("networkidle")
    assert not violations, violations
