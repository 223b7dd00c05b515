"""Load and faults: the demo's simulated crowd against the production setup on this machine.

Run: ``python benchmarks/load.py [--images 20000] [--workers 300] [--faults 3] ...``.

* Starts PostgreSQL (a fresh database on the local server), a private ``redis-server`` on a free port,
  SeaweedFS (S3 with auth), anvil with the token and the vault deployed (the eth-tester JSON-RPC
  server when anvil is absent), then the API under uvicorn, a Celery worker and Celery beat as
  subprocesses configured through the environment only (see :mod:`benchmarks._load_stack`).
* Renders tiny scenes with exact boxes, uploads them to S3 with boto3 and creates two jobs through the
  API with ``data_uri=s3://…``: one with overlap 1 and one with overlap 3 (``--overlap3-share`` of the
  images), each funded on chain by the requester's wallet.
* The simulated crowd (careful, sloppy, spammers, hasty: :mod:`marketplace.demo.crowd`) works both
  jobs over HTTP; a simulated reviewer works the dispute queue. Clients retry transport errors and
  5xx with backoff; a resubmission carries the same answers, which the API accepts as a replay.
* Meanwhile faults are injected on a schedule, rotating: SIGKILL of the Celery worker (then a
  restart), a restart of Redis, ``pg_terminate_backend`` of every connection to the benchmark
  database. After the jobs complete and the payouts settle, the database and the chain are checked:

  - ``double_assignments``: a chunk held by more than ``overlap`` assignments at one instant (an
    assignment holds its slot from claim until it expires or is rejected, for ever once accepted),
    or a worker holding two assignments of one job at once;
  - ``double_payouts``: an assignment with two earnings, an earning for work that was not accepted,
    a worker whose payout items or on-chain balance exceed their earnings;
  - ``lost_submissions``: a submission the API acknowledged that is not stored, an assignment left
    ``submitted`` (never scored), a chunk neither accepted nor in review;
  - ``ledger_mismatch``: a worker whose ledger ``worker_paid`` differs from the token balance of
    their wallet or from their payout items, an accepted assignment without an earning, a job whose
    books do not balance or still hold money, whose vault ``paid`` differs from the ledger, or an
    unsent payout.

Last line: ``images_per_min=<n> claims_per_s=<n> faults=<n> double_assignments=<n> double_payouts=<n>
lost_submissions=<n> ledger_mismatch=<n>``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._load_crowd import (  # noqa: E402
    PASSWORD,
    ApiError,
    Client,
    CrowdRun,
    CrowdWorker,
    Stats,
    link_wallet,
    review,
    work,
)
from benchmarks._load_stack import BUCKET, Stack, new_workdir  # noqa: E402
from marketplace.demo.crowd import crowd_mix  # noqa: E402
from marketplace.demo.scenes import LABELS, Scene, coco_for, render_scene  # noqa: E402
from marketplace.media.renditions import render as rendition  # noqa: E402

PAY_PER_ASSIGNMENT = 10_000  # 0.01 tUSD (6 decimals)
FAULT_KINDS = ("celery_sigkill", "redis_restart", "pg_terminate")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=20_000, help="data images over both jobs")
    p.add_argument("--workers", type=int, default=300, help="simulated crowd workers")
    p.add_argument("--overlap3-share", type=float, default=0.5, help="share of images in the overlap-3 job")
    p.add_argument("--gt-share", type=float, default=0.02, help="GT images per job, as a share (min 20)")
    p.add_argument("--assignment-size", type=int, default=10)
    p.add_argument("--gt-per-assignment", type=int, default=2)
    p.add_argument("--image-size", default="64x48", help="WxH of the rendered scenes")
    p.add_argument(
        "--time-scale",
        type=float,
        default=100.0,
        help="workers spend their profile's seconds per item divided by this",
    )
    p.add_argument("--faults", type=int, default=3, help="faults of each kind")
    p.add_argument("--fault-every", type=float, default=30.0, help="seconds between two faults")
    p.add_argument("--first-fault-after", type=float, default=15.0, help="seconds into the crowd phase")
    p.add_argument("--celery-concurrency", type=int, default=2)
    p.add_argument(
        "--rescore-after-s",
        type=float,
        default=None,
        help="TILEWORK_RESCORE_AFTER_S for the platform (default: the product's 60 s)",
    )
    p.add_argument("--max-minutes", type=float, default=60.0, help="give up on the crowd phase after this")
    p.add_argument("--settle-timeout", type=float, default=300.0, help="seconds for payouts to settle")
    p.add_argument("--eth-tester", action="store_true", help="use the eth-tester JSON-RPC server, not anvil")
    p.add_argument("--workdir", type=Path, default=None, help="keep logs and data here (default: a temp dir)")
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args(argv)


# -- data ----------------------------------------------------------------------------------------------


def render(prefix: str, count: int, seed: int, size: tuple[int, int]) -> tuple[list[Scene], list[bytes]]:
    """The scenes and their PNG files. A scene's ``sha256`` is that of what a worker downloads: its
    serving rendition (the same deterministic code the ingest runs), so the crowd recognises it."""
    scenes, blobs = [], []
    for i in range(count):
        scene, data = render_scene(f"img_{i:06d}.png", random.Random(seed * 10_000_019 + i), *size)
        scene.sha256 = hashlib.sha256(rendition(data, max_pixels=10**9).data).hexdigest()
        scenes.append(scene)
        blobs.append(data)
    return scenes, blobs


#: The requester's own bucket (the platform's bucket is never a job's data source).
DATA_BUCKET = f"{BUCKET}-data"


def upload(stack: Stack, prefix: str, scenes: list[Scene], blobs: list[bytes]) -> None:
    assert stack.s3 is not None
    client = stack.s3.client(max_pool_connections=32)
    if DATA_BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=DATA_BUCKET)

    def put(pair: tuple[Scene, bytes]) -> None:
        client.put_object(
            Bucket=DATA_BUCKET, Key=f"{prefix}/{pair[0].name}", Body=pair[1], ContentType="image/png"
        )

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(put, zip(scenes, blobs, strict=True)))


def job_spec(title: str, data_images: int, overlap: int, args: argparse.Namespace) -> dict[str, Any]:
    chunks = math.ceil(data_images / args.assignment_size)
    bounty = 2 * chunks * overlap * PAY_PER_ASSIGNMENT
    return {
        "type": "boxes",
        "title": title,
        "description": "Draw a tight box around every square, disc and triangle; pick its label.",
        "labels": list(LABELS),
        "accuracy_target": 0.7,
        "iou_threshold": 0.6,
        "bounty_amount": bounty,
        "currency": "tUSD",
        "rail": "chain",
        "assignment_size": args.assignment_size,
        "gt_per_assignment": args.gt_per_assignment,
        "overlap": overlap,
        "time_limit_s": 300,
    }


def make_jobs(
    stack: Stack, requester: Client, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[Scene]]:
    size = tuple(int(v) for v in args.image_size.split("x"))
    n3 = round(args.images * args.overlap3_share)
    plan = [("job-overlap1", args.images - n3, 1), ("job-overlap3", n3, 3)]
    jobs, all_scenes = [], []
    for index, (prefix, data_count, overlap) in enumerate(plan):
        if data_count <= 0:
            continue
        gt_count = max(20, args.gt_per_assignment, round(data_count * args.gt_share))
        t0 = time.monotonic()
        scenes, blobs = render(prefix, data_count + gt_count, args.seed + index, size)  # type: ignore[arg-type]
        t1 = time.monotonic()
        upload(stack, prefix, scenes, blobs)
        t2 = time.monotonic()
        prove_prefix(stack, requester, prefix)
        gt_scenes = random.Random(args.seed).sample(scenes, gt_count)
        body = {
            **job_spec(f"Load {prefix}", data_count, overlap, args),
            "data_uri": f"s3://{DATA_BUCKET}/{prefix}",
            "gt": coco_for(gt_scenes),
        }
        job = requester.post("/api/jobs", json=body)
        log(
            f"{prefix}: {data_count} images + {gt_count} GT rendered in {t1 - t0:.1f}s, uploaded in "
            f"{t2 - t1:.1f}s, job {job['id']} created over the API in {time.monotonic() - t2:.1f}s"
        )
        jobs.append(job)
        all_scenes += scenes
    return jobs, all_scenes


def prove_prefix(stack: Stack, requester: Client, prefix: str) -> None:
    """Show the platform the requester owns the prefix: register it, write the token, verify."""
    assert stack.s3 is not None
    source = requester.post("/api/data-sources", json={"uri": f"s3://{DATA_BUCKET}/{prefix}"})
    stack.s3.client().put_object(
        Bucket=DATA_BUCKET, Key=f"{prefix}/tilework-owner.txt", Body=source["token"].encode()
    )
    requester.post(f"/api/data-sources/{source['id']}/verify", json={})


def fund(stack: Stack, requester: Client, job: dict[str, Any]) -> None:
    from marketplace.escrow.chain import ChainEscrow

    assert stack.chain is not None
    plan = requester.post(f"/api/jobs/{job['id']}/fund", json={})
    wallet = stack.chain.requester
    escrow = ChainEscrow(stack.chain.w3(), plan["vault_address"], wallet)
    escrow.fund_job(
        wallet, plan["chain_job_id"], plan["token_address"], int(plan["amount"]), int(plan["deadline"])
    )


def poke(stack: Stack, task: str) -> None:
    """Send a periodic task now (what beat does on its schedule), so the run need not wait a slot."""
    from celery import Celery

    assert stack.redis is not None
    producer = Celery("tilework-load", broker=stack.redis.url)
    try:
        producer.send_task(task, queue="tilework")
    finally:
        producer.close()


def wait_until(predicate: Any, what: str, timeout: float, every: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception as exc:  # a fault in progress: try again
            log(f"  (waiting for {what}: {type(exc).__name__})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


# -- accounts ------------------------------------------------------------------------------------------


def make_crowd(stack: Stack, args: argparse.Namespace, stats: Stats, run_id: str) -> list[CrowdWorker]:
    def one(index_profile: tuple[int, Any]) -> CrowdWorker:
        i, profile = index_profile
        client = Client(stack.base_url, stats)
        email = f"{profile.kind}{i}-{run_id}@load.tilework"
        client.sign_up(email, "worker")
        worker = CrowdWorker(email, profile, client)
        worker.wallet = link_wallet(client)
        return worker

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, enumerate(crowd_mix(args.workers))))


def make_reviewer(stack: Stack, stats: Stats, run_id: str) -> Client:
    """A reviewer account is made by the operator: ``tilework user create --role reviewer``."""
    email = f"reviewer-{run_id}@load.tilework"
    stack.run_tool(
        "-m",
        "marketplace.cli",
        "user",
        "create",
        "--email",
        email,
        "--password",
        PASSWORD,
        "--role",
        "reviewer",
        "--no-token",
    )
    reviewer = Client(stack.base_url, stats)
    reviewer.login(email)
    return reviewer


# -- faults --------------------------------------------------------------------------------------------


class Supervisor(threading.Thread):
    """Restarts a platform process that died on its own (as a process supervisor would in production);
    every such restart is reported, since it is a crash the faults provoked."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(name="supervisor", daemon=True)
        self.stack = stack
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(1.0):
            for what in self.stack.supervise():
                log(f"SUPERVISOR restarted {what}, which exited on its own")


