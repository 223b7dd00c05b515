"""The simulated crowd of the load benchmark, made to survive faults.

The worker profiles, their answers and the scenes come from :mod:`marketplace.demo`; what is added
here is a client that retries on connection errors and 5xx with backoff (a submission is resent with
the same body, which the API treats as a replay), workers that move between two jobs, and a reviewer
that keeps working the dispute queue through the faults.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from marketplace.demo.crowd import Profile, answer_boxes, interactions
from marketplace.demo.run import REVIEW_POLICY
from marketplace.demo.scenes import Scene

PASSWORD = "load-password-123"
RETRYABLE = (httpx.TransportError, httpx.TimeoutException)


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") if isinstance(self.body, dict) else None


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    submitted: set[int] = field(default_factory=set)  # assignment ids the API acknowledged
    claim_latency_s: list[float] = field(default_factory=list)
    claim_latency_by_id: dict[int, float] = field(default_factory=dict)  # assignment id → seconds
    timings: dict[str, list[float]] = field(default_factory=dict)  # op → seconds

    def timed(self, op: str, seconds: float) -> None:
        with self.lock:
            self.timings.setdefault(op, []).append(seconds)

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n


class Client:
    """Bearer-token JSON client; retries transport errors and 5xx (bounded, with backoff)."""

    def __init__(self, base_url: str, stats: Stats, *, attempts: int = 10, timeout: float = 30.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.token: str | None = None
        self.stats = stats
        self.attempts = attempts
        #: Set when the run is over: stop retrying at once.
        self.abort = threading.Event()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        delay = 0.2
        for attempt in range(self.attempts):
            try:
                r = self.http.request(method, path, headers=headers, **kwargs)
            except RETRYABLE:
                self.stats.add("retry_transport")
            else:
                if r.status_code < 500 and r.status_code != 429:  # 429: retried like a 5xx
                    body = (
                        r.json()
                        if r.headers.get("content-type", "").startswith("application/json")
                        else r.content
                    )
                    if r.status_code >= 400:
                        raise ApiError(r.status_code, body)
                    return body
                self.stats.add(f"retry_{r.status_code}")
            if attempt == self.attempts - 1 or self.abort.wait(delay * random.uniform(0.5, 1.5)):
                break
            delay = min(delay * 2, 5.0)
        raise ApiError(599, f"{method} {path}: still failing after {self.attempts} attempts")

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def fetch(self, url: str) -> bytes:
        delay = 0.2
        for attempt in range(self.attempts):
            try:
                r = self.http.get(url)
                if r.status_code == 200:
                    return r.content
                self.stats.add(f"fetch_{r.status_code}")
            except RETRYABLE:
                self.stats.add("fetch_transport")
            if attempt == self.attempts - 1 or self.abort.wait(delay):
                break
            delay = min(delay * 2, 5.0)
        raise ApiError(599, f"image fetch kept failing: {url[:80]}")

    def login(self, email: str, password: str = PASSWORD) -> None:
        self.token = self.post("/api/auth/login", json={"email": email, "password": password})["token"]

    def sign_up(self, email: str, role: str) -> None:
        try:
            self.post("/api/auth/register", json={"email": email, "password": PASSWORD, "role": role})
        except ApiError as exc:  # a retried registration that had gone through
            if exc.status != 409:
                raise
        self.login(email)

    def close(self) -> None:
        self.http.close()


def link_wallet(client: Client) -> str:
    """Sign-In with Ethereum: the worker's payout wallet (a fresh key; only the address matters)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    account = Account.create()
    challenge = client.post("/api/payouts/wallet/nonce", json={"address": account.address})
    signed = account.sign_message(encode_defunct(text=challenge["message"]))
    client.post(
        "/api/payouts/wallet/verify",
        json={"message": challenge["message"], "signature": signed.signature.to_0x_hex()},
    )
    return str(account.address)


@dataclass
class CrowdWorker:
    email: str
    profile: Profile
    client: Client
    wallet: str = ""
    stop_reason: dict[int, str] = field(default_factory=dict)  # job id → why it stopped there


@dataclass
class CrowdRun:
    scenes_by_hash: dict[str, Scene]
    job_ids: list[int]
    stats: Stats
    time_scale: float
    done: threading.Event = field(default_factory=threading.Event)


