"""Load generators of ``benchmarks/claims.py``: claim → submit cycles through the HTTP API.

* :func:`closed_loop`: ``clients`` workers, each looping claim → submit with no pause: the server's
  capacity once there are enough of them to keep it busy (more clients then only add queueing).
* :func:`open_loop`: cycles start at Poisson arrival times of a given rate, whatever the server is
  doing, each with a worker free at that moment. A claim's latency counts from its scheduled arrival,
  so time spent waiting behind a late loop or for a free worker is counted, not hidden (no
  coordinated omission). Submit latency counts from sending it, right after the claim returned.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

Result = dict[str, Any]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _result() -> Result:
    return {"claims_ms": [], "submits_ms": [], "errors": [], "cycles": 0, "exhausted": False}


async def _cycle(client: httpx.AsyncClient, token: str, job_id: int, started: float, out: Result) -> bool:
    """One claim → submit; False when the job has nothing left. ``started``: when the claim was due."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        r = await client.post(f"/api/jobs/{job_id}/assignments/claim", headers=headers)
    except httpx.HTTPError as exc:
        out["errors"].append(f"claim: {type(exc).__name__}")
        return True
    out["claims_ms"].append((time.perf_counter() - started) * 1000)
    if r.status_code == 409 and r.json().get("reason") == "no_assignments_left":
        out["exhausted"] = True
        return False
    if r.status_code != 200:
        out["errors"].append(f"claim {r.status_code}: {r.text[:200]}")
        return True
    body = r.json()
    answers = {"items": [{"item_id": i["item_id"], "annotations": []} for i in body["items"]]}
    t1 = time.perf_counter()
    for attempt in (1, 2):
        # A submit lost to a transport error (a connection closed under it) is sent once
        # more: given up, the worker would hold its assignment for the rest of the run, every later
        # claim of it a 409 already_assigned (one client fewer, and requests that are not cycles).
        try:
            s = await client.post(
                f"/api/assignments/{body['assignment_id']}/submit", json=answers, headers=headers
            )
            break
        except httpx.HTTPError as exc:
            out["errors"].append(f"submit: {type(exc).__name__}")
            if attempt == 2:
                return True
    out["submits_ms"].append((time.perf_counter() - t1) * 1000)
    if s.status_code != 200:
        out["errors"].append(f"submit {s.status_code}: {s.text[:200]}")
    else:
        out["cycles"] += 1
    return True


def _client(port: int, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60)


async def _closed(port: int, tokens: list[str], job_id: int, seconds: float) -> Result:
    out = _result()
    cpu0 = time.process_time()
    async with _client(port, len(tokens)) as client:
        start = time.monotonic()
        stop_at = start + seconds

        async def worker(token: str) -> None:
            while time.monotonic() < stop_at:
                if not await _cycle(client, token, job_id, time.perf_counter(), out):
                    return

        await asyncio.gather(*(worker(t) for t in tokens))
        out["elapsed"] = time.monotonic() - start
    out["client_cpu_s"] = time.process_time() - cpu0
    return out


def closed_loop(port: int, tokens: list[str], job_id: int, seconds: float) -> Result:
    return asyncio.run(_closed(port, tokens, job_id, seconds))


async def _open(port: int, tokens: list[str], job_id: int, rate: float, seconds: float, seed: int) -> Result:
    out = _result()
    out["waited_for_worker"] = 0
    rng = random.Random(seed)
    idle: asyncio.Queue[str] = asyncio.Queue()
    for token in tokens:
        idle.put_nowait(token)
    cpu0 = time.process_time()
    async with _client(port, len(tokens)) as client:
        start_wall, start = time.monotonic(), time.perf_counter()
        due, tasks = 0.0, []

        async def arrival(at: float) -> None:
            if idle.empty():
                out["waited_for_worker"] += 1
            token = await idle.get()
            try:
                await _cycle(client, token, job_id, at, out)
            finally:
                idle.put_nowait(token)

        while True:
            due += rng.expovariate(rate)
            if due >= seconds:
                break
            delay = start + due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(arrival(start + due)))
        await asyncio.gather(*tasks)
        out["elapsed"] = time.monotonic() - start_wall
        out["arrivals"] = len(tasks)
    out["client_cpu_s"] = time.process_time() - cpu0
    return out


def open_loop(
    port: int, tokens: list[str], job_id: int, rate: float, seconds: float, seed: int = 1
) -> Result:
    return asyncio.run(_open(port, tokens, job_id, rate, seconds, seed))


def sequential(port: int, token: str, job_id: int, cycles: int) -> Result:
    """``cycles`` cycles one after another: the per-cycle statement count with nothing else running."""

    async def run() -> Result:
        out = _result()
        async with _client(port, 1) as client:
            for _ in range(cycles):
                if not await _cycle(client, token, job_id, time.perf_counter(), out):
                    break
        return out

    return asyncio.run(run())


async def _traced(port: int, token: str, job_id: int) -> list[str]:
    async with _client(port, 1) as client:
        out = _result()
        await _cycle(client, token, job_id, time.perf_counter(), out)  # warm: first-use queries
        await client.post("/__bench/trace")
        await _cycle(client, token, job_id, time.perf_counter(), out)
        statements: list[str] = (await client.get("/__bench/trace")).json()
        if out["errors"]:
            raise RuntimeError(out["errors"])
        return statements


def traced_cycle(port: int, token: str, job_id: int) -> list[str]:
    return asyncio.run(_traced(port, token, job_id))