class FaultInjector(threading.Thread):
    def __init__(self, stack: Stack, args: argparse.Namespace) -> None:
        super().__init__(name="fault-injector", daemon=True)
        self.stack = stack
        self.plan = [FAULT_KINDS[i % len(FAULT_KINDS)] for i in range(args.faults * len(FAULT_KINDS))]
        self.first_after = args.first_fault_after
        self.every = args.fault_every
        self.stop_event = threading.Event()
        self.injected: list[tuple[float, str, str]] = []
        self.errors: list[str] = []

    @property
    def finished(self) -> bool:
        return len(self.injected) + len(self.errors) >= len(self.plan)

    def run(self) -> None:
        started = time.monotonic()
        for n, kind in enumerate(self.plan):
            if self.stop_event.wait(max(0.0, started + self.first_after + n * self.every - time.monotonic())):
                return
            try:
                note = self.inject(kind)
            except Exception as exc:  # reported; the run goes on
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                log(f"FAULT {kind} could not be injected: {exc}")
                continue
            self.injected.append((time.monotonic() - started, kind, note))
            log(f"FAULT {len(self.injected)}/{len(self.plan)} {kind} {note}")

    def inject(self, kind: str) -> str:
        t0 = time.monotonic()
        if kind == "celery_sigkill":
            self.stack.kill_worker()
            return f"(killed and restarted in {time.monotonic() - t0:.1f}s)"
        if kind == "redis_restart":
            self.stack.restart_redis()
            return f"(down and back in {time.monotonic() - t0:.1f}s)"
        terminated = self.stack.terminate_db_connections()
        return f"({terminated} connections terminated)"


