"""Claim throughput through the HTTP API against the bare-SQL limit, on PostgreSQL.

Run: ``python benchmarks/claims.py [--workers 64] [--seconds 20] [--sql-seconds 10]
[--server-workers 1] [--client-procs 1]``.

* Creates a scratch PostgreSQL database (admin URL from ``TILEWORK_BENCH_PG_ADMIN_URL``, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), builds it with the migrations and seeds
  two active jobs of 10-image chunks with 2 hidden GT images each (accuracy target 0: every
  submission is accepted, so chunks keep moving through the whole claim → submit → score cycle).
* API phase: ``uvicorn`` in a subprocess on a real socket (``--server-workers`` processes);
  ``--workers`` concurrent workers (asyncio + httpx, in this process or spread over
  ``--client-procs`` processes) loop claim → submit for ``--seconds``. There is no broker, so scoring
  runs in the server process right after each submission commits (the embedded default), with the
  built-in scorer: the server does all the work of a cycle, on the same two cores as the database and
  the load generator. The load generator's own CPU time is printed so its share can be judged.
* SQL phase: the same number of threads, each with its own psycopg connection, doing only the SQL a
  claim needs (SKIP LOCKED pick, slot update, assignment + 12 item rows, GT use counts) and then an
  acceptance: the ceiling the API can approach.
* ``duplicates`` counts violations after both phases: a worker holding a chunk twice, a chunk held or
  accepted more than ``overlap`` times, or a chunk whose slots are not conserved.

The server counts every SQL statement it sends (an SQLAlchemy ``before_cursor_execute`` hook) and its
CPU time; both are printed per claim+submit+score cycle (with one server process; with several, the
figures are one process's share).

Last line: ``claims_per_s=<n> p99_ms=<n> sql_limit_per_s=<n> ratio=<api/sql> round_trips=<n>
duplicates=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, event, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from marketplace.accounts.service import issue_token  # noqa: E402
from marketplace.assignments.service import open_job_for_work  # noqa: E402
from marketplace.db import session_scope  # noqa: E402
from marketplace.jobs.states import transition  # noqa: E402
from marketplace.migrations import upgrade  # noqa: E402
from marketplace.models import GtAnnotation, Job, JobImage, JobStatus, Rail, Role, User  # noqa: E402

ADMIN_URL = os.environ.get(
    "TILEWORK_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CHUNK = 10
GT_PER = 2
GT_IMAGES = 40
SECRET = "bench-secret-key-that-is-long-enough-0000"


def conninfo(url: str) -> str:
    u = make_url(url)
    return f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"


def create_database() -> tuple[str, str]:
    name = f"tilework_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(conninfo(ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    with psycopg.connect(conninfo(ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- seeding --------------------------------------------------------------------------------------


def seed_job(factory: sessionmaker[Session], requester_id: int, chunks: int, title: str) -> int:
    with session_scope(factory) as s:
        job = Job(
            requester_id=requester_id,
            type="boxes",
            title=title,
            description="benchmark",
            labels=["cat", "dog"],
            data_uri="/nonexistent/bench",
            accuracy_target=0.0,
            iou_threshold=0.5,
            point_tolerance=0.1,
            bounty_amount=10**12,
            currency="usd",
            rail=Rail.card,
            assignment_size=CHUNK,
            gt_per_assignment=GT_PER,
            time_limit_s=1800,
            overlap=1,
            max_attempts=3,
            image_count=chunks * CHUNK + GT_IMAGES,
            gt_count=GT_IMAGES,
        )
        s.add(job)
        s.flush()
        rows = [
            {
                "job_id": job.id,
                "name": f"img{i:07d}.jpg",
                "width": 640,
                "height": 480,
                "size_bytes": 1000,
                "is_gt": i >= chunks * CHUNK,
            }
            for i in range(chunks * CHUNK + GT_IMAGES)
        ]
        for start in range(0, len(rows), 5000):
            s.execute(insert(JobImage), rows[start : start + 5000])
        gt_ids = s.scalars(select(JobImage.id).where(JobImage.job_id == job.id, JobImage.is_gt.is_(True)))
        s.execute(
            insert(GtAnnotation),
            [{"job_id": job.id, "image_id": i, "label": "cat", "geometry": [10, 10, 50, 50]} for i in gt_ids],
        )
        open_without_files(s, job)
        return job.id


def open_without_files(session: Session, job: Job) -> None:
    """Activation without its ingest: the claim path is measured here, and these rows have no files
    (nothing is served, so no rendition is needed)."""
    transition(job, JobStatus.ingesting)
    transition(job, JobStatus.active)
    open_job_for_work(session, job)


def seed(url: str, workers: int, api_chunks: int, sql_chunks: int) -> dict[str, Any]:
    engine = create_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with session_scope(factory) as s:
        requester = User(email="bench-req@example.org", password_hash="x", role=Role.requester)
        users = [
            User(email=f"bench-w{i}@example.org", password_hash="x", role=Role.worker) for i in range(workers)
        ]
        s.add(requester)
        s.add_all(users)
        s.flush()
        tokens = [issue_token(s, u, name="bench", ttl_days=1)[0] for u in users]
        ids = [u.id for u in users]
        requester_id = requester.id
    api_job = seed_job(factory, requester_id, api_chunks, "api")
    sql_job = seed_job(factory, requester_id, sql_chunks, "sql")
    engine.dispose()
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("ANALYZE")  # planner statistics for the freshly loaded tables, as in a live system
    return {"tokens": tokens, "worker_ids": ids, "api_job": api_job, "sql_job": sql_job}


# -- API phase ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVER_POOL = 42  # per server process: above the 40 threads of its threadpool (see serve())


def server_app() -> Any:
    """The app of one server process (a factory: ``uvicorn --workers`` imports it in each)."""
    from marketplace.app import create_app
    from marketplace.assignments.scoring import SimpleScorer, set_scorer_factory
    from marketplace.config import Settings

    # the claim path is measured, not the quality engine's bookkeeping on deliberately empty answers
    set_scorer_factory(lambda job: SimpleScorer())
    settings = Settings()
    app = create_app(settings)
    engine = create_engine(settings.effective_database_url, pool_size=SERVER_POOL, max_overflow=0)
    app.state.session_factory = sessionmaker(bind=engine, expire_on_commit=False)
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_: Any) -> None:  # every statement the server sends is one round trip to PostgreSQL
        statements[0] += 1

    # what the server process spent (SQL statements, CPU seconds) since it started: read after the run
    def spent() -> dict[str, float]:
        return {"statements": statements[0], "cpu_s": time.process_time()}

    app.add_api_route("/__bench/server", spent, methods=["GET"])
    return app


def serve(port: int) -> None:
    """The API server process: the normal app, with a connection pool larger than the threadpool.

    With the default pool (10 + 20 overflow) and anyio's 40 worker threads, more than 30 concurrent
    requests starve the pool: requests holding a connection wait for a thread while the threads wait
    for a connection, until the 30 s pool timeout (500s). Reported to the lead; worked around here.
    """
    import uvicorn

    processes = int(os.environ.get("TILEWORK_BENCH_SERVER_WORKERS", "1"))
    if processes == 1:
        uvicorn.run(server_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    else:
        uvicorn.run(
            "benchmarks.claims:server_app",
            factory=True,
            workers=processes,
            app_dir=str(ROOT),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )


def start_server(url: str, port: int, home: Path, processes: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TILEWORK_BENCH_SERVER_WORKERS": str(processes),
        "DATABASE_URL": url,
        "TILEWORK_SECRET_KEY": SECRET,
        "TILEWORK_HOME": str(home),
        "TILEWORK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the API server did not start")


async def api_worker(
    client: httpx.AsyncClient,
    token: str,
    job_id: int,
    stop_at: float,
    claims_ms: list[float],
    submits_ms: list[float],
    errors: list[str],
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        try:
            r = await client.post(f"/api/jobs/{job_id}/assignments/claim", headers=headers)
        except httpx.HTTPError as exc:
            errors.append(f"claim: {type(exc).__name__}")
            continue
        claims_ms.append((time.perf_counter() - t0) * 1000)
        if r.status_code == 409 and r.json().get("reason") == "no_assignments_left":
            return
        if r.status_code != 200:
            errors.append(f"claim {r.status_code}: {r.text[:200]}")
            continue
        body = r.json()
        answers = {"items": [{"item_id": i["item_id"], "annotations": []} for i in body["items"]]}
        t1 = time.perf_counter()
        try:
            s = await client.post(
                f"/api/assignments/{body['assignment_id']}/submit", json=answers, headers=headers
            )
        except httpx.HTTPError as exc:
            errors.append(f"submit: {type(exc).__name__}")
            continue
        submits_ms.append((time.perf_counter() - t1) * 1000)
        if s.status_code != 200:
            errors.append(f"submit {s.status_code}: {s.text[:200]}")


async def api_phase(port: int, tokens: list[str], job_id: int, seconds: float) -> dict[str, Any]:
    cpu0 = time.process_time()
    claims_ms: list[float] = []
    submits_ms: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client:
        start = time.monotonic()
        stop_at = start + seconds
        await asyncio.gather(
            *(api_worker(client, t, job_id, stop_at, claims_ms, submits_ms, errors) for t in tokens)
        )
        elapsed = time.monotonic() - start
    return {
        "claims": len(claims_ms),
        "elapsed": elapsed,
        "claims_ms": claims_ms,
        "submits_ms": submits_ms,
        "errors": errors,
        "client_cpu_s": time.process_time() - cpu0,
    }


def _client_process(args: tuple[int, list[str], int, float]) -> dict[str, Any]:
    return asyncio.run(api_phase(*args))


def run_clients(port: int, tokens: list[str], job_id: int, seconds: float, procs: int) -> dict[str, Any]:
    """The load generator: one asyncio loop here, or ``procs`` processes sharing the workers."""
    if procs <= 1:
        return asyncio.run(api_phase(port, tokens, job_id, seconds))
    import multiprocessing

    shares = [tokens[i::procs] for i in range(procs)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        parts = pool.map(_client_process, [(port, share, job_id, seconds) for share in shares])
    return {
        "claims": sum(p["claims"] for p in parts),
        "elapsed": max(p["elapsed"] for p in parts),
        "claims_ms": [v for p in parts for v in p["claims_ms"]],
        "submits_ms": [v for p in parts for v in p["submits_ms"]],
        "errors": [e for p in parts for e in p["errors"]],
        "client_cpu_s": sum(p["client_cpu_s"] for p in parts),
    }


# -- SQL phase ------------------------------------------------------------------------------------

PICK = """
SELECT id FROM chunks
WHERE job_id = %(job)s AND status = 'open' AND free_slots > 0
  AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.chunk_id = chunks.id AND a.worker_id = %(worker)s)
