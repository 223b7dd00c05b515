"""Claim throughput through the HTTP API against the bare-SQL limit, on PostgreSQL.

Run: ``python benchmarks/claims.py [--clients 64] [--seconds 15] [--open-seconds 20]
[--sql-seconds 10] [--server-workers 2] [--trace]``.

* Creates a scratch PostgreSQL database (admin URL from ``TILEWORK_BENCH_PG_ADMIN_URL``, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), builds it with the migrations and seeds
  two active jobs of 10-image chunks with 2 hidden GT images each (accuracy target 0: every
  submission is accepted, so chunks keep moving through the whole claim → submit → score cycle).
* Server: the production app and engine (pool 20 + 30, pre-ping) under ``uvicorn`` on a real socket,
  ``--server-workers`` processes through uvicorn's supervisor as ``tilework serve --workers N`` runs
  them. Default 2: one per core (a process runs Python on one core at a time, and handlers are
  CPU-bound here); 1 vs 2 on this 2-core machine, shared with the database and the load generator,
  is printed in the README. There is no broker, so each submission is scored in the API process right
  after it commits (the embedded default; with several processes production sends it to Celery): the
  server does all the work of a cycle, and it all shows in the per-cycle figures.
* Round trips: 20 cycles one after another (after 5 to warm up), every statement the server
  processes send counted (SQLAlchemy ``before_cursor_execute``); printed per claim+submit+score cycle
  with the other round trips PostgreSQL sees (BEGIN, COMMIT, pool pre-pings) and the server's CPU.
  ``--trace`` lists one cycle's statements.
* Capacity: closed loop, ``--clients`` workers (asyncio, a lean HTTP/1.1 client each) looping
  claim → submit for ``--seconds``; cycles per second, and the server's CPU per cycle (all processes).
* Latency at half load: open loop, Poisson arrivals at 50% of the measured capacity for
  ``--open-seconds``, each arrival one cycle by a worker free at that moment; p50/p99 of claim
  (from the scheduled arrival) and of submit separately.
* SQL limit: ``--clients`` threads, each with its own psycopg connection (the same number of
  connections as clients in the capacity run), doing only the SQL a claim needs (SKIP LOCKED pick,
  slot update, assignment + 12 item rows, GT use counts) and then an acceptance: the ceiling the API
  can approach. ``ratio`` is capacity / SQL limit.
* ``duplicates`` counts violations after all phases: a worker holding a chunk twice, a chunk held or
  accepted more than ``overlap`` times, or a chunk whose slots are not conserved.

Last line: ``capacity_per_s=<n> sql_limit_per_s=<n> ratio=<x> claim_p99_ms_at_half=<n>
submit_p99_ms_at_half=<n> round_trips=<n> duplicates=<n>``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._claims_load import closed_loop, open_loop, percentile, sequential, traced_cycle  # noqa: E402
from benchmarks._claims_server import counters, serve, spent, start_server  # noqa: E402
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
ROUND_TRIP_CYCLES = 20


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


# -- the run --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api_phases(args: argparse.Namespace, url: str, home: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Round trips, capacity and latency at half load against one server; its figures."""
    port = free_port()
    tokens, job = data["tokens"], data["api_job"]
    proc = start_server(url, port, home, args.server_workers)
    try:
        sequential(port, tokens[-1], job, 5)  # warm: the first use of each statement compiles it
        before = counters(home)
        calm = sequential(port, tokens[-1], job, ROUND_TRIP_CYCLES)
        trips = spent(before, counters(home))
        before = counters(home)
        closed = closed_loop(port, tokens[: args.clients], job, args.seconds)
        load = spent(before, counters(home))
        capacity = closed["cycles"] / closed["elapsed"]
        rate = max(0.5, capacity / 2)
        half = open_loop(port, tokens[:-1], job, rate, args.open_seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    n = max(1, calm["cycles"])
    return {
        "calm": calm,
        "per_cycle": {k: v / n for k, v in trips.items()},
        "closed": closed,
        "capacity": capacity,
        "cpu_ms_per_cycle": 1000 * load["cpu_s"] / max(1, closed["cycles"]),
        "rate": rate,
        "half": half,
    }


def trace(url: str, home: Path, data: dict[str, Any]) -> None:
    port = free_port()
    proc = start_server(url, port, home, 1, trace=True)
    try:
        statements = traced_cycle(port, data["tokens"][0], data["api_job"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"one claim+submit+score cycle: {len(statements)} statements")
    for number, statement in enumerate(statements, 1):
        print(f"{number:3d}. {statement[:300]}")


def report(args: argparse.Namespace, api: dict[str, Any], sql: dict[str, Any], dup: int) -> None:
    per, closed, half = api["per_cycle"], api["closed"], api["half"]
    others = per["transactions"] * 2 + per["pings"]
    print(
        f"round trips per claim+submit+score cycle ({api['calm']['cycles']} cycles in a row): "
        f"{per['statements']:.1f} statements; with BEGIN/COMMIT ({per['transactions']:.1f} transactions) "
        f"and pool pre-pings ({per['pings']:.1f}): {per['statements'] + others:.1f}; server CPU "
        f"{1000 * per['cpu_s']:.1f} ms per cycle"
    )
    print(
        f"capacity ({args.clients} clients, closed loop, {args.server_workers} server process(es)): "
        f"{closed['cycles']} cycles in {closed['elapsed']:.1f}s = {api['capacity']:.1f}/s; server CPU "
        f"{api['cpu_ms_per_cycle']:.1f} ms per cycle; claim p50={percentile(closed['claims_ms'], 0.5):.0f}ms "
        f"p99={percentile(closed['claims_ms'], 0.99):.0f}ms; load generator CPU "
        f"{100 * closed['client_cpu_s'] / closed['elapsed']:.0f}% of a core; errors={len(closed['errors'])}"
    )
    claim_ms, submit_ms = half["claims_ms"], half["submits_ms"]
    print(
        f"half load (Poisson, {api['rate']:.1f}/s for {args.open_seconds:.0f}s): "
        f"{half['arrivals']} arrivals, "
        f"{half['cycles']} cycles; claim p50={percentile(claim_ms, 0.5):.1f}ms "
        f"p99={percentile(claim_ms, 0.99):.1f}ms; submit p50={percentile(submit_ms, 0.5):.1f}ms "
        f"p99={percentile(submit_ms, 0.99):.1f}ms; waited for a free worker {half['waited_for_worker']}x; "
        f"errors={len(half['errors'])}"
    )
    for err in (closed["errors"] + half["errors"])[:3]:
        print(f"  api error: {err}")
    sql_rate = sql["claims"] / sql["elapsed"]
    print(
        f"sql ({args.clients} connections): {sql['claims']} claim+accept cycles in {sql['elapsed']:.1f}s "
        f"= {sql_rate:.1f}/s, errors={len(sql['errors'])}"
    )
    for err in sql["errors"][:3]:
        print(f"  sql error: {err}")
    print(
        f"capacity_per_s={api['capacity']:.0f} sql_limit_per_s={sql_rate:.0f} "
        f"ratio={api['capacity'] / max(sql_rate, 1e-9):.2f} "
        f"claim_p99_ms_at_half={percentile(half['claims_ms'], 0.99):.0f} "
        f"submit_p99_ms_at_half={percentile(half['submits_ms'], 0.99):.0f} "
        f"round_trips={per['statements']:.1f} duplicates={dup}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64, help="closed-loop workers and SQL connections")
    parser.add_argument("--seconds", type=float, default=15.0, help="capacity run")
    parser.add_argument("--open-seconds", type=float, default=20.0, help="open-loop run at half capacity")
    parser.add_argument("--sql-seconds", type=float, default=10.0)
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--chunks", type=int, default=12_000, help="chunks of the API job")
    parser.add_argument("--sql-chunks", type=int, default=20_000, help="chunks of the SQL job")
    parser.add_argument("--trace", action="store_true", help="list one cycle's statements and stop")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return

    name, url = create_database()
    home = Path("/tmp") / name
    try:
        upgrade(url)
        workers = max(args.clients + 1, 128)  # the open loop's pool: many more than are ever busy
        data = seed(url, workers, api_chunks=args.chunks, sql_chunks=0 if args.trace else args.sql_chunks)
        print(f"seeded {name}: {workers} workers, chunks of {CHUNK}+{GT_PER} GT", flush=True)
        if args.trace:
            trace(url, home, data)
            return
        api = api_phases(args, url, home, data)
        sql = sql_phase(url, data["worker_ids"][: args.clients], data["sql_job"], args.sql_seconds)
        dup = duplicates(url)
    finally:
        drop_database(name)
    report(args, api, sql, dup)


if __name__ == "__main__":
    main()