# -- the run -------------------------------------------------------------------------------------------


def run_crowd(
    stack: Stack,
    jobs: list[dict[str, Any]],
    scenes: list[Scene],
    workers: list[CrowdWorker],
    reviewer: Client,
    requester: Client,
    stats: Stats,
    args: argparse.Namespace,
    injector: FaultInjector,
) -> tuple[float, Counter[str]]:
    run = CrowdRun({s.sha256: s for s in scenes}, [j["id"] for j in jobs], stats, args.time_scale)
    decided: Counter[str] = Counter()
    started = time.monotonic()
    deadline = started + args.max_minutes * 60
    injector.start()
    last_report = 0.0
    with ThreadPoolExecutor(max_workers=len(workers) + 1) as pool:
        futures = [pool.submit(work, w, run, args.seed + i) for i, w in enumerate(workers)]
        futures.append(pool.submit(review, reviewer, run, decided))
        try:
            while True:
                time.sleep(2.0)
                try:
                    progress = [requester.get(f"/api/jobs/{j['id']}/progress") for j in jobs]
                except ApiError:
                    continue
                now = time.monotonic()
                if now - last_report >= 15:
                    last_report = now
                    parts = [f"job {p['job_id']} {p['status']} chunks {p['chunks']}" for p in progress]
                    log(
                        f"{now - started:6.0f}s claims={stats.counts['claims']} "
                        f"submits={stats.counts['submits']} " + " | ".join(parts)
                    )
                if all(p["status"] == "completed" for p in progress):
                    break
                if all(f.done() for f in futures[:-1]):
                    log("every worker stopped (banned or out of work) before the jobs completed")
                    break
                if now > deadline:
                    log(f"crowd phase cut at --max-minutes {args.max_minutes}")
                    break
        finally:
            elapsed = time.monotonic() - started
            run.done.set()
            for w in workers:
                w.client.abort.set()
            reviewer.abort.set()
        for f in futures:
            exc = f.exception()
            if exc is not None:
                log(f"a crowd thread failed: {type(exc).__name__}: {exc}")
                stats.add("crowd_thread_failed")
    return elapsed, decided


