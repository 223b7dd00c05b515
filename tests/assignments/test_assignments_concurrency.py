"""Many workers claiming, submitting and abandoning at once (threads, one session each).

Invariants: a chunk's slots are conserved (free + held + accepted = overlap, so no chunk is ever held
or accepted more than ``overlap`` times and none is lost), no worker holds two assignments in a job,
no worker gets a chunk back, no deadlock or unexpected error.
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
from marketplace.config import Settings
from marketplace.db import get_engine, session_scope
from marketplace.errors import Conflict
from marketplace.jobs.lifecycle import activate_job
from marketplace.migrations import upgrade
from marketplace.models import (
    Assignment,
    AssignmentItem,
    AssignmentStatus,
    Chunk,
    GtAnnotation,
    Job,
    JobImage,
    Rail,
    Role,
    User,
    utcnow,
)

HELD = ("assigned", "submitted", "accepted")


@dataclass
class Tally:
    claims: int = 0
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
        activate_job(s, job)
        return job.id, [u.id for u in users]


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


def worker_loop(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: int,
    worker_id: int,
    stop_at: float,
    tally: Tally,
    seed: int,
) -> None:
    rng = random.Random(seed)
    idle = 0
    while time.monotonic() < stop_at and idle < 20:
        try:
            with session_scope(factory) as s:
                worker = s.get(User, worker_id)
                assert worker is not None
                claim = service.claim_in_job(s, worker, job_id, settings)
        except service.NothingToClaim as exc:
            tally.add("nothing")
            idle += 1
            if exc.extra.get("reason") == "previous_expiring":
                tally.add("races")
            elif exc.extra.get("reason") == "already_assigned":
                tally.errors.append(f"worker {worker_id} still held an assignment")
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
                    service.submit(s, worker, claim.assignment_id, body)
            tally.add("submits")
        except Conflict as exc:
            tally.errors.append(f"submit conflict: {exc.detail}")
        except Exception as exc:
            tally.errors.append(f"submit: {type(exc).__name__}: {exc}")


def overheld(factory: sessionmaker[Session], overlap: int) -> list[Any]:
    with factory() as s:
        stmt = (
            select(Assignment.chunk_id, func.count())
            .where(Assignment.status.in_(HELD))
            .group_by(Assignment.chunk_id)
            .having(func.count() > overlap)
        )
        return list(s.execute(stmt))


def run_scenario(settings: Settings, *, workers: int, chunks: int, overlap: int, seconds: float) -> Tally:
    url = settings.effective_database_url
    engine = get_engine(settings) if url.startswith("sqlite") else create_engine(url, pool_size=workers + 2)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    job_id, worker_ids = seed_job(factory, chunks=chunks, overlap=overlap, gt=20, workers=workers)
    tally = Tally()
    stop_at = time.monotonic() + seconds
    violations: list[Any] = []
    done = threading.Event()

    def monitor() -> None:
        while not done.is_set():
            violations.extend(overheld(factory, overlap))
            time.sleep(0.05)

    threads = [
        threading.Thread(target=worker_loop, args=(factory, settings, job_id, w, stop_at, tally, i))
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
                select(Assignment.chunk_id, Assignment.worker_id, Assignment.status).where(
                    Assignment.job_id == job_id
                )
            )
        )
        chunks = {c.id: c for c in s.scalars(select(Chunk).where(Chunk.job_id == job_id))}
    pairs = Counter((chunk_id, worker_id) for chunk_id, worker_id, _ in rows)
    assert max(pairs.values()) == 1, "a worker got a chunk back"
    active = Counter(worker_id for _, worker_id, status in rows if status == AssignmentStatus.assigned)
    assert not active or max(active.values()) == 1, "a worker holds two assignments in the job"
    held = Counter(chunk_id for chunk_id, _, status in rows if status in HELD)
    accepted = Counter(chunk_id for chunk_id, _, status in rows if status == AssignmentStatus.accepted)
    rejected = Counter(chunk_id for chunk_id, _, status in rows if status == AssignmentStatus.rejected)
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
    tally = run_scenario(settings, workers=64, chunks=2000, overlap=2, seconds=35)
    print(
        f"postgresql: {tally.claims} claims, {tally.submits} submits, {tally.abandoned} abandoned, "
        f"{tally.nothing} nothing-left, {tally.races} races"
    )
    # ~1,000 claims + ~800 submissions on an idle 2-core machine; the bound leaves room for load
    assert tally.claims + tally.submits >= 1000 and tally.abandoned >= 50


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
    tally = run_scenario(sqlite_settings, workers=12, chunks=80, overlap=1, seconds=8)
    with get_engine(sqlite_settings).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    print(f"sqlite: {tally.claims} claims, {tally.submits} submits, {tally.abandoned} abandoned")
    assert tally.claims >= 60
