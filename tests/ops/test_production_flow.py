"""The production configuration brought up from a clean state with the documented commands only, on
real parts (PostgreSQL, Redis, SeaweedFS, anvil): ``tilework chain deploy``, ``storage init``,
``db upgrade``, ``check``, then compose's ``serve`` (two processes), Celery worker and beat. A requester
funds a job from their wallet, a worker does the one assignment over HTTP, and the payout lands on
chain. On the way: Redis stopped for ten seconds (``/ready`` 503 naming redis, then 200 with no
restart), an API process killed (its supervisor replaces it), the image's health check run against
the API, the request id followed from the submit into the worker's logs, and the metrics."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from PIL import Image, ImageDraw

from benchmarks._load_crowd import Client, Stats, link_wallet
from benchmarks._load_stack import RedisServer, Service, wait_for
from marketplace.escrow.chain import ChainEscrow, load_artifact
from tests.conftest import coco_boxes
from tests.ops.conftest import run_tilework, tilework_argv
from tests.ops.test_bringup import production_env
from tests.s3_server import S3Server, free_ports

REQUESTER_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"  # anvil account 3
BOX = [4.0, 4.0, 20.0, 20.0]
DOWN_FOR_S = 10.0


def make_data(root: Path) -> dict[str, Any]:
    """Three images, each a 20x20 square at (4, 4) on its own background; the first is the GT."""
    names = [f"img{i}.png" for i in range(3)]
    for i, name in enumerate(names):
        image = Image.new("RGB", (64, 48), (40 + 60 * i, 90, 160))
        ImageDraw.Draw(image).rectangle([4, 4, 23, 23], fill=(250, 250, 250))
        image.save(root / name)
    return coco_boxes({names[0]: (64, 48)}, {names[0]: [("cat", BOX)]}, ["cat", "dog"])


def console(name: str) -> list[str]:
    script = Path(sys.executable).parent / name
    return [str(script)] if script.is_file() else [sys.executable, "-m", name]


def supervise(services: list[Service]) -> list[str]:
    """Compose's ``restart: unless-stopped``: start again whatever exited."""
    restarted = []
    for service in services:
        if service.proc is not None and service.proc.poll() is not None:
            restarted.append(f"{service.name} (exit {service.proc.returncode})")
            service.start()
    return restarted


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_production_bring_up_runs_a_job_to_a_payout_on_chain(
    tmp_path: Path, s3_server: S3Server, own_redis: RedisServer, anvil_url: str, fresh_database: Any
) -> None:
    api_port, metrics_port = free_ports(2)
    base = f"http://127.0.0.1:{api_port}"
    data = tmp_path / "data"
    data.mkdir()
    gt = make_data(data)
    requester_wallet = Account.from_key(REQUESTER_KEY)
    env = production_env(tmp_path, fresh_database(), own_redis, s3_server, anvil_url)
    env.update(
        {
            "TILEWORK_PUBLIC_BASE_URL": base,
            "TILEWORK_SIWE_DOMAIN": f"127.0.0.1:{api_port}",
            "TILEWORK_SIWE_URI": base,
            "TILEWORK_PUBLIC_DATA_ROOTS": json.dumps([str(data)]),
            "TILEWORK_MIN_SECONDS_PER_ITEM": "0.01",
            "TILEWORK_PAYOUT_DRAIN_INTERVAL_S": "2",
        }
    )

    # -- the documented bring-up ----------------------------------------------------------------------
    deploy = run_tilework(
        env, "chain", "deploy", "--mint-to", requester_wallet.address, "--mint", str(10**12)
    )
    assert deploy.code == 0, deploy.err
    env.update(dict(line.split("=", 1) for line in deploy.out.splitlines() if line.startswith("TILEWORK_")))
    for step in (("storage", "init"), ("db", "upgrade"), ("check",)):
        ran = run_tilework(env, *step)
        assert ran.code == 0, (step, ran.out, ran.err)

    worker_metrics = tmp_path / "worker-metrics"
    worker_metrics.mkdir()
    worker_env = {
        **env,
        "PROMETHEUS_MULTIPROC_DIR": str(worker_metrics),
        "TILEWORK_WORKER_METRICS_PORT": str(metrics_port),
    }
    celery = [*console("celery"), "-A", "workers.celery_app"]
    api = Service(
        "api",
        [
            *tilework_argv(),
            "serve",
            "--no-migrate",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            "--workers",
            "2",
        ],
        env,
        tmp_path / "api.log",
    )
    worker = Service(
        "worker",
        [*celery, "worker", "--loglevel=INFO", "--concurrency=2"],
        worker_env,
        tmp_path / "worker.log",
    )
    beat = Service(
        "beat",
        [*celery, "beat", "--loglevel=INFO", "-s", str(tmp_path / "celerybeat-schedule")],
        env,
        tmp_path / "beat.log",
    )
    services = [api, worker, beat]
    for service in services:
        service.start()
    try:
        wait_for(lambda: httpx.get(f"{base}/ready", timeout=5).status_code == 200, "the API", 90, api.proc)

        # the image's HEALTHCHECK, as Docker would run it in the container
        healthcheck = next(
            line
            for line in (Path(__file__).resolve().parents[2] / "Dockerfile").read_text().splitlines()
            if line.strip().startswith('CMD ["python"')
        )
        probe = json.loads(healthcheck.strip().removeprefix("CMD").strip())
        assert (
            os.spawnvpe(
                os.P_WAIT,
                sys.executable,
                [sys.executable, *probe[1:]],
                {**env, "TILEWORK_PORT": str(api_port)},
            )
            == 0
        )

        # -- accounts, a job, funding from the requester's wallet -----------------------------------
        requester, member = Client(base, Stats()), Client(base, Stats())
        requester.sign_up("requester@flow.example", "requester")
        member.sign_up("worker@flow.example", "worker")
        payout_wallet = link_wallet(member)
        job = requester.post(
            "/api/jobs",
            json={
                "type": "boxes", "title": "Squares", "labels": ["cat", "dog"], "data_uri": str(data),
                "gt": gt, "bounty_amount": 1_000_000, "currency": "tUSD", "rail": "chain",
                "assignment_size": 2, "gt_per_assignment": 1, "accuracy_target": 0.5,
            },
        )  # fmt: skip
        plan = requester.post(f"/api/jobs/{job['id']}/fund", json={})
        w3 = httpx_w3(anvil_url)
        ChainEscrow(w3, plan["vault_address"], requester_wallet).fund_job(
            requester_wallet,
            plan["chain_job_id"],
            plan["token_address"],
            int(plan["amount"]),
            int(plan["deadline"]),
        )
        wait_for(
            lambda: requester.get(f"/api/jobs/{job['id']}")["status"] == "active", "the funding (beat)", 120
        )

        # -- Redis down for ten seconds: not ready, still alive, back by itself ----------------------
        own_redis.stop()
        started = time.monotonic()
        while time.monotonic() - started < DOWN_FOR_S:
            r = httpx.get(f"{base}/ready", timeout=10)
            assert r.status_code == 503 and "redis" in r.json()["down"], r.text
            assert httpx.get(f"{base}/health", timeout=5).status_code == 200
            time.sleep(1)
        own_redis.start()
        wait_for(lambda: httpx.get(f"{base}/ready", timeout=5).status_code == 200, "ready again", 30)

        # -- an API process dies: uvicorn's supervisor replaces it -----------------------------------
        children = api_children(api)
        assert len(children) == 2, children
        os.kill(children[0], signal.SIGKILL)
        wait_for(
            lambda: len(api_children(api)) == 2 and children[0] not in api_children(api),
            "a new API process",
            60,
        )
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200

        # -- the assignment, over HTTP ---------------------------------------------------------------
        assignment = member.post(f"/api/jobs/{job['id']}/assignments/claim")
        answers = {
            "items": [
                {"item_id": item["item_id"], "annotations": [{"label": "cat", "geometry": BOX}]}
                for item in assignment["items"]
            ]
        }
        submitted = httpx.post(
            f"{base}/api/assignments/{assignment['assignment_id']}/submit",
            json=answers,
            headers={"Authorization": f"Bearer {member.token}", "X-Request-ID": "flow-submit-1"},
            timeout=30,
        )
        assert submitted.status_code == 200 and submitted.headers["X-Request-ID"] == "flow-submit-1"

        token = w3.eth.contract(
            address=w3.to_checksum_address(plan["token_address"]), abi=load_artifact("TestToken")["abi"]
        )

        def paid() -> bool:
            supervise(services)
            return int(token.functions.balanceOf(w3.to_checksum_address(payout_wallet)).call()) > 0

        wait_for(paid, "the payout on chain", 180)
        on_chain = int(token.functions.balanceOf(w3.to_checksum_address(payout_wallet)).call())
        # the transfer can be mined a moment before the payout worker commits it as sent: until then
        # the books show it as "sending" (recorded before the send), never as missing
        books = requester.get(f"/api/jobs/{job['id']}/books")
        assert int(books["paid"]) + int(books["sending"]) >= on_chain, books
        wait_for(
            lambda: int(requester.get(f"/api/jobs/{job['id']}/books")["paid"]) == on_chain,
            "the books to show the payout as sent",
            60,
        )

        # -- what the operator sees ------------------------------------------------------------------
        lines = [
            json.loads(x) for x in (tmp_path / "worker.log").read_text().splitlines() if x.startswith("{")
        ]
        assert any(x.get("request_id") == "flow-submit-1" for x in lines), (
            "the submit's id never reached the worker"
        )
        api_metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert metric(api_metrics, "tilework_assignments_submitted_total") == 1
        assert (
            metric(
                api_metrics, "tilework_http_requests_total", route="/api/assignments/{assignment_id}/submit"
            )
            >= 1
        )
        worker_text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        assert metric(worker_text, "tilework_assignments_scored_total", outcome="accepted") == 1
        assert metric(worker_text, "tilework_payouts_sent_total", rail="chain", kind="workers") >= 1
        assert "tilework_celery_queue_length" in api_metrics and "tilework_payout_outbox_depth" in api_metrics

        # -- the whole API dies: compose's restart policy starts it again, and it comes back ready -----
        api.kill(signal.SIGKILL)
        assert "api (exit -9)" in supervise(services)
        wait_for(lambda: httpx.get(f"{base}/ready", timeout=5).status_code == 200, "the API restarted", 90)

        status = run_tilework(env, "chain", "status")
        assert json.loads(status.out)["pending_payouts"]["count"] == 0, status.out
    finally:
        for service in reversed(services):
            service.stop()


def httpx_w3(url: str) -> Any:
    from web3 import HTTPProvider, Web3

    return Web3(HTTPProvider(url, request_kwargs={"timeout": 30}))


def api_children(api: Service) -> list[int]:
    """The supervisor's API processes: children of ``tilework serve`` started by multiprocessing."""
    assert api.proc is not None
    path = Path(f"/proc/{api.proc.pid}/task/{api.proc.pid}/children")
    pids = [int(p) for p in path.read_text().split()] if path.exists() else []
    found = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except FileNotFoundError:
            continue
        if "spawn_main" in cmdline:
            found.append(pid)
    return found
