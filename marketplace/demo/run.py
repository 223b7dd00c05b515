"""The demo, phase by phase: every step goes through the product's real HTTP API and tasks.

Phases: set up (migrations, the app on a local port, the in-process beat and chain) → render a
dataset → create the job (upload) → fund it from a wallet on the chain → a simulated crowd claims
and submits → quality engine accepts, rejects, bans, merges → payouts on chain → results and report.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import random
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from marketplace.demo.client import ApiClient, ApiError
from marketplace.demo.crowd import Profile, answer_boxes, answer_class, crowd_mix, interactions
from marketplace.demo.datasets import DemoDataset, from_answers_csv, from_coco, rendered
from marketplace.demo.scenes import Scene
from marketplace.progress import Progress
from marketplace.quality.scoring import BoxSet, score_boxes

PASSWORD = "demo-password-123"
WAIT_S = 180.0
#: Simulated workers spend their profile's seconds per item divided by this (a careful 4 s becomes
#: 200 ms), and the platform's "too fast" floor is scaled the same way for the demo.
TIME_SCALE = 20.0


@dataclass
class DemoOptions:
    images: int = 60
    workers: int = 12
    gt_share: float = 0.25
    overlap: int = 1
    assignment_size: int = 5
    gt_per_assignment: int = 2
    bounty: int = 600_000_000  # base units of the dev token (6 decimals): 600 tUSD
    seed: int = 7
    serve: bool = False
    port: int = 0
    quiet: bool = False
    coco: Path | None = None  # with images_dir: boxes from a COCO file instead of rendered scenes
    images_dir: Path | None = None
    tiled_dir: Path | None = None  # with answers: a tiled yes/no job
    answers: Path | None = None
    answer_column: str = "label"


@dataclass
class Crowd:
    profiles: dict[str, Profile] = field(default_factory=dict)
    submitted: Counter[str] = field(default_factory=Counter)
    stop_reason: dict[str, str] = field(default_factory=dict)
    reviewed: Counter[str] = field(default_factory=Counter)
    ids: dict[int, str] = field(default_factory=dict)  # worker id -> email


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _phase(name: str, quiet: bool, total: int | None = None) -> Iterator[Progress]:
    bar = Progress(f"{name:>10}", total=total, quiet=quiet, unit="step")
    try:
        yield bar
    finally:
        if total is not None and bar.n < total:
            bar.update(total - bar.n)
        bar.close()


# -- setup --------------------------------------------------------------------------------------------


@dataclass
class Platform:
    base_url: str
    server: Any
    thread: threading.Thread
    beat: Any
    rpc: Any
    dev_chain: Any

    def stop(self) -> None:
        self.beat.stop()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.rpc.close()


def start_platform(options: DemoOptions) -> Platform:
    """Migrate the embedded database, start the app on a local port, the beat and the chain's RPC."""
    import uvicorn

    from marketplace.app import create_app
    from marketplace.config import get_settings
    from marketplace.escrow.evm import serve_json_rpc
    from marketplace.migrations import upgrade
    from marketplace.payments.rails import get_rails
    from workers.celery_app import celery_app
    from workers.inprocess import InProcessBeat

    port = options.port or _free_port()
    os.environ.setdefault("TILEWORK_PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    os.environ.setdefault("TILEWORK_MIN_SECONDS_PER_ITEM", str(1.0 / TIME_SCALE))
    # the simulated crowd signs in from one address (127.0.0.1): not a login flood
    os.environ.setdefault("TILEWORK_LOGIN_MAX_PER_ADDRESS", "100000")
    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    upgrade(settings.effective_database_url)
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="tilework-demo-api", daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    rails = get_rails()
    dev_chain = rails.extra.get("dev_chain")
    if dev_chain is None:
        raise RuntimeError("the demo funds on the embedded chain: unset TILEWORK_CHAIN_RPC_URL")
    rpc = serve_json_rpc(dev_chain.w3)
    beat = InProcessBeat(celery_app, speedup=15.0).start()
    return Platform(f"http://127.0.0.1:{port}", server, thread, beat, rpc, dev_chain)


# -- requester ------------------------------------------------------------------------------------------


def create_job(api: ApiClient, data: DemoDataset, options: DemoOptions) -> dict[str, Any]:
    gt_names = data.pick_gt(options.gt_share, options.gt_per_assignment, options.seed)
    tiled = data.job_type == "classification"
    spec = {
        "type": data.job_type,
        "title": data.title,
        "description": data.description,
        "labels": data.labels,
        "accuracy_target": 0.7,
        "iou_threshold": 0.6,
        "bounty_amount": options.bounty,
        "currency": "tUSD",
        "rail": "chain",
        "assignment_size": 18 if tiled else options.assignment_size,
        "gt_per_assignment": options.gt_per_assignment,
        "overlap": options.overlap,
        "time_limit_s": 600,
    }
    files = [
        ("images", (name, (data.folder / name).read_bytes(), mimetypes.guess_type(name)[0] or "image/jpeg"))
        for name in sorted(data.scenes)
    ]
    files.append(("gt", ("gt.json", json.dumps(data.gt_coco(gt_names)).encode(), "application/json")))
    job: dict[str, Any] = api.post("/api/jobs/upload", data={"spec": json.dumps(spec)}, files=files)
    job["gt_names"] = gt_names
    return job


def fund_on_chain(api: ApiClient, platform: Platform, job_id: int) -> dict[str, Any]:
    """What a wallet does: approve the vault, then fund the job, over the chain's JSON-RPC."""
    from web3 import HTTPProvider, Web3

    from marketplace.escrow.chain import ChainEscrow

    plan: dict[str, Any] = api.post(f"/api/jobs/{job_id}/fund", json={})
    plan["first_block"] = int(platform.dev_chain.w3.eth.block_number) + 1
    requester_wallet = platform.dev_chain.accounts[0]
    w3 = Web3(HTTPProvider(platform.rpc.url))
    wallet = ChainEscrow(w3, plan["vault_address"], requester_wallet)
    result = wallet.fund_job(
        requester_wallet,
        plan["chain_job_id"],
        plan["token_address"],
        int(plan["amount"]),
        int(plan["deadline"]),
    )
    plan["gas_used"] = result.approve.gas_used + result.fund.gas_used
    return plan


def results_on_chain(api: ApiClient, platform: Platform, plan: dict[str, Any], job_id: int) -> bool:
    """Whether the vault's record of the job holds the hash of the results the requester downloads
    (SHA-256 of the listing's ``<name> <sha256>`` lines, sorted by name), checked from outside."""
    from web3 import HTTPProvider, Web3

    from marketplace.escrow.chain import ChainEscrow

    files = sorted(api.get(f"/api/jobs/{job_id}/results"), key=lambda f: f["name"])
    manifest = "".join(f"{f['name']} {f['sha256']}\n" for f in files).encode()
    w3 = Web3(HTTPProvider(platform.rpc.url))
    vault = ChainEscrow(w3, plan["vault_address"], platform.dev_chain.accounts[0])

    def recorded() -> bool:
        return vault.get_job(plan["chain_job_id"]).results_hash == hashlib.sha256(manifest).digest()

    try:
        wait_for(recorded, "the results' hash on chain", timeout=30)
    except TimeoutError:
        return False
    return True


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


# -- the crowd ------------------------------------------------------------------------------------------


def _link_wallet(worker: ApiClient) -> None:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    account = Account.create()
    challenge = worker.post("/api/payouts/wallet/nonce", json={"address": account.address})
    signed = account.sign_message(encode_defunct(text=challenge["message"]))
    worker.post(
        "/api/payouts/wallet/verify",
        json={"message": challenge["message"], "signature": signed.signature.to_0x_hex()},
    )


def make_crowd(base_url: str, options: DemoOptions, run_id: str) -> tuple[list[ApiClient], Crowd]:
    crowd = Crowd()
    clients = []
    for i, profile in enumerate(crowd_mix(options.workers)):
        worker = ApiClient(base_url)
        email = f"{profile.kind}{i}-{run_id}@demo.tilework"
        worker.sign_up(email, PASSWORD, "worker")
        _link_wallet(worker)
        crowd.profiles[email] = profile
        crowd.ids[worker.get("/api/me")["id"]] = email
        clients.append(worker)
    return clients, crowd


def _answer(worker: ApiClient, assignment: dict[str, Any], data: DemoDataset,
            recognise: Callable[[bytes], Scene], profile: Profile,
            rng: random.Random, labels: Sequence[str] | None) -> dict[str, Any]:  # fmt: skip
    items = []
    for position, item in enumerate(assignment["items"]):
        scene = recognise(worker.fetch(item["image_url"]))
        if data.job_type == "classification":
            annotations = answer_class(scene, profile, rng, data.labels)
        elif labels is not None:  # a pipeline stage: only its labels' objects
            only = replace(scene, shapes=[s for s in scene.shapes if s.label in labels])
            annotations = answer_boxes(only, profile, rng, labels)
        else:
            annotations = answer_boxes(scene, profile, rng, data.labels)
        items.append(
            {
                "item_id": item["item_id"],
                "annotations": annotations,
                "interactions": interactions(profile, position, rng),
            }
        )
    return {"items": items}


def work(worker: ApiClient, email: str, crowd: Crowd, job_id: int, data: DemoDataset,
         done: Callable[[], bool], seed: int, labels: Sequence[str] | None = None) -> None:  # fmt: skip
    """One simulated worker: claim, look at the images, answer, submit, until nothing is left
    (``labels``: a pipeline stage's labels, the only objects it draws)."""
    profile = crowd.profiles[email]
    rng = random.Random(seed)
    recognise = data.recogniser()
    idle_since: float | None = None
    while not done():
        try:
            assignment = worker.post(f"/api/jobs/{job_id}/assignments/claim")
        except ApiError as exc:
            reason = exc.body.get("reason") if isinstance(exc.body, dict) else None
            if reason in ("banned",):
                crowd.stop_reason[email] = "banned"
                return
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > WAIT_S:
                crowd.stop_reason[email] = f"idle ({reason})"
                return
            time.sleep(0.3)
            continue
        idle_since = None
        answers = _answer(worker, assignment, data, recognise, profile, rng, labels)
        time.sleep(profile.seconds_per_item * len(answers["items"]) / TIME_SCALE)
        try:
            worker.post(f"/api/assignments/{assignment['assignment_id']}/submit", json=answers)
            crowd.submitted[email] += 1
        except ApiError as exc:
            if exc.status_code != 409:
                raise
    crowd.stop_reason.setdefault(email, "job done")


# -- the reviewer ---------------------------------------------------------------------------------------

#: What the simulated reviewer decides per dispute kind (the scenes' GT is exact, so GT stays).
REVIEW_POLICY = {
    "chunk_failed_max_attempts": "reopen_chunk",
    "too_fast": "ban_worker",
    "suspicious_gt": "restore_gt",
    "low_agreement": "uphold",
    "appeal": "uphold",
}


def make_reviewer(base_url: str, run_id: str) -> ApiClient:
    """A reviewer account is made by the operator (as ``tilework user create --role reviewer`` does)."""
    from marketplace.accounts import service
    from marketplace.config import get_settings
    from marketplace.db import session_factory, session_scope
    from marketplace.models import Role

    email = f"reviewer-{run_id}@demo.tilework"
    with session_scope(session_factory(get_settings())) as session:
        service.register(session, email=email, password=PASSWORD, role=Role.reviewer)
    reviewer = ApiClient(base_url)
    reviewer.token = reviewer.post("/api/auth/login", json={"email": email, "password": PASSWORD})["token"]
    return reviewer


def review(reviewer: ApiClient, job_id: int, decided: Counter[str], done: Callable[[], bool]) -> None:
    """Work the dispute queue of the job until the crowd is done."""
    while not done():
        for dispute in reviewer.get("/api/reviews/disputes", params={"job_id": job_id, "status": "open"}):
            action = REVIEW_POLICY.get(dispute["kind"], "uphold")
            try:
                reviewer.post(f"/api/reviews/disputes/{dispute['id']}/decide",
                              json={"action": action, "comment": "demo reviewer"})  # fmt: skip
                decided[f"{dispute['kind']}:{action}"] += 1
            except ApiError as exc:
                if exc.status_code not in (409, 422):
                    raise
        time.sleep(0.5)


# -- results ----------------------------------------------------------------------------------------------


def boxes_by_image(coco: dict[str, Any]) -> dict[str, BoxSet]:
    names = {img["id"]: img["file_name"] for img in coco["images"]}
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    grouped: dict[str, tuple[list[list[float]], list[str]]] = {n: ([], []) for n in names.values()}
    for ann in coco["annotations"]:
        boxes, labels = grouped[names[ann["image_id"]]]
        boxes.append(ann["bbox"])
        labels.append(cats[ann["category_id"]])
    return {name: BoxSet.of(b, lab) for name, (b, lab) in grouped.items()}


def box_accuracy(merged: dict[str, BoxSet], data: DemoDataset, skip: set[str]) -> dict[str, float]:
    """Merged boxes vs the truth on the images workers labelled (GT images excluded)."""
    truth: dict[Hashable, BoxSet] = {
        s.name: BoxSet.of([sh.box for sh in s.shapes], [sh.label for sh in s.shapes])
        for s in data.scenes.values()
        if s.name not in skip
    }
    answers: dict[Hashable, BoxSet] = {n: merged.get(str(n), BoxSet.of()) for n in truth}
    score = score_boxes(truth, answers, target=0.0, iou_threshold=0.5)
    exact = sum(1 for item in score.items if item.matched == item.gt_count == item.submitted_count)
    return {"accuracy": round(score.accuracy, 4), "images_exact": round(exact / max(1, len(truth)), 4)}


def class_accuracy(rows: list[dict[str, Any]], data: DemoDataset, skip: set[str]) -> dict[str, float]:
    """Aggregated labels vs the truth on the images workers labelled (GT images excluded)."""
    judged = [r for r in rows if r["image"] not in skip and r["image"] in data.scenes]
    right = sum(1 for r in judged if r["label"] == data.scenes[r["image"]].shapes[0].label)
    share = round(right / max(1, len(judged)), 4)
    return {"accuracy": share, "images_exact": share}


def result_accuracy(api: ApiClient, job: dict[str, Any], data: DemoDataset) -> dict[str, float]:
    skip = set(job["gt_names"])
    if data.job_type == "classification":
        rows = _json_file(api, job["id"], "classification.json")["items"]
        return class_accuracy(rows, data, skip)
    return box_accuracy(boxes_by_image(_json_file(api, job["id"], "instances.json")), data, skip)


def _json_file(api: ApiClient, job_id: int, name: str) -> Any:
    body = api.get(f"/api/jobs/{job_id}/results/{name}")
    return json.loads(body) if isinstance(body, bytes) else body


# -- the whole run ------------------------------------------------------------------------------------------


def load_dataset(options: DemoOptions, render_into: Path) -> DemoDataset:
    if options.coco and options.images_dir:
        return from_coco(options.coco, options.images_dir)
    if options.tiled_dir and options.answers:
        return from_answers_csv(options.tiled_dir, options.answers, options.answer_column, options.images)
    return rendered(render_into, options.images, options.seed)


def _job_status(api: ApiClient, job_id: int) -> str:
    return str(api.get(f"/api/jobs/{job_id}")["status"])


def run_crowd(platform: Platform, job: dict[str, Any], data: DemoDataset, options: DemoOptions,
              requester: ApiClient, run_id: str) -> Crowd:  # fmt: skip
    clients, crowd = make_crowd(platform.base_url, options, run_id)
    progress = requester.get(f"/api/jobs/{job['id']}/progress")
    finished = threading.Event()

    def done() -> bool:
        return finished.is_set()

    reviewer = make_reviewer(platform.base_url, run_id)
    with (
        ThreadPoolExecutor(max_workers=len(clients) + 1) as pool,
        _phase("crowd", options.quiet, total=progress["chunks_total"]) as bar,
    ):
        futures = [
            pool.submit(work, c, email, crowd, job["id"], data, done, options.seed + i)
            for i, (c, email) in enumerate(zip(clients, crowd.profiles, strict=True))
        ]
        futures.append(pool.submit(review, reviewer, job["id"], crowd.reviewed, done))
        while not all(f.done() for f in futures):
            progress = requester.get(f"/api/jobs/{job['id']}/progress")
            settled = progress["chunks"].get("accepted", 0)
            bar.update(max(0, settled - bar.n))
            finished_job = progress["status"] in ("completed", "cancelled", "failed")
            nobody_left = all(f.done() for f in futures[:-1])  # every worker banned or idle
            if finished_job or settled >= progress["chunks_total"] or nobody_left:
                finished.set()
            time.sleep(0.3)
        for f in futures:
            f.result()
    for c in clients:
        c.close()
    return crowd


def run_demo(options: DemoOptions) -> dict[str, Any]:
    started = time.monotonic()
    run_id = secrets.token_hex(3)
    with _phase("setup", options.quiet, total=1):
        platform = start_platform(options)
    from marketplace.config import get_settings

    settings = get_settings()
    try:
        with _phase("dataset", options.quiet, total=1):
            data = load_dataset(options, settings.home / "demo" / run_id / "images")
        requester = ApiClient(platform.base_url)
        requester.sign_up(f"requester-{run_id}@demo.tilework", PASSWORD, "requester")
        with _phase("intake", options.quiet, total=1):
            job = create_job(requester, data, options)
        with _phase("funding", options.quiet, total=2) as bar:
            funding = fund_on_chain(requester, platform, job["id"])
            bar.update(1)
            wait_for(lambda: _job_status(requester, job["id"]) != "draft", "the chain funding to be seen")
        crowd = run_crowd(platform, job, data, options, requester, run_id)
        with _phase("payout", options.quiet, total=1):
            platform.beat.run_all_now()
            wait_for(lambda: _settled(requester, job["id"]), "the payouts to settle")
        report = _report(requester, job, data, crowd, funding, started)
        report["results_on_chain"] = results_on_chain(requester, platform, funding, job["id"])
        report["gas_total"] = chain_gas_since(platform, funding["first_block"])
    finally:
        if not options.serve:
            platform.stop()
    if options.serve:
        report["serving"] = platform.base_url
        report["sign_in"] = {
            "password": PASSWORD,
            "requester": f"requester-{run_id}@demo.tilework",
            "reviewer": f"reviewer-{run_id}@demo.tilework",
            "workers": sorted(crowd.profiles),
        }
    return report


def chain_gas_since(platform: Platform, first_block: int) -> int:
    """Gas of every transaction on the embedded chain since the job was funded (this job's alone)."""
    w3 = platform.dev_chain.w3
    return sum(int(w3.eth.get_block(n)["gasUsed"]) for n in range(first_block, int(w3.eth.block_number) + 1))


def _settled(api: ApiClient, job_id: int) -> bool:
    books = api.get(f"/api/jobs/{job_id}/books")
    status = _job_status(api, job_id)
    return (
        status in ("completed", "cancelled")
        and books["payable"] == 0
        and books["held"] == 0
        and books["sending"] == 0
    )


def _report(api: ApiClient, job: dict[str, Any], data: DemoDataset, crowd: Crowd,
            funding: dict[str, Any], started: float) -> dict[str, Any]:  # fmt: skip
    job_id = job["id"]
    books = api.get(f"/api/jobs/{job_id}/books")
    quality = api.get(f"/api/jobs/{job_id}/quality")
    progress = api.get(f"/api/jobs/{job_id}/progress")
    accuracy = result_accuracy(api, job, data)
    kinds = Counter(p.kind for p in crowd.profiles.values())
    banned = [
        {"kind": crowd.profiles[crowd.ids[w["worker_id"]]].kind, "after_gt_items": w["gt_items_when_banned"],
         "reason": w["ban_reason"]}
        for w in quality["workers"]
        if w["banned"] and w["worker_id"] in crowd.ids
    ]  # fmt: skip
    items = progress["images_total"]
    gt_shown = progress["assignments"].get("accepted", 0) + progress["assignments"].get("rejected", 0)
    return {
        "job_id": job_id,
        "job_type": data.job_type,
        "images": len(data.scenes),
        "gt_images": len(job["gt_names"]),
        "merged_accuracy": accuracy["accuracy"],
        "images_exact": accuracy["images_exact"],
        "assignments_accepted": progress["assignments"].get("accepted", 0),
        "assignments_rejected": progress["assignments"].get("rejected", 0),
        "workers": dict(kinds),
        "workers_banned": banned,
        "gt_overhead": round(job["gt_per_assignment"] / job["assignment_size"], 3),
        "gt_items_shown": gt_shown * job["gt_per_assignment"],
        "images_total": items,
        "funded": books["funded"],
        "paid": books["paid"],
        "refunded": books["refunded"],
        "fees": books["fees"],
        "currency": books["currency"],
        "gas_funding": funding["gas_used"],
        "disputes": quality["disputes"],
        "reviewer_decisions": dict(crowd.reviewed),
        "wall_s": round(time.monotonic() - started, 1),
    }
