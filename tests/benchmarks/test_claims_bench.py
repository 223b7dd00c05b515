"""Smoke run of ``benchmarks/claims.py`` at a tiny scale: every phase runs against a real uvicorn
server and PostgreSQL, the last line has its keys, and no chunk was handed out twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.claims import ADMIN_URL, conninfo  # noqa: E402

LAST_LINE = re.compile(
    r"^capacity_per_s=(?P<capacity>\d+) sql_limit_per_s=(?P<sql>\d+) ratio=(?P<ratio>[\d.]+) "
    r"claim_p99_ms_at_half=(?P<claim>\d+) submit_p99_ms_at_half=(?P<submit>\d+) "
    r"round_trips=(?P<trips>[\d.]+) duplicates=(?P<dup>\d+)$"
)


@pytest.mark.slow
def test_claims_benchmark_tiny_run() -> None:
    try:
        psycopg.connect(conninfo(ADMIN_URL), connect_timeout=3).close()
    except Exception as exc:  # pragma: no cover - environment dependent
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}: {exc}")
    argv = [
        sys.executable, str(REPO / "benchmarks" / "claims.py"),
        "--clients", "4", "--seconds", "2", "--open-seconds", "2", "--sql-seconds", "1",
        "--chunks", "300", "--sql-chunks", "200", "--server-workers", "2",
    ]  # fmt: skip
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("TILEWORK_") or k.startswith("TILEWORK_BENCH")
    }
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    match = LAST_LINE.match(lines[-1])
    assert match, f"unexpected last line {lines[-1]!r}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert int(match["dup"]) == 0
    assert int(match["capacity"]) > 0 and int(match["sql"]) > 0
    assert float(match["trips"]) > 0  # the server's statements were counted, from both processes
    assert not re.search(r"errors=[1-9]", done.stdout), done.stdout


def test_a_submit_lost_to_the_transport_is_sent_once_more() -> None:
    """A keep-alive connection closed under a submit must not leave the load generator's worker
    holding its assignment (every later claim a 409) for the rest of the run."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from benchmarks._claims_load import HttpxPost, _cycle, _result

    submits: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/claim"):
            return httpx.Response(200, json={"assignment_id": 7, "items": [{"item_id": "t1"}]})
        submits.append(1)
        if len(submits) == 1:
            raise httpx.ReadError("connection closed", request=request)
        return httpx.Response(200, json={"status": "submitted"})

    async def one_cycle() -> dict[str, object]:
        out = _result()
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), base_url="http://bench"
        ) as client:
            assert await _cycle(HttpxPost(client), "token", 1, 0.0, out)
        return out

    with ThreadPoolExecutor(
        1
    ) as pool:  # its own thread: an earlier test may leave a loop running in this one
        out = pool.submit(asyncio.run, one_cycle()).result()
    assert len(submits) == 2
    assert out["cycles"] == 1
    assert out["errors"] == ["submit: ReadError"]