def settled(stack: Stack, job_ids: list[int]) -> bool:
    import psycopg

    from benchmarks._load_stack import pg_conninfo

    with psycopg.connect(pg_conninfo(stack.db_url)) as conn:
        statuses = dict(conn.execute("SELECT id, status FROM jobs WHERE id = ANY(%s)", (job_ids,)).fetchall())
        (pending,) = conn.execute(
            "SELECT count(*) FROM payout_outbox WHERE processed_at IS NULL AND job_id = ANY(%s)", (job_ids,)
        ).fetchone()
        (open_payouts,) = conn.execute(
            "SELECT count(*) FROM payouts WHERE status <> 'done' AND job_id = ANY(%s)", (job_ids,)
        ).fetchone()
        (closed,) = conn.execute(
            "SELECT count(*) FROM job_fundings WHERE closed_at IS NOT NULL AND job_id = ANY(%s)", (job_ids,)
        ).fetchone()
    return (
        all(statuses.get(j) == "completed" for j in job_ids)
        and pending == 0
        and open_payouts == 0
        and closed == len(job_ids)
    )


# -- checks --------------------------------------------------------------------------------------------


def _max_concurrent(intervals: list[tuple[datetime, datetime | None]]) -> int:
    events: list[tuple[datetime, int]] = []
    for start, end in intervals:
        events.append((start, 1))
        if end is not None:
            events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an end at the same instant as a start frees first
    best = cur = 0
    for _, delta in events:
        cur += delta
        best = max(best, cur)
    return best


