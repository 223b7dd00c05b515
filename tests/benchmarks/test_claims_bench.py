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
