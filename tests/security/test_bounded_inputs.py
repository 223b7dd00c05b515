"""Hostile numbers, paths and text get a 4xx naming the field, never a 500 (issue 11, item 9 and the
low items on names, NUL bytes, ``~user`` paths, bounties and JSON ``true``)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from marketplace.app import create_app
from marketplace.config import Settings
from tests.conftest import UserFactory, job_body
from tests.quality_db.conftest import QualityJobFactory

HUGE = 99999999999999999999999999
# Every route with an id in its path: (method, path with {id}, role that may call it, parameter).
ID_ROUTES = [
    ("GET", "/api/jobs/{id}", "requester", "job_id"),
    ("POST", "/api/jobs/{id}/cancel", "requester", "job_id"),
    ("POST", "/api/jobs/{id}/fund", "requester", "job_id"),
    ("POST", "/api/jobs/{id}/fund/test-card", "requester", "job_id"),
    ("GET", "/api/jobs/{id}/books", "requester", "job_id"),
    ("GET", "/api/jobs/{id}/progress", "requester", "job_id"),
    ("GET", "/api/jobs/{id}/submissions", "requester", "job_id"),
    ("GET", "/api/jobs/{id}/results", "requester", "job_id"),
    ("GET", "/api/jobs/{id}/results/summary.json", "requester", "job_id"),
    ("GET", "/api/jobs/{id}/quality", "requester", "job_id"),
    ("POST", "/api/jobs/{id}/assignments/claim", "worker", "job_id"),
    ("GET", "/api/assignments/{id}", "worker", "assignment_id"),
    ("POST", "/api/assignments/{id}/submit", "worker", "assignment_id"),
    ("GET", "/api/assignments/{id}/quality", "worker", "assignment_id"),
    ("POST", "/api/assignments/{id}/appeal", "worker", "assignment_id"),
    ("GET", "/api/reviews/disputes/{id}", "reviewer", "dispute_id"),
    ("POST", "/api/reviews/disputes/{id}/decide", "reviewer", "dispute_id"),
    ("DELETE", "/api/auth/tokens/{id}", "requester", "token_id"),
]
BODIES = {
    "/api/assignments/{id}/submit": {"items": [{"item_id": "x", "annotations": []}]},
    "/api/assignments/{id}/appeal": {"comment": "please"},
    "/api/reviews/disputes/{id}/decide": {"action": "uphold"},
}


def _assert_422(r: Any, field: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_input" and body["field"] == field, body


@pytest.mark.parametrize("value", [HUGE, 2**63, 2**31, 0, -1])
def test_ids_out_of_range_are_422_naming_the_parameter(
    client: TestClient, make_user: UserFactory, value: int
) -> None:
    users = {role: make_user(role) for role in ("requester", "worker", "reviewer")}
    for method, path, role, param in ID_ROUTES:
        r = client.request(
            method, path.format(id=value), headers=users[role]["headers"], json=BODIES.get(path)
        )
        assert r.status_code == 422, (method, path, r.status_code, r.text)
        assert r.json()["field"] == param, (path, r.json())


def test_largest_id_is_a_plain_not_found(client: TestClient, make_user: UserFactory) -> None:
    requester = make_user("requester")
    r = client.get(f"/api/jobs/{2**31 - 1}", headers=requester["headers"])
    assert r.status_code == 404, r.text


@pytest.mark.parametrize(
    ("path", "role", "query", "field"),
    [
        ("/api/jobs", "requester", {"offset": 2**63}, "offset"),
        ("/api/jobs", "requester", {"limit": HUGE}, "limit"),
        ("/api/jobs", "requester", {"offset": -1}, "offset"),
        ("/api/assignments/mine", "worker", {"offset": HUGE}, "offset"),
        ("/api/reviews/disputes", "reviewer", {"job_id": 2**40}, "job_id"),
        ("/api/reviews/disputes", "reviewer", {"job_id": HUGE}, "job_id"),
        ("/api/reviews/disputes", "reviewer", {"offset": 2**63}, "offset"),
    ],
)
def test_paging_and_filters_out_of_range(
    client: TestClient, make_user: UserFactory, path: str, role: str, query: dict[str, int], field: str
) -> None:
    _assert_422(client.get(path, params=query, headers=make_user(role)["headers"]), field)


# -- the dropped connection ------------------------------------------------------------------------


@pytest.fixture
def live_server(settings: Settings) -> Iterator[tuple[str, int]]:
    """The app on a real socket (uvicorn in a thread), with one route that fails unexpectedly."""
    app = create_app(settings)

    @app.get("/test-only/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("an unexpected failure")

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(10)


def test_keep_alive_connection_survives_hostile_ids_and_failures(
    live_server: tuple[str, int], make_user: UserFactory
) -> None:
    """``GET /api/jobs/-1`` was dropped because it came right after a 500 on the same keep-alive
    connection: uvicorn closes the connection when the app raises after Starlette's 500 went out."""
    headers = make_user("requester")["headers"]
    conn = http.client.HTTPConnection(*live_server, timeout=10)
    answers = []
    for path in ["/api/jobs/99999999999999999999999999", "/api/jobs/-1", "/test-only/boom", "/api/jobs/-1"]:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        answers.append((r.status, json.loads(r.read())))
    conn.close()
    assert [status for status, _ in answers] == [422, 422, 500, 422]
    assert answers[2][1] == {"error": "internal_error", "detail": "the server failed on this request"}
    assert answers[0][1]["field"] == answers[1][1]["field"] == "job_id"