ORDER BY position LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED
"""
TAKE = """UPDATE chunks SET free_slots = free_slots - 1,
  status = CASE WHEN free_slots - 1 = 0 THEN 'full' ELSE status END WHERE id = %(chunk)s"""
ASSIGN = """INSERT INTO assignments (job_id, chunk_id, worker_id, status, deadline, created_at)
VALUES (%(job)s, %(chunk)s, %(worker)s, 'assigned', now() + interval '30 minutes', now()) RETURNING id"""
CHUNK_IMAGES = "SELECT image_id FROM chunk_images WHERE chunk_id = %(chunk)s ORDER BY position"
GT_PICK = """SELECT image_id FROM gt_image_stats WHERE job_id = %(job)s AND retired_at IS NULL
ORDER BY uses, random() LIMIT 2 FOR NO KEY UPDATE SKIP LOCKED"""
GT_COUNT = "UPDATE gt_image_stats SET uses = uses + 1 WHERE image_id = ANY(%(ids)s)"
ITEM = """INSERT INTO assignment_items (assignment_id, position, token, image_id, is_gt)
VALUES (%s, %s, %s, %s, %s)"""
ACCEPT = """UPDATE assignments SET status = 'accepted', submitted_at = now(), finished_at = now(), score = 1
WHERE id = %(id)s"""
DONE = "UPDATE chunks SET accepted_count = accepted_count + 1, status = 'done' WHERE id = %(chunk)s"


def sql_claim(conn: psycopg.Connection[Any], job: int, worker: int) -> bool:
    with conn.transaction(), conn.cursor() as cur:
        row = cur.execute(PICK, {"job": job, "worker": worker}).fetchone()
        if row is None:
            return False
        chunk = row[0]
        cur.execute(TAKE, {"chunk": chunk})
        assignment = cur.execute(ASSIGN, {"job": job, "chunk": chunk, "worker": worker}).fetchone()[0]  # type: ignore[index]
        images = [r[0] for r in cur.execute(CHUNK_IMAGES, {"chunk": chunk}).fetchall()]
        gt = [r[0] for r in cur.execute(GT_PICK, {"job": job}).fetchall()]
        items = [(assignment, p, secrets.token_urlsafe(16), img, False) for p, img in enumerate(images)]
        items += [
            (assignment, len(images) + p, secrets.token_urlsafe(16), img, True) for p, img in enumerate(gt)
        ]
        cur.executemany(ITEM, items)
        cur.execute(GT_COUNT, {"ids": gt})
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(ACCEPT, {"id": assignment})
        cur.execute(DONE, {"chunk": chunk})
    return True


def sql_phase(url: str, worker_ids: list[int], job_id: int, seconds: float) -> dict[str, Any]:
    counts = [0] * len(worker_ids)
    errors: list[str] = []
    stop_at = time.monotonic() + seconds

    def loop(index: int, worker: int) -> None:
        with psycopg.connect(conninfo(url)) as conn:
            while time.monotonic() < stop_at:
                try:
                    if not sql_claim(conn, job_id, worker):
                        return
                except psycopg.Error as exc:
                    errors.append(str(exc))
                    continue
                counts[index] += 1

    threads = [threading.Thread(target=loop, args=(i, w)) for i, w in enumerate(worker_ids)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"claims": sum(counts), "elapsed": time.monotonic() - start, "errors": errors}


# -- checks ---------------------------------------------------------------------------------------

VIOLATIONS = """
SELECT
  (SELECT count(*) FROM (SELECT chunk_id, worker_id FROM assignments GROUP BY 1, 2 HAVING count(*) > 1) d)