def _answers(
    worker: CrowdWorker, run: CrowdRun, assignment: dict[str, Any], rng: random.Random
) -> dict[str, Any]:
    items = []
    for position, item in enumerate(assignment["items"]):
        t0 = time.monotonic()
        data = worker.client.fetch(item["image_url"])
        run.stats.timed("fetch", time.monotonic() - t0)
        scene = run.scenes_by_hash[hashlib.sha256(data).hexdigest()]
        items.append(
            {
                "item_id": item["item_id"],
                "annotations": answer_boxes(scene, worker.profile, rng),
                "interactions": interactions(worker.profile, position, rng),
            }
        )
    return {"items": items}


def _claim(worker: CrowdWorker, run: CrowdRun, job_id: int) -> dict[str, Any] | None:
    """An assignment to work on in this job (a fresh claim or the one already held), or None."""
    started = time.monotonic()
    try:
        assignment: dict[str, Any] = worker.client.post(f"/api/jobs/{job_id}/assignments/claim")
    except ApiError as exc:
        reason = exc.reason
        if reason == "already_assigned":  # a claim whose response was lost: resume it
            held = worker.client.get(f"/api/assignments/{exc.body['assignment_id']}")
            run.stats.add("claims_resumed")
            return held if held.get("items") else None
        if reason == "banned":
            worker.stop_reason[job_id] = "banned"
        elif reason in ("job_not_active", "no_assignments_left", "claim_race"):
            run.stats.add(f"claim_{reason}")
        elif exc.status == 599:
            run.stats.add("claim_gave_up")
        else:
            raise
        return None
    with run.stats.lock:
        run.stats.counts["claims"] += 1
        run.stats.claim_latency_s.append(time.monotonic() - started)
        run.stats.claim_latency_by_id[assignment["assignment_id"]] = time.monotonic() - started
    return assignment


def _submit(worker: CrowdWorker, run: CrowdRun, assignment_id: int, answers: dict[str, Any]) -> None:
    t0 = time.monotonic()
    try:
        worker.client.post(f"/api/assignments/{assignment_id}/submit", json=answers)
        run.stats.timed("submit", time.monotonic() - t0)
    except ApiError as exc:
        if exc.reason in ("assignment_expired", "job_not_active"):
            run.stats.add(f"submit_{exc.reason}")
            return
        if exc.status == 599:
            run.stats.add("submit_gave_up")
            return
        raise
    with run.stats.lock:
        run.stats.counts["submits"] += 1
        run.stats.submitted.add(assignment_id)


def work(worker: CrowdWorker, run: CrowdRun, seed: int) -> None:
    """Claim → look → answer → submit, across the jobs, until the run is over (or banned everywhere)."""
    rng = random.Random(seed)
    order = list(run.job_ids)
    rng.shuffle(order)
    while not run.done.is_set():
        open_jobs = [j for j in order if j not in worker.stop_reason]
        if not open_jobs:
            return
        did_work = False
        for job_id in open_jobs:
            if run.done.is_set():
                return
            try:
                assignment = _claim(worker, run, job_id)
                if assignment is None:
                    continue
                answers = _answers(worker, run, assignment, rng)
                think = worker.profile.seconds_per_item * len(answers["items"]) / run.time_scale
                run.done.wait(think)
                _submit(worker, run, assignment["assignment_id"], answers)
                did_work = True
            except ApiError as exc:  # counted and reported; the worker carries on
                run.stats.add(f"error_{exc.status}")
                run.done.wait(0.5)
        if not did_work:
            run.done.wait(rng.uniform(0.5, 1.5))


def review(reviewer: Client, run: CrowdRun, decided: Counter[str]) -> None:
    """Work the dispute queues of the jobs with the demo's policy until the run is over."""
    while not run.done.is_set():
        for job_id in run.job_ids:
            try:
                disputes = reviewer.get("/api/reviews/disputes", params={"job_id": job_id, "status": "open"})
            except ApiError:
                run.stats.add("reviewer_list_failed")
                continue
            for dispute in disputes:
                action = REVIEW_POLICY.get(dispute["kind"], "uphold")
                try:
                    reviewer.post(
                        f"/api/reviews/disputes/{dispute['id']}/decide",
                        json={"action": action, "comment": "load reviewer"},
                    )
                    decided[f"{dispute['kind']}:{action}"] += 1
                except ApiError as exc:
                    if exc.status not in (409, 422, 599):
                        raise
                    run.stats.add(f"reviewer_{exc.status}")
        run.done.wait(1.0)