# -- money -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rail", "bounty", "message"),
    [
        ("chain", 10**78, "2**256 - 1"),
        ("chain", 2**256, "2**256 - 1"),
        ("chain", str(2**256), "2**256 - 1"),
        ("card", 10**78, "2**256 - 1"),
        ("card", 100_000_000, "at most 99999999"),
        ("chain", True, "valid integer"),
        ("chain", 5000.0, "never a fraction"),
        ("chain", "12abc", "decimal digits"),
    ],
)
def test_bounty_must_fit_the_ledger_the_token_and_the_rail(
    client: TestClient,
    make_user: UserFactory,
    box_dataset: dict[str, Any],
    rail: str,
    bounty: Any,
    message: str,
) -> None:
    body = job_body(str(box_dataset["root"]), box_dataset["gt"], rail=rail, bounty_amount=bounty)
    r = client.post("/api/jobs", json=body, headers=make_user("requester")["headers"])
    _assert_422(r, "bounty_amount")
    assert message in r.json()["detail"]


def test_largest_token_bounty_is_stored_exactly(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    body = job_body(str(box_dataset["root"]), box_dataset["gt"], rail="chain", bounty_amount=str(2**256 - 1))
    r = client.post("/api/jobs", json=body, headers=make_user("requester")["headers"])
    assert r.status_code == 201, r.text
    assert r.json()["bounty_amount"] == str(2**256 - 1)


@pytest.mark.parametrize("field", ["assignment_size", "overlap", "max_attempts", "time_limit_s"])
def test_json_true_is_not_a_count(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any], field: str
) -> None:
    body = job_body(str(box_dataset["root"]), box_dataset["gt"], **{field: True})
    _assert_422(client.post("/api/jobs", json=body, headers=make_user("requester")["headers"]), field)


def test_json_true_is_not_an_id_or_a_lifetime(client: TestClient, make_user: UserFactory) -> None:
    reviewer = make_user("reviewer")
    for key in ("worker_id", "assignment_id", "image_id"):
        r = client.post(
            "/api/reviews/disputes/1/decide",
            json={"action": "ban_worker", key: True},
            headers=reviewer["headers"],
        )
        _assert_422(r, key)
    r = client.post("/api/auth/tokens", json={"ttl_days": True}, headers=reviewer["headers"])
    _assert_422(r, "ttl_days")


# -- text and paths --------------------------------------------------------------------------------


def _raw_json(
    client: TestClient, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    """Send JSON with \\u escapes (lone surrogates cannot be encoded as UTF-8 by the client)."""
    return client.post(
        path, content=json.dumps(body), headers={"Content-Type": "application/json", **(headers or {})}
    )


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
def test_unstorable_text_in_any_body_is_422(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any], bad: str
) -> None:
    requester = make_user("requester")
    root, gt = str(box_dataset["root"]), box_dataset["gt"]
    for field, overrides in [
        ("title", {"title": bad}),
        ("currency", {"currency": bad}),
        ("description", {"description": bad}),
        ("labels", {"labels": ["cat", bad]}),
        ("gt", {"gt": {**gt, "info": {"note": bad}}}),
        ("data_uri", {"data_uri": root + "/" + bad}),
    ]:
        r = _raw_json(client, "/api/jobs", {**job_body(root, gt), **overrides}, requester["headers"])
        assert r.status_code == 422, (field, r.text)
        assert r.json()["field"].split(".")[0] == field, r.json()
    register = {"email": "someone@example.org", "password": "correct horse 1", "role": "worker"}
    for field in ("email", "display_name", "password"):
        _assert_422(_raw_json(client, "/api/auth/register", {**register, field: bad}), field)
    _assert_422(_raw_json(client, "/api/auth/login", {"email": bad, "password": "x"}), "email")
    _assert_422(_raw_json(client, "/api/auth/tokens", {"name": bad}, requester["headers"]), "name")


