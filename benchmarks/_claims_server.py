"""The API server of ``benchmarks/claims.py``: the production app under uvicorn, instrumented.

Each server process counts what it sends to PostgreSQL and the CPU it uses, and writes the running
totals to ``<home>/bench-counters/<pid>.json`` four times a second, so the benchmark can add up every
process of ``uvicorn --workers N`` (each a separate interpreter) between two moments:

* ``statements``: every statement (SQLAlchemy ``before_cursor_execute``; an ``executemany`` batch
  is one), the round trips the issue counts;
* ``transactions`` (commits + rollbacks; each also costs a ``BEGIN`` round trip, which psycopg sends
  before the first statement) and ``pings`` (the pool's pre-ping ``SELECT 1`` on each checkout,
  which bypasses the cursor events), the other round trips PostgreSQL sees;
* ``cpu_s``: the process's CPU time, all threads.

With ``TILEWORK_BENCH_TRACE=1`` (one process) ``POST /__bench/trace`` starts recording statements
and ``GET /__bench/trace`` returns and stops: the statements of one cycle, for profiling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-that-is-long-enough-0000"


def server_app() -> Any:
    """The app of one server process (a factory: ``uvicorn --workers`` imports it in each)."""
    from marketplace.app import create_app
    from marketplace.assignments.scoring import SimpleScorer, set_scorer_factory
    from marketplace.config import Settings
    from marketplace.db import get_engine

    # the claim path is measured, not the quality engine's bookkeeping on deliberately empty answers
    set_scorer_factory(lambda job: SimpleScorer())
    settings = Settings()
    app = create_app(settings)
    engine = get_engine(settings)  # the production engine and pool, as create_app uses them
    counts = {"statements": 0, "transactions": 0, "pings": 0}
    trace: list[str] | None = None
    tracing = os.environ.get("TILEWORK_BENCH_TRACE") == "1"

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counts["statements"] += 1
        if tracing and trace is not None:
            trace.append(" ".join(statement.split()))

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ended(*_: Any) -> None:
        counts["transactions"] += 1

    ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        counts["pings"] += 1
        return bool(ping(dbapi_connection))

    engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]

    folder = settings.home / "bench-counters"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.json"

    def write_counters() -> None:
        while True:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({**counts, "cpu_s": time.process_time()}))
            tmp.replace(path)
            time.sleep(0.25)

    threading.Thread(target=write_counters, daemon=True).start()

    def trace_start() -> dict[str, bool]:
        nonlocal trace
        trace = []
        return {"tracing": tracing}

    def trace_stop() -> list[str]:
        nonlocal trace
        out, trace = trace or [], None
        return out

    app.add_api_route("/__bench/trace", trace_start, methods=["POST"])
    app.add_api_route("/__bench/trace", trace_stop, methods=["GET"])
    return app


def serve(port: int) -> None:
    """Several processes go through uvicorn's supervisor, as ``tilework serve --workers N`` does."""
    import uvicorn

    processes = int(os.environ.get("TILEWORK_BENCH_SERVER_WORKERS", "1"))
    common: dict[str, Any] = {"host": "127.0.0.1", "port": port, "log_level": "warning", "access_log": False}
    if processes == 1:
        uvicorn.run(server_app(), **common)
    else:
        target = "benchmarks._claims_server:server_app"
        uvicorn.run(target, factory=True, workers=processes, app_dir=str(ROOT), **common)


def start_server(
    url: str, port: int, home: Path, processes: int, *, trace: bool = False
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TILEWORK_BENCH_SERVER_WORKERS": str(processes),
        "TILEWORK_BENCH_TRACE": "1" if trace else "0",
        "DATABASE_URL": url,
        "TILEWORK_SECRET_KEY": SECRET,
        "TILEWORK_HOME": str(home),
        "TILEWORK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    script = ROOT / "benchmarks" / "claims.py"
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "server.log").open("ab")  # its warnings (one per unfunded payout) stay out of the report
    proc = subprocess.Popen(
        [sys.executable, str(script), "--serve", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            up = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            if up and len(list((home / "bench-counters").glob("*.json"))) >= processes:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the API server did not start: {(home / 'server.log').read_text()[-3000:]}")


def counters(home: Path) -> dict[str, float]:
    """Totals over every server process so far (each file is at most 0.25 s old: wait before)."""
    time.sleep(0.6)
    total = {"statements": 0.0, "transactions": 0.0, "pings": 0.0, "cpu_s": 0.0}
    for path in (home / "bench-counters").glob("*.json"):
        for key, value in json.loads(path.read_text()).items():
            total[key] += value
    return total


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before}
