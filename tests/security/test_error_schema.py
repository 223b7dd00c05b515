"""The OpenAPI document describes the error bodies the API really sends: one ``ErrorOut`` model on
every route for each status code it can answer with, the 422 of request validation included."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from tests.conftest import UserFactory

METHODS = ("get", "post", "put", "patch", "delete")


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _ref(response: dict[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref: str | None = schema.get("$ref")
    return ref


def _error_validator(document: dict[str, Any]) -> Any:
    schema = {"$ref": "#/components/schemas/ErrorOut", "components": document["components"]}
    return jsonschema_rs.validator_for(schema)


def test_every_error_status_of_every_route_is_documented_as_error_out(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problems = []
    for method, path, op in _operations(document):
        codes = {code for code in op["responses"] if code[0] in "45"}
        for code in codes:
            if _ref(op["responses"][code]) != "#/components/schemas/ErrorOut":
                problems.append(f"{method} {path} {code}: not ErrorOut")
        takes_input = op.get("parameters") or op.get("requestBody")
        if takes_input and "422" not in codes:
            problems.append(f"{method} {path}: takes input but documents no 422")
        if path.startswith("/api/") and not path.startswith("/api/auth/") and "401" not in codes:
            problems.append(f"{method} {path}: signed-in route without 401")
    assert problems == []


def test_error_bodies_match_the_documented_model(client: TestClient, make_user: UserFactory) -> None:
    document = client.get("/openapi.json").json()
    validator = _error_validator(document)
    worker, requester = make_user("worker"), make_user("requester")
    answers = [
        client.get("/api/jobs/abc", headers=requester["headers"]),  # 422 path
        client.get("/api/jobs", params={"limit": 0, "offset": -1}, headers=requester["headers"]),  # 422 query
        client.post("/api/jobs", json={"title": 5}, headers=requester["headers"]),  # 422 body
        client.post(
            "/api/jobs",
            content=b"{not json",
            headers={"Content-Type": "application/json", **requester["headers"]},
        ),
        client.get("/api/me"),  # 401
        client.get("/api/jobs", headers=worker["headers"]),  # 403
        client.get("/api/jobs/12345", headers=requester["headers"]),  # 404
        client.post("/api/assignments/claim", headers=worker["headers"]),  # 409 with a reason
        client.get("/api/no-such-route"),  # 404 from the router
    ]
    assert [r.status_code for r in answers] == [422, 422, 422, 422, 401, 403, 404, 409, 404]
    for r in answers:
        body = r.json()
        assert validator.is_valid(body), (r.request.url, body)
    many = answers[2].json()
    assert many["field"] == many["problems"][0]["field"] and len(many["problems"]) > 3
    assert {p["field"] for p in many["problems"]} >= {"title", "labels", "rail", "bounty_amount"}
    query = answers[1].json()
    assert [p["field"] for p in query["problems"]] == ["limit", "offset"]
    assert query["detail"].startswith("query.limit: ")


@pytest.mark.parametrize("code", ["401", "403", "404", "422"])
def test_the_documented_error_model_is_one_schema(client: TestClient, code: str) -> None:
    document = client.get("/openapi.json").json()
    op = document["paths"]["/api/jobs/{job_id}"]["get"]
    assert _ref(op["responses"][code]) == "#/components/schemas/ErrorOut"
    error_out = document["components"]["schemas"]["ErrorOut"]
    assert set(error_out["required"]) == {"error", "detail"}
    assert {"field", "reason", "problems"} <= set(error_out["properties"])


def test_unreadable_bodies_are_a_documented_400(client: TestClient, make_user: UserFactory) -> None:
    """Found by the fuzzer: a body that is not UTF-8 is a 400 that no route documented."""
    document = client.get("/openapi.json").json()
    for method, path, op in _operations(document):
        if "requestBody" in op:
            assert {"400", "413"} <= set(op["responses"]), (method, path)
    r = client.post(
        "/api/auth/login", content=b"\x02Tb\x17\xff\xfe", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_request"
    assert _error_validator(document).is_valid(r.json())


def test_named_errors_carry_their_reason_and_are_documented(client: TestClient) -> None:
    """A named error answers with its stable ``reason``, and the OpenAPI document lists every named
    error under the status it answers with, on the routes that answer with that status."""
    from marketplace.errors import TileworkError

    body = {"email": "twice@example.org", "password": "a long enough password 1", "role": "worker"}
    assert client.post("/api/auth/register", json=body).status_code == 201
    again = client.post("/api/auth/register", json=body)
    assert again.status_code == 409
    assert (again.json()["error"], again.json()["reason"]) == ("conflict", "email_taken")

    document = client.get("/openapi.json").json()
    submit = document["paths"]["/api/assignments/{assignment_id}/submit"]["post"]["responses"]["409"]
    for reason in ("assignment_expired", "already_submitted", "job_not_active"):
        assert f"`{reason}`" in submit["description"]
    described = " ".join(
        response.get("description", "")
        for _, _, op in _operations(document)
        for response in op["responses"].values()
    )
    assert len(TileworkError.named) >= 20
    assert [r for r in TileworkError.named if f"`{r}`" not in described] == []