def test_nul_tilde_and_long_names_in_paths(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any], quality_job: QualityJobFactory
) -> None:
    requester = make_user("requester")
    root, gt = str(box_dataset["root"]), box_dataset["gt"]
    for uri in ["~nosuchuser/images", "~root", "~", root + "/" + "a" * 300, "s3://Not_A_Bucket/x"]:
        r = client.post("/api/jobs", json=job_body(uri, gt), headers=requester["headers"])
        _assert_422(r, "data_uri")
    job = quality_job("boxes", requester=requester)
    for name in ["a%00b", "a" * 300, "~user", "%7Eroot", "a%2Fb"]:
        r = client.get(f"/api/jobs/{job['id']}/results/{name}", headers=requester["headers"])
        assert r.status_code in (404, 422), (name, r.text)
        if r.status_code == 422:
            assert r.json()["field"] == "name"
    r = client.get(f"/api/jobs/{job['id']}/results/{'a' * 300}", headers=requester["headers"])
    _assert_422(r, "name")
    r = client.get(f"/api/jobs/{job['id']}/results/a%00b", headers=requester["headers"])
    _assert_422(r, "name")


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body built by hand: clients percent-escape control characters in file names."""
    boundary = "tileworkboundary7d3f"
    out = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("name", ["a" * 300 + ".png", "nul\x00.png"])
def test_uploaded_file_names_that_no_file_system_takes(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any], name: str
) -> None:
    spec = job_body("unused", {})
    del spec["data_uri"], spec["gt"]
    root = box_dataset["root"]
    body, content_type = _multipart(
        [
            ("spec", None, json.dumps(spec).encode()),
            ("gt", "gt.json", json.dumps(box_dataset["gt"]).encode()),
            ("images", name, (root / box_dataset["names"][2]).read_bytes()),
            *[("images", n, (root / n).read_bytes()) for n in box_dataset["names"]],
        ]
    )
    r = client.post(
        "/api/jobs/upload", content=body, headers={"Content-Type": content_type, **make_user()["headers"]}
    )
    _assert_422(r, "images")


def test_label_longer_than_the_label_column(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    gt = json.loads(json.dumps(box_dataset["gt"]))
    gt["categories"][0]["name"] = "c" * 300
    body = job_body(str(box_dataset["root"]), gt, labels=["c" * 300, "dog"])
    r = client.post("/api/jobs", json=body, headers=make_user("requester")["headers"])
    _assert_422(r, "labels.0")


def test_gt_file_with_nul_text_is_refused_like_a_json_body(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    spec = job_body("unused", {})
    del spec["data_uri"], spec["gt"]
    gt = {**box_dataset["gt"], "info": {"description": "pets\x00"}}
    files = [
        ("gt", ("gt.json", json.dumps(gt).encode(), "application/json")),
        *[("images", (n, (box_dataset["root"] / n).read_bytes(), "image/png")) for n in box_dataset["names"]],
    ]
    r = client.post(
        "/api/jobs/upload", data={"spec": json.dumps(spec)}, files=files, headers=make_user()["headers"]
    )
    _assert_422(r, "gt")


def test_pages_refuse_hostile_ids_and_text_too(client: TestClient, make_user: UserFactory) -> None:
    requester, worker = make_user("requester"), make_user("worker")
    for path, user in [
        (f"/jobs/{HUGE}", requester),
        (f"/web/jobs/{HUGE}/scores.json", requester),
        (f"/work/jobs/{HUGE}", worker),
        (f"/jobs/{2**31}", requester),
    ]:
        r = client.get(path, headers=user["headers"], follow_redirects=False)
        assert r.status_code == 422, (path, r.status_code, r.text[:300])
    client.get("/signin")  # the form's CSRF token, posted from the page's own origin as a browser does
    form = {"csrf_token": client.cookies["tw_csrf"], "email": "a\x00@example.org", "password": "x"}
    r = client.post("/signin", data=form, headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 422 and "Enter your email and password" in r.text
