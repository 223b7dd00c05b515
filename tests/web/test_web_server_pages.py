"""The page routes without a browser: escaping, redirects, the session cookie, role checks, assets."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from jinja2 import UndefinedError

from marketplace.web.pages import _safe_next
from marketplace.web.render import environment, render


def test_web_render_escapes_by_default() -> None:
    template = environment().from_string("<p>{{ a }}</p>{{ b }}")
    inner = render("message.html", heading="<i>", message="m", action_href="/x?a=1&b=2", action_text="go")
    out = template.render(a="<script>x</script>", b=inner)
    assert out.startswith("<p>&lt;script&gt;x&lt;/script&gt;</p><section")  # a rendered page is kept as is
    assert "<h1>&lt;i&gt;</h1>" in out and 'href="/x?a=1&amp;b=2"' in out  # its own values escaped
    with pytest.raises(UndefinedError):
        environment().from_string("{{ missing }}").render()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/work", "/work"),
        ("//evil.example", None),
        ("/\\evil", None),
        ("https://evil.example", None),
        ("", None),
    ],
)
def test_web_next_only_same_site(target: str, expected: str | None) -> None:
    assert _safe_next(target) == expected


def test_web_signin_sets_cookie_and_role_pages(client: TestClient, make_user: Any) -> None:
    worker = make_user("worker")
    page = client.get("/work", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=/work"

    # the forms post the page's CSRF token, from the page's own origin (what a browser sends)
    client.get("/signin")
    form = {"csrf_token": client.cookies["tw_csrf"]}
    same_origin = {"Origin": "http://testserver"}
    bad = client.post(
        "/signin", data={**form, "email": worker["email"], "password": "nope nope"}, headers=same_origin
    )
    assert bad.status_code == 401 and "wrong email or password" in bad.text

    ok = client.post(
        "/signin",
        data={**form, "email": worker["email"], "password": "correct horse 1", "next": "//evil.example"},
        headers=same_origin,
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/work"
    cookie = ok.headers["set-cookie"]
    assert "tw_token=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/api/me").json()["role"] == "worker"  # the cookie authenticates the API
    assert client.get("/work").status_code == 200
    denied = client.get("/jobs/new")
    assert denied.status_code == 403 and "for requester accounts" in denied.text

    out = client.post("/signout", data=form, headers=same_origin, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()
    # the token is revoked, not only forgotten by the browser
    assert (
        client.get(
            "/api/me", headers={"Cookie": f"tw_token={cookie.split(';')[0].split('=', 1)[1]}"}
        ).status_code
        == 401
    )


def test_web_static_assets_are_served(client: TestClient) -> None:
    signin = client.get("/signin")
    assert signin.status_code == 200 and "/static/css/app.css?v=" in signin.text
    for path in ("/static/css/app.css", "/static/js/annotate.js", "/static/js/job.js"):
        assert client.get(path).status_code == 200, path


def test_web_scores_endpoint_is_not_for_workers(client: TestClient, make_user: Any) -> None:
    worker = make_user("worker")
    response = client.get("/web/jobs/1/scores.json", headers=worker["headers"])
    assert response.status_code == 403


def test_the_money_each_rail_takes_reaches_the_api_and_every_page(
    client: TestClient, make_user: Any, rails: Any
) -> None:
    """Amounts are integers of base units; pages and clients learn each currency's decimals here."""
    user = make_user("worker")
    listed = client.get("/api/payments/currencies", headers=user["headers"]).json()
    by_code = {c["code"]: c for c in listed}
    assert by_code["tusd"] | {"address": None} == {
        "code": "tusd", "symbol": "tUSD", "decimals": 6, "rail": "chain", "enabled": True, "address": None,
    }  # fmt: skip
    assert by_code["usd"]["decimals"] == 2 and by_code["usd"]["rail"] == "card"
    client.cookies.set("tw_token", user["token"])
    page = client.get("/work/earnings")
    assert '&#34;tusd&#34;: {&#34;symbol&#34;: &#34;tUSD&#34;, &#34;decimals&#34;: 6' in page.text
