"""Many workers claiming, submitting and abandoning at once (threads, one session each).

Invariants: a chunk's slots are conserved (free + held + accepted = overlap, so no chunk is ever held
or accepted more than ``overlap`` times and none is lost), no worker holds more than one current and
one claimed-ahead assignment in a job, no worker gets a chunk back, no deadlock or unexpected error.

The scenarios are bounded by an amount of work (a number of claims), not by throughput: the time cap
only guards against hangs. Speed is measured by ``benchmarks/claims.py``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from marketplace.assignments import service
from marketplace.assignments.schemas import SubmissionIn
from marketplace.assignments.scoring import SimpleScorer, set_scorer_factory
from marketplace.assignments.service import open_job_for_work
from marketplace.config import Settings
from marketplace.db import get_engine, session_scope
from marketplace.errors import Conflict
from marketplace.flows import submission
from marketplace.jobs.states import transition
from marketplace.migrations import upgrade
from marketplace.models import (
    Assignment,
    AssignmentItem,
    AssignmentStatus,
    Chunk,
    GtAnnotation,
    Job,
    JobImage,
    JobStatus,
    Rail,
    Role,
    User,
    utcnow,
)

HELD = ("assigned", "submitted", "accepted")


@dataclass
class Tally:
    claims: int = 0
    ahead: int = 0
    submits: int = 0
    abandoned: int = 0
    nothing: int = 0
    races: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


def seed_job(
    factory: sessionmaker[Session], *, chunks: int, overlap: int, gt: int, workers: int
) -> tuple[int, list[int]]:
    """A boxes job with ``chunks`` x 2 data images and ``gt`` GT images (rows only: nothing is read
    from storage during claims), activated, plus ``workers`` worker accounts."""
    with session_scope(factory) as s:
        requester = User(email="req@example.org", password_hash="x", role=Role.requester)
        s.add(requester)
        s.flush()
        job = Job(
            requester_id=requester.id,
            type="boxes",
            title="load",
            description="",
            labels=["cat", "dog"],
            data_uri="/nonexistent/data",
            accuracy_target=0.5,
            iou_threshold=0.5,
            point_tolerance=0.1,
            bounty_amount=10**9,
            currency="usd",
            rail=Rail.card,
            assignment_size=2,
            gt_per_assignment=1,
            time_limit_s=600,
            overlap=overlap,
            max_attempts=3,
            image_count=chunks * 2 + gt,
            gt_count=gt,
        )
        s.add(job)
        s.flush()
        images = [
            JobImage(
                job_id=job.id,
                name=f"img{i:05d}.png",
                width=64,
                height=48,
                size_bytes=100,
                is_gt=i >= chunks * 2,
            )
            for i in range(chunks * 2 + gt)
        ]
        s.add_all(images)
        s.flush()
        s.add_all(
            GtAnnotation(job_id=job.id, image_id=img.id, label="cat", geometry=[4, 4, 20, 20])
            for img in images
            if img.is_gt
        )
        users = [User(email=f"w{i}@example.org", password_hash="x", role=Role.worker) for i in range(workers)]
        s.add_all(users)
        s.flush()
        open_without_files(s, job)
        return job.id, [u.id for u in users]


def open_without_files(session: Session, job: Job) -> None:
    """Activation without its ingest: these images are claimed here, never served (no renditions)."""
    transition(job, JobStatus.ingesting)
    transition(job, JobStatus.active)
    open_job_for_work(session, job)


def answers_for(factory: sessionmaker[Session], claim: Any, good: bool) -> SubmissionIn:
    tokens = [i.item_id for i in claim.items]
    with factory() as s:
        gt_tokens = set(
            s.scalars(
                select(AssignmentItem.token).where(
                    AssignmentItem.token.in_(tokens), AssignmentItem.is_gt.is_(True)
                )
            )
        )
    items = [
        {
            "item_id": t,
            "annotations": [{"label": "cat", "geometry": [4, 4, 20, 20]}]
            if (t in gt_tokens and good)
            else [],
        }
        for t in tokens
    ]
    return SubmissionIn.model_validate({"items": items})


def _claim(
    factory: sessionmaker[Session], settings: Settings, job_id: int, worker_id: int, ahead: bool
) -> Any:
    with session_scope(factory) as s:
        worker = s.get(User, worker_id)
        assert worker is not None
        return service.claim_in_job(s, worker, job_id, settings, ahead=ahead)


def worker_loop(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: int,
    worker_id: int,
    target: int,
    stop_at: float,
    tally: Tally,
    seed: int,
) -> None:
    """Claim (sometimes one ahead too), then submit, resubmit or walk away from each held assignment
    in order, until the scenario has made ``target`` claims."""
    rng = random.Random(seed)
    idle = 0
    held: list[Any] = []  # my active assignments, current first
    try_ahead = False  # once per fresh claim: also claim the next one ahead?
    while tally.claims < target and time.monotonic() < stop_at and idle < 20:
        if not held or try_ahead:
            ahead, try_ahead = bool(held), False
            try:
                held.append(_claim(factory, settings, job_id, worker_id, ahead))
            except service.NothingToClaim as exc:
                reason = exc.extra.get("reason")
                if reason != "no_assignments_left":
                    tally.errors.append(f"worker {worker_id}: {reason} (held {len(held)}, ahead={ahead})")
                if not ahead:
                    tally.add("nothing")
                    idle += 1
                    time.sleep(0.01)
                continue
            except Conflict:
                tally.add("races")
                continue
            except Exception as exc:  # deadlocks, integrity errors: all are bugs
                tally.errors.append(f"claim: {type(exc).__name__}: {exc}")
                continue
            idle = 0
            tally.add("claims")
            if ahead:
                tally.add("ahead")
            else:
                try_ahead = rng.random() < 0.4
            continue
        claim = held.pop(0)
        roll = rng.random()
        try:
            if roll < 0.2:  # walk away: the deadline passes and someone else's claim reclaims it
                with session_scope(factory) as s:
                    s.execute(
                        update(Assignment)
                        .where(Assignment.id == claim.assignment_id)
                        .values(deadline=utcnow() - timedelta(seconds=1))
                    )
                tally.add("abandoned")
                continue
            body = answers_for(factory, claim, good=roll < 0.75)
            for _ in range(1 + (roll > 0.9)):  # sometimes the same submission twice
                with session_scope(factory) as s:
                    worker = s.get(User, worker_id)
                    assert worker is not None
                    submission.submit(s, worker, claim.assignment_id, body)
            tally.add("submits")
        except Conflict as exc:
            tally.errors.append(f"submit conflict: {exc.detail}")
        except Exception as exc:
            tally.errors.append(f"submit: {type(exc).__name__}: {exc}")


def overheld(factory: sessionmaker[Session], overlap: int) -> list[Any]:
    """Chunks held more than ``overlap`` times, and workers holding more than one assignment per slot
    (or more than two) in a job, right now."""
    with factory() as s:
        chunks = (
            select(Assignment.chunk_id, func.count())
            .where(Assignment.status.in_(HELD))
            .group_by(Assignment.chunk_id)
            .having(func.count() > overlap)
        )
        active = Assignment.status == AssignmentStatus.assigned
        per_slot = (
            select(Assignment.worker_id, Assignment.slot, func.count())
            .where(active)
            .group_by(Assignment.job_id, Assignment.worker_id, Assignment.slot)
            .having(func.count() > 1)
        )
        per_worker = (
            select(Assignment.worker_id, func.count())
            .where(active)
            .group_by(Assignment.job_id, Assignment.worker_id)
            .having(func.count() > 2)
        )
        return [*s.execute(chunks), *s.execute(per_slot), *s.execute(per_worker)]


def run_scenario(
    settings: Settings, *, workers: int, chunks: int, overlap: int, claims: int, cap_s: float = 300.0
) -> Tally:
    url = settings.effective_database_url
    # 64 threads share 40 connections (a server shares its pool the same way): the PostgreSQL of CI and
    # of this machine (max_connections=100) is shared with other suites running at the same time
    pg_pool = {"pool_size": min(workers, 40), "max_overflow": 0, "pool_timeout": 120}
    engine = get_engine(settings) if url.startswith("sqlite") else create_engine(url, **pg_pool)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    job_id, worker_ids = seed_job(factory, chunks=chunks, overlap=overlap, gt=20, workers=workers)
    tally = Tally()
    stop_at = time.monotonic() + cap_s
    violations: list[Any] = []
    done = threading.Event()

    def monitor() -> None:
        while not done.is_set():
            violations.extend(overheld(factory, overlap))
            time.sleep(0.05)

    threads = [
        threading.Thread(target=worker_loop, args=(factory, settings, job_id, w, claims, stop_at, tally, i))
        for i, w in enumerate(worker_ids)
    ]
    watcher = threading.Thread(target=monitor)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert tally.errors == [], tally.errors[:5]
    assert violations == []
    check_invariants(factory, job_id, overlap)
    if engine is not get_engine(settings):
        engine.dispose()
    return tally


def check_invariants(factory: sessionmaker[Session], job_id: int, overlap: int) -> None:
    with factory() as s:
        rows = list(
            s.execute(
                select(Assignment.chunk_id, Assignment.worker_id, Assignment.status, Assignment.slot).where(
                    Assignment.job_id == job_id
                )
            )
        )
        chunks = {c.id: c for c in s.scalars(select(Chunk).where(Chunk.job_id == job_id))}
    pairs = Counter((chunk_id, worker_id) for chunk_id, worker_id, _, _ in rows)
    assert max(pairs.values()) == 1, "a worker got a chunk back"
    active = Counter(worker_id for _, worker_id, status, _ in rows if status == AssignmentStatus.assigned)
    assert not active or max(active.values()) <= 2, "a worker holds more than two assignments in the job"
    slots = Counter((w, slot) for _, w, status, slot in rows if status == AssignmentStatus.assigned)
    assert not slots or max(slots.values()) == 1, "a worker holds two current (or two next) assignments"
    held = Counter(chunk_id for chunk_id, _, status, _ in rows if status in HELD)
    accepted = Counter(chunk_id for chunk_id, _, status, _ in rows if status == AssignmentStatus.accepted)
    rejected = Counter(chunk_id for chunk_id, _, status, _ in rows if status == AssignmentStatus.rejected)
    for chunk in chunks.values():
        assert chunk.free_slots + held[chunk.id] == overlap, f"slots of chunk {chunk.id} not conserved"
        assert accepted[chunk.id] == chunk.accepted_count <= overlap
        assert rejected[chunk.id] == chunk.rejected_count
        if chunk.status == "done":
            assert accepted[chunk.id] == overlap
        if chunk.status == "open":
            assert chunk.free_slots > 0
        if chunk.status == "full":
            assert chunk.free_slots == 0


@pytest.fixture(autouse=True)
def simple_scorer() -> Iterator[None]:
    """The claim/submit/expiry machinery is under test here, not the quality engine's bookkeeping."""
    set_scorer_factory(lambda job: SimpleScorer())
    yield
    set_scorer_factory(None)


def test_concurrent_claims_postgresql(settings: Settings) -> None:
    tally = run_scenario(settings, workers=64, chunks=2000, overlap=2, claims=1000)
    print(
        f"postgresql: {tally.claims} claims ({tally.ahead} ahead), {tally.submits} submits, "
        f"{tally.abandoned} abandoned, {tally.nothing} nothing-left, {tally.races} races"
    )
    assert tally.claims >= 1000 and tally.submits >= 500
    assert tally.abandoned >= 50 and tally.ahead >= 100


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'tw.db'}"
    upgrade(url)
    return Settings(
        environment="test",
        home=tmp_path / "home",
        database_url=url,
        secret_key="test-secret-key-that-is-long-enough-000",
    )


def test_concurrent_claims_sqlite(sqlite_settings: Settings) -> None:
    tally = run_scenario(sqlite_settings, workers=12, chunks=80, overlap=1, claims=60)
    with get_engine(sqlite_settings).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    print(f"sqlite: {tally.claims} claims, {tally.submits} submits, {tally.abandoned} abandoned")
    assert tally.claims >= 60