+ (SELECT count(*) FROM chunks c JOIN jobs j ON j.id = c.job_id
     WHERE c.free_slots + (SELECT count(*) FROM assignments a WHERE a.chunk_id = c.id
                           AND a.status IN ('assigned', 'submitted', 'accepted')) <> j.overlap
        OR c.accepted_count > j.overlap)
+ (SELECT count(*) FROM (SELECT job_id, worker_id FROM assignments WHERE status = 'assigned'
                         GROUP BY 1, 2 HAVING count(*) > 1) a)
"""


def duplicates(url: str) -> int:
    with psycopg.connect(conninfo(url)) as conn:
        return int(conn.execute(VIOLATIONS).fetchone()[0])  # type: ignore[index]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sql-seconds", type=float, default=10.0)
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return

    name, url = create_database()
    proc = None
    try:
        upgrade(url)
        data = seed(url, args.workers, api_chunks=12_000, sql_chunks=40_000)
        print(f"seeded {name}: {args.workers} workers, chunks of {CHUNK}+{GT_PER} GT", flush=True)
        port = free_port()
        proc = start_server(url, port, Path("/tmp") / name, args.server_workers)
        before = httpx.get(f"http://127.0.0.1:{port}/__bench/server", timeout=10).json()
        api = run_clients(port, data["tokens"], data["api_job"], args.seconds, args.client_procs)
        after = httpx.get(f"http://127.0.0.1:{port}/__bench/server", timeout=10).json()
        proc.terminate()
        proc.wait(timeout=20)
        proc = None
        sql = sql_phase(url, data["worker_ids"], data["sql_job"], args.sql_seconds)
        dup = duplicates(url)
    finally:
        if proc is not None:
            proc.kill()
        drop_database(name)

    cycles = max(1, len(api["submits_ms"]))  # claim + submit + scoring, each submit scored in-process
    server = {k: after[k] - before[k] for k in ("statements", "cpu_s")}
    per_process = " (one server process of several: its share only)" if args.server_workers > 1 else ""
    api_rate = api["claims"] / api["elapsed"]
    sql_rate = sql["claims"] / sql["elapsed"]
    p99 = percentile(api["claims_ms"], 0.99)
    print(
        f"api: {api['claims']} claims in {api['elapsed']:.1f}s, "
        f"claim p50={percentile(api['claims_ms'], 0.5):.1f}ms "
        f"p99={p99:.1f}ms, submit p50={percentile(api['submits_ms'], 0.5):.1f}ms "
        f"p99={percentile(api['submits_ms'], 0.99):.1f}ms, errors={len(api['errors'])}"
    )
    print(
        f"setup: {args.server_workers} server process(es), {args.client_procs} client process(es); "
        f"load generator CPU {api['client_cpu_s']:.1f}s over {api['elapsed']:.1f}s "
        f"({100 * api['client_cpu_s'] / api['elapsed']:.0f}% of one core)"
    )
    print(
        f"server{per_process}: {server['statements'] / cycles:.1f} SQL round trips and "
        f"{1000 * server['cpu_s'] / cycles:.1f} ms CPU per claim+submit+score cycle ({cycles} cycles)"
    )
    for err in api["errors"][:3]:
        print(f"  api error: {err}")
    print(f"sql: {sql['claims']} claim+accept cycles in {sql['elapsed']:.1f}s, errors={len(sql['errors'])}")
    for err in sql["errors"][:3]:
        print(f"  sql error: {err}")
    print(
        f"claims_per_s={api_rate:.0f} p99_ms={p99:.0f} sql_limit_per_s={sql_rate:.0f} "
        f"ratio={api_rate / sql_rate:.2f} round_trips={server['statements'] / cycles:.1f} duplicates={dup}"
    )


if __name__ == "__main__":
    main()
