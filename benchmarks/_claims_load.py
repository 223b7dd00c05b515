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
import json
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


class TransportError(Exception):
    """A request that got no answer (connection refused, closed under it, malformed reply)."""


class RawHttp:
    """A lean HTTP/1.1 client on one keep-alive connection (asyncio streams): the load generator must
    not be what saturates the machine. httpx cost about as much CPU per cycle as the server did
    (13-16 ms), so with the server, PostgreSQL and the generator on two cores the generator capped
    the capacity measured; this one spends a fraction of that. Enough HTTP for this API: requests
    with a JSON body, replies with ``Content-Length``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, token: str, payload: Any = None) -> tuple[int, Any]:
        body = json.dumps(payload).encode() if payload is not None else b""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert self.reader is not None
            self.writer.write(head.encode() + body)
            status = int((await self.reader.readline()).split(b" ", 2)[1])
            length, close = 0, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            data = await self.reader.readexactly(length) if length else b""
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            await self.close()
            raise TransportError(type(exc).__name__) from exc
        if close:
            await self.close()
        return status, (json.loads(data) if data else None)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


class HttpxPost:
    """The same ``post`` over an httpx client (tests with a mock transport)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, path: str, token: str, payload: Any = None) -> tuple[int, Any]:
        try:
            r = await self.client.post(path, json=payload, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise TransportError(type(exc).__name__) from exc
        return r.status_code, (r.json() if r.content else None)


async def _cycle(http: Any, token: str, job_id: int, started: float, out: Result) -> bool:
    """One claim → submit; False when the job has nothing left. ``started``: when the claim was due."""
    try:
        status, body = await http.post(f"/api/jobs/{job_id}/assignments/claim", token)
    except TransportError as exc:
        out["errors"].append(f"claim: {exc}")
        return True
    out["claims_ms"].append((time.perf_counter() - started) * 1000)
    if status == 409 and (body or {}).get("reason") == "no_assignments_left":
        out["exhausted"] = True
        return False
    if status != 200:
        out["errors"].append(f"claim {status}: {str(body)[:200]}")
        return True
    answers = {"items": [{"item_id": i["item_id"], "annotations": []} for i in body["items"]]}
    t1 = time.perf_counter()
    for attempt in (1, 2):
        # A submit lost to a transport error (a connection closed under it) is sent once
        # more: given up, the worker would hold its assignment for the rest of the run, every later
        # claim of it a 409 already_assigned (one client fewer, and requests that are not cycles).
        try:
            submitted, reply = await http.post(
                f"/api/assignments/{body['assignment_id']}/submit", token, answers
            )
            break
        except TransportError as exc:
            out["errors"].append(f"submit: {exc}")
            if attempt == 2:
                return True
    out["submits_ms"].append((time.perf_counter() - t1) * 1000)
    if submitted != 200:
        out["errors"].append(f"submit {submitted}: {str(reply)[:200]}")
    else:
        out["cycles"] += 1
    return True


def _client(port: int, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60)


async def _closed(port: int, tokens: list[str], job_id: int, seconds: float) -> Result:
    out = _result()
    cpu0 = time.process_time()
    conns = {t: RawHttp(port) for t in tokens}  # one keep-alive connection per worker
    start = time.monotonic()
    stop_at = start + seconds

    async def worker(token: str) -> None:
        while time.monotonic() < stop_at:
            if not await _cycle(conns[token], token, job_id, time.perf_counter(), out):
                return

    await asyncio.gather(*(worker(t) for t in tokens))
    out["elapsed"] = time.monotonic() - start
    for conn in conns.values():
        await conn.close()
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
    conns = {t: RawHttp(port) for t in tokens}
    start_wall, start = time.monotonic(), time.perf_counter()
    due, tasks = 0.0, []

    async def arrival(at: float) -> None:
        if idle.empty():
            out["waited_for_worker"] += 1
        token = await idle.get()
        try:
            await _cycle(conns[token], token, job_id, at, out)
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
    for conn in conns.values():
        await conn.close()
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
        conn = RawHttp(port)
        for _ in range(cycles):
            if not await _cycle(conn, token, job_id, time.perf_counter(), out):
                break
        await conn.close()
        return out

    return asyncio.run(run())


async def _traced(port: int, token: str, job_id: int) -> list[str]:
    async with _client(port, 1) as client:
        out = _result()
        http = HttpxPost(client)
        await _cycle(http, token, job_id, time.perf_counter(), out)  # warm: first-use queries
        await client.post("/__bench/trace")
        await _cycle(http, token, job_id, time.perf_counter(), out)
        statements: list[str] = (await client.get("/__bench/trace")).json()
        if out["errors"]:
            raise RuntimeError(out["errors"])
        return statements


def traced_cycle(port: int, token: str, job_id: int) -> list[str]:
    return asyncio.run(_traced(port, token, job_id))
