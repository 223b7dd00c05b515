"""A small HTTP client for the demo's requester and simulated workers (the real API, nothing else)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status_code = status
        self.body = body


@dataclass
class ApiClient:
    base_url: str
    token: str | None = None
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=60)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        for _ in range(5):  # a 429 (login limits, busy password hashing) says when to come back
            r = self.http.request(method, path, headers=self._headers(), **kwargs)
            if r.status_code != 429:
                break
            time.sleep(min(5.0, float(r.headers.get("retry-after", "1"))))
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.content
        if r.status_code >= 400:
            raise ApiError(r.status_code, body)
        return body

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def fetch(self, url: str) -> bytes:
        r = self.http.get(url, headers=self._headers())
        r.raise_for_status()
        return r.content

    def sign_up(self, email: str, password: str, role: str) -> None:
        self.post("/api/auth/register", json={"email": email, "password": password, "role": role})
        self.token = self.post("/api/auth/login", json={"email": email, "password": password})["token"]

    def close(self) -> None:
        self.http.close()