def job_books(balances: list[Any], kinds: list[Any], job_id: int) -> dict[str, int]:
    """A job's books from the ledger's rows (the same figures as ``ledger.service.job_books``)."""
    acct = {a: int(v) for j, a, v in balances if j == job_id}
    kind = {k: int(v) for j, k, v in kinds if j == job_id}
    return {
        "funded": kind.get("funding", 0),
        "refunded": kind.get("refund", 0),
        "fees": acct.get("platform", 0),
        "paid": acct.get("worker_paid", 0),
        "held": acct.get("job_escrow", 0) + acct.get("worker_payable", 0),
        "entries_sum": sum(acct.values()),
    }


def check(
    stack: Stack, jobs: list[dict[str, Any]], workers: list[CrowdWorker], stats: Stats
) -> dict[str, Any]:
    import psycopg

    from benchmarks._load_stack import pg_conninfo
    from marketplace.escrow.chain import ChainEscrow

    assert stack.chain is not None
    job_ids = [j["id"] for j in jobs]
    overlap = {j["id"]: j["overlap"] for j in jobs}
    problems: dict[str, Counter[str]] = defaultdict(Counter)
    with psycopg.connect(pg_conninfo(stack.db_url)) as conn:
        rows = conn.execute(
            "SELECT id, job_id, chunk_id, worker_id, status, created_at, submitted_at, finished_at,"
            " submission_hash"
            " FROM assignments WHERE job_id = ANY(%s)",
            (job_ids,),
        ).fetchall()
        chunk_rows = conn.execute(
            "SELECT id, job_id, status, free_slots FROM chunks WHERE job_id = ANY(%s)", (job_ids,)
        ).fetchall()
        earnings = conn.execute(
            "SELECT idem_key FROM ledger_transactions WHERE kind = 'earning' AND job_id = ANY(%s)", (job_ids,)
        ).fetchall()
        items = conn.execute(
            "SELECT pi.user_id, sum(pi.amount) FROM payout_items pi JOIN payouts p ON p.id = pi.payout_id"
            " WHERE p.kind = 'workers' AND p.status = 'done' AND p.job_id = ANY(%s) GROUP BY pi.user_id",
            (job_ids,),
        ).fetchall()
        wallets = dict(
            conn.execute(
                "SELECT user_id, destination FROM payout_destinations"
                " WHERE rail = 'chain' AND verified_at IS NOT NULL"
            ).fetchall()
        )
        fundings = conn.execute(
            "SELECT job_id, chain_job_id, pay_per_assignment FROM job_fundings WHERE job_id = ANY(%s)",
            (job_ids,),
        ).fetchall()
        (images_done,) = conn.execute(
            "SELECT count(*) FROM chunk_images ci JOIN chunks c ON c.id = ci.chunk_id"
            " WHERE c.status = 'done' AND c.job_id = ANY(%s)",
            (job_ids,),
        ).fetchone()
        balances = conn.execute(
            "SELECT job_id, account_type, sum(amount) FROM ledger_entries WHERE job_id = ANY(%s)"
            " GROUP BY job_id, account_type",
            (job_ids,),
        ).fetchall()
        kinds = conn.execute(
            "SELECT job_id, kind, sum(amount) FROM ledger_transactions WHERE job_id = ANY(%s)"
            " GROUP BY job_id, kind",
            (job_ids,),
        ).fetchall()
        worker_paid = conn.execute(
            "SELECT owner_id, job_id, sum(amount) FROM ledger_entries"
            " WHERE account_type = 'worker_paid' AND job_id = ANY(%s) GROUP BY owner_id, job_id",
            (job_ids,),
        ).fetchall()
        (pending_payouts,) = conn.execute(
            "SELECT count(*) FROM payouts WHERE status <> 'done' AND job_id = ANY(%s)", (job_ids,)
        ).fetchone()

    # One slot per issue: a chunk never has more than `overlap` holders at one instant. A claim stores
    # the time its request began (``created_at``) and takes the slot later in that request; a scoring
    # sets ``finished_at`` before it commits. So a hold surely began by created_at + the claim's
    # latency seen by the client, and surely lasted until finished_at: overlaps are counted on those
    # bounds (no false alarms from the clocks), and the slot books are checked exactly at the end.
    slack = max(stats.claim_latency_s, default=0.0)
    by_chunk: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    by_worker: dict[tuple[int, int], list[tuple[datetime, datetime | None]]] = defaultdict(list)
    live: Counter[int] = Counter()
    accepted_in: Counter[int] = Counter()
    chunk_job = {cid: jid for cid, jid, _s, _f in chunk_rows}
    for aid, jid, cid, wid, status, created, submitted, finished, _h in rows:
        began = created + timedelta(seconds=stats.claim_latency_by_id.get(aid, slack))
        holds_until = None if status in ("accepted", "assigned", "submitted") else finished
        if holds_until is None or began < holds_until:
            by_chunk[cid].append((began, holds_until))
        by_worker[(jid, wid)].append((created, submitted or finished))
        live[cid] += status in ("accepted", "assigned", "submitted")
        accepted_in[cid] += status == "accepted"
    examples: list[Any] = []
    for cid, intervals in by_chunk.items():
        excess = _max_concurrent(intervals) - overlap[chunk_job[cid]]
        if excess > 0:
            problems["double_assignments"]["chunk held beyond overlap"] += excess
            if len(examples) < 3:
                examples.append(
                    [[a, w, st, str(cr), str(fi)] for a, _j, c, w, st, cr, _s, fi, _h in rows if c == cid]
                )
    for cid, jid, status, free_slots in chunk_rows:
        if live[cid] > overlap[jid] or accepted_in[cid] > overlap[jid]:
            problems["double_assignments"]["chunk issued beyond overlap"] += 1
        if status != "in_review" and free_slots != overlap[jid] - live[cid]:
            problems["double_assignments"]["chunk slot books off"] += 1
    for intervals in by_worker.values():
        excess = _max_concurrent(intervals) - 1
        if excess > 0:
            problems["double_assignments"]["worker held two at once"] += excess

    # nothing lost
    stored = {aid: (status, h) for aid, _j, _c, _w, status, _cr, _s, _f, h in rows}
    for aid in stats.submitted:
        if aid not in stored or stored[aid][1] is None:
            problems["lost_submissions"]["acknowledged but not stored"] += 1
    problems["lost_submissions"]["left submitted (never scored)"] += sum(
        1 for v in stored.values() if v[0] == "submitted"
    )
    problems["lost_submissions"]["chunk neither accepted nor in review"] += sum(
        1 for _c, _j, status, _f in chunk_rows if status not in ("done", "in_review")
    )

    # paid exactly once
    earned_count = Counter(
        int(key.rsplit(":", 1)[1]) for (key,) in earnings if key.startswith("earning:assignment:")
    )
    accepted = {aid for aid, (status, _h) in stored.items() if status == "accepted"}
    problems["double_payouts"]["assignment earned twice"] += sum(1 for n in earned_count.values() if n > 1)
    problems["double_payouts"]["earning for work not accepted"] += len(set(earned_count) - accepted)
    problems["ledger_mismatch"]["accepted but no earning"] += len(accepted - set(earned_count))
    pay = {jid: int(ppa) for jid, _c, ppa in fundings}
    job_of = {aid: jid for aid, jid, *_ in rows}
    worker_of = {aid: wid for aid, _j, _c, wid, *_ in rows}
    earned_by_worker: Counter[int] = Counter()
    for aid in earned_count:
        earned_by_worker[worker_of[aid]] += pay[job_of[aid]] * earned_count[aid]
    items_by_worker = {int(uid): int(total) for uid, total in items if uid is not None}

    escrow = ChainEscrow(stack.chain.w3(), stack.chain.escrow_address, stack.chain.requester)
    token = escrow.token(stack.chain.token_address)
    ledger_paid: Counter[int] = Counter()
    for wid, _jid, amount in worker_paid:
        ledger_paid[int(wid)] += int(amount)
    for jid in job_ids:
        books = job_books(balances, kinds, jid)
        if (
            books["entries_sum"] != 0
            or books["funded"] != books["fees"] + books["paid"] + books["refunded"] + books["held"]
            or books["held"] != 0
        ):
            problems["ledger_mismatch"][f"job {jid} books unbalanced or holding money"] += 1
        chain_job = next(c for j, c, _p in fundings if j == jid)
        info = escrow.get_job(chain_job)
        if info.paid != books["paid"] + books["fees"] or info.refunded != books["refunded"] or info.remaining:
            problems["ledger_mismatch"][f"job {jid} vault paid/refunded != ledger"] += 1
    problems["ledger_mismatch"]["payouts not done"] += pending_payouts
    for wid in set(earned_by_worker) | set(ledger_paid) | set(items_by_worker):
        on_chain = int(token.functions.balanceOf(wallets[wid]).call()) if wid in wallets else 0
        earned, paid, sent = earned_by_worker[wid], ledger_paid[wid], items_by_worker.get(wid, 0)
        if sent > earned or on_chain > earned:
            problems["double_payouts"]["worker paid more than earned"] += 1
        if on_chain != paid:
            problems["ledger_mismatch"]["ledger paid != on-chain balance"] += 1
        if sent != paid:
            problems["ledger_mismatch"]["ledger paid != payout items"] += 1
        if paid != earned:
            problems["ledger_mismatch"]["ledger paid != earnings"] += 1
    status_counts = Counter(status for _a, _j, _c, _w, status, *_ in rows)
    return {
        "problems": {k: dict(v) for k, v in problems.items()},
        "totals": {k: sum(v.values()) for k, v in problems.items()},
        "assignments": dict(status_counts),
        "images_done": int(images_done),
        "examples": examples,
        "workers_paid": sum(1 for v in ledger_paid.values() if v),
        "paid_total": sum(ledger_paid.values()),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 1)  # noqa: E731
    return {"p50": pick(0.5), "p99": pick(0.99), "max": round(ordered[-1] * 1000, 1), "n": len(ordered)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = f"{random.randrange(16**6):06x}"
    workdir = new_workdir(args.workdir)
    extra_env = (
        {} if args.rescore_after_s is None else {"TILEWORK_RESCORE_AFTER_S": str(args.rescore_after_s)}
    )
    stack = Stack(workdir, celery_concurrency=args.celery_concurrency, extra_env=extra_env)
    stats = Stats()
    injector = FaultInjector(stack, args)
    supervisor = Supervisor(stack)
    t_start = time.monotonic()
    try:
        log(
            f"workdir {workdir}; starting PostgreSQL db, Redis, SeaweedFS, chain, API, Celery worker and beat"
        )
        stack.start(prefer_anvil=not args.eth_tester)
        assert stack.chain is not None
        supervisor.start()
        log(
            f"stack up in {time.monotonic() - t_start:.1f}s: API {stack.base_url}, chain {stack.chain.kind}, "
            f"db {stack.db_name}, redis {stack.redis.url if stack.redis else ''}"
        )
        requester = Client(stack.base_url, stats, timeout=1800)
        requester.sign_up(f"requester-{run_id}@load.tilework", "requester")
        jobs, scenes = make_jobs(stack, requester, args)
        requester.http.timeout = httpx.Timeout(30.0)  # the long wait was for the intake of the images
        for job in jobs:
            fund(stack, requester, job)
        poke(stack, "payments.poll_chain_funding")
        wait_until(
            lambda: all(requester.get(f"/api/jobs/{j['id']}")["status"] == "active" for j in jobs),
            "the chain funding to activate the jobs (their images ingested)",
            900,
        )
        t0 = time.monotonic()
        workers = make_crowd(stack, args, stats, run_id)
        reviewer = make_reviewer(stack, stats, run_id)
        log(f"{len(workers)} workers registered with wallets in {time.monotonic() - t0:.1f}s; crowd starts")
        crowd_s, decided = run_crowd(stack, jobs, scenes, workers, reviewer, requester, stats, args, injector)
        log(f"crowd phase {crowd_s:.1f}s; settling payouts (faults continue until all are injected)")
        job_ids = [j["id"] for j in jobs]

        def all_settled() -> bool:
            return injector.finished and settled(stack, job_ids)

        try:
            wait_until(
                all_settled,
                "the payouts to settle",
                args.settle_timeout + len(injector.plan) * args.fault_every,
                every=3.0,
            )
        except TimeoutError as exc:
            log(str(exc))
        injector.stop_event.set()
        injector.join(timeout=120)
        try:  # after the last fault, let everything come back and finish
            wait_until(
                lambda: settled(stack, job_ids), "the payouts to settle after the last fault", 120, every=2.0
            )
        except TimeoutError as exc:
            log(str(exc))
        result = check(stack, jobs, workers, stats)
        data_images = sum(j["image_count"] - j["gt_count"] for j in jobs)
        claims = stats.counts["claims"]
        lat = sorted(stats.claim_latency_s) or [0.0]
        summary = {
            "images": data_images,
            "workers": len(workers),
            "chain": stack.chain.kind,
            "crowd_s": round(crowd_s, 1),
            "total_s": round(time.monotonic() - t_start, 1),
            "claims": claims,
            "claim_p50_ms": round(lat[len(lat) // 2] * 1000, 1),
            "claim_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
            "submits": stats.counts["submits"],
            "latency_ms": {op: _percentiles(v) for op, v in stats.timings.items()},
            "faults": [f"{round(t)}s {k} {n}" for t, k, n in injector.injected],
            "fault_errors": injector.errors,
            "crashed_and_restarted": [f"{name} (exit {code})" for name, code in stack.crashes],
            "client": {k: v for k, v in sorted(stats.counts.items()) if k not in ("claims", "submits")},
            "reviewer_decisions": dict(decided),
            **result,
        }
        print(json.dumps(summary), flush=True)
        totals = result["totals"]
        line = (
            f"images_per_min={result['images_done'] / (crowd_s / 60):.1f} "
            f"claims_per_s={claims / crowd_s:.2f} "
            f"faults={len(injector.injected)} double_assignments={totals.get('double_assignments', 0)} "
            f"double_payouts={totals.get('double_payouts', 0)} "
            f"lost_submissions={totals.get('lost_submissions', 0)} "
            f"ledger_mismatch={totals.get('ledger_mismatch', 0)}"
        )
        print(line, flush=True)
        return 0 if not any(totals.values()) else 1
    finally:
        injector.stop_event.set()
        supervisor.stop_event.set()
        if supervisor.is_alive():
            supervisor.join(timeout=60)
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
