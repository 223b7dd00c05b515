"""Can a ring of colluding workers tell hidden GT images from normal ones? (issue 12)

Run: ``python benchmarks/gt_secrecy.py [--accounts 10] [--jobs 3] [--frame-gt-every 7]
[--imagenet 400] [--imagenet-gt 68] [--gt-spot-check X] [--port 18650]``. Needs PostgreSQL (admin URL from
``TILEWORK_BENCH_PG_ADMIN_URL``), PyAV (``pip install av``) and ``../shared/datasets``.

The job is built the way requesters build them, with the GT set made separately:

* data: every frame of ``video_bedroom/bedroom.mp4`` (decoded with PyAV) not chosen as GT, written
  as JPEG q90 by one tool (sequential data: each frame's neighbours look alike), and ``--imagenet``
  ImageNet thumbnails copied as they are (shuffled first, seeded: data and GT are samples of the
  same classes);
* GT: every 7th frame written by another tool (JPEG q95, 4:4:4, camera EXIF, a file date a year
  earlier), and ``--imagenet-gt`` other thumbnails re-saved as PNG, also a year earlier; one box each.

It is created through the HTTP API (default GT settings: 10 images + 2 GT per assignment, overlap
1), activated the way a funding activates it, and worked by ``--accounts`` worker accounts over HTTP
until nothing is left. Each account answers GT right (the harness reads the answer from the database,
so the ring passes as good workers and is never stopped); everything else is done the way any client
would. The ring records all it can see — assignment JSON, item ids and URLs, positions, response
headers, bytes, decoded pixels, response times, which account saw what — and pools it.

Each attack turns what the ring saw into a score per shown item; the figure is the ROC AUC of that
score at "this item is GT" (0.5 = a coin; the better of a score and its negation is taken, so an
attacker is always given the right direction). Attacks: response headers; byte size; bytes per
pixel; encoder fingerprint (quantisation tables, sampling, JPEG segments, format); metadata (EXIF,
ICC, comments, PNG chunks); item size in the JSON; item id/URL shape; position in the assignment;
response time; 8x8 blockiness (compression history surviving in the pixels); sharpness; image
difference to the other images of the same assignment (neighbourhood outlier) and to everything the
ring saw; repetition across accounts and within one account; and a learned attack (logistic
regression, 5-fold cross-validated, on every feature but repetition), an upper bound for a ring that
has learned from earlier jobs which items were GT.

With few GT items shown (adaptive GT shows a trusted ring spot checks only) the best of 16 attacks
is above 0.5 by chance alone, so the run also gives ``chance_worst_auc_p95``: the worst AUC in 95% of
runs where GT is shuffled among the shown images. A worst attack below it is not a finding. To show
enough GT to certify a target, the ring works ``--jobs`` jobs one after another (each its own folder
with its own GT draw, as a ring meets several jobs); every attack is run on each job's observations
alone and the AUC is *stratified*: a GT item is only compared with the normal items of its own job.

Last line: ``worst_auc=<x> chance_worst_auc_p95=<x> attacks=<n> accounts=<n> images=<n> jobs=<n>``
(``images``: over all jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from PIL import Image
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._gt_attacks import Seen, attacks, auc, chance_worst, describe  # noqa: E402

ADMIN_URL = os.environ.get(
    "TILEWORK_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SHARED = Path(os.environ.get("TILEWORK_SHARED", ROOT.parent / "shared")) / "datasets"
SECRET = "bench-secret-key-that-is-long-enough-0000"
PASSWORD = "correct horse battery"
A_YEAR = 365 * 24 * 3600


# -- the data ------------------------------------------------------------------------------------


def decode_frames(video: Path) -> list[Image.Image]:
    import av

    with av.open(str(video)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def camera_exif(when: str) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "GoldCam"  # Make
    exif[0x0110] = "GT-1"  # Model
    exif[0x0132] = when  # DateTime
    exif[0x0131] = "gt-tool 2.1"  # Software
    return exif.tobytes()


def build_data(
    root: Path, frame_gt_every: int, imagenet: int, imagenet_gt: int, seed: int = 0
) -> dict[str, Any]:
    """Write the job's folder (``seed`` picks which frames and thumbnails are GT); return GT names and
    COCO GT."""
    frames = decode_frames(SHARED / "video_bedroom" / "bedroom.mp4")
    data, gold = root / "frames", root / "gold"
    data.mkdir(parents=True)
    gold.mkdir()
    gt_names: list[str] = []
    sizes: dict[str, tuple[int, int]] = {}
    old = time.time() - A_YEAR
    for index, frame in enumerate(frames):
        if index % frame_gt_every == (3 + seed) % frame_gt_every:
            name = f"gold/frame_{index:05d}.jpg"
            frame.save(
                root / name,
                format="JPEG",
                quality=95,
                subsampling="4:4:4",
                exif=camera_exif("2025:01:02 03:04:05"),
            )
            os.utime(root / name, (old, old))
            gt_names.append(name)
        else:
            name = f"frames/{index:05d}.jpg"
            frame.save(root / name, format="JPEG", quality=90)
        sizes[name] = frame.size
    # shuffled (seeded) before the split: sorted by WordNet id, the first 400 are animals and the next
    # ones objects, so GT taken from the tail would differ from the data in content, which says
    # nothing about the platform (a requester's GT is a sample of the same kind of images)
    thumbs = sorted((SHARED / "imagenet_sample_1000_thumbs" / "images").glob("*.jpg"))
    random.Random(12 + seed).shuffle(thumbs)
    (root / "imagenet").mkdir()
    for path in thumbs[:imagenet]:
        name = f"imagenet/{path.name}"
        shutil.copy2(path, root / name)
        with Image.open(path) as image:
            sizes[name] = image.size
    for path in thumbs[imagenet : imagenet + imagenet_gt]:
        name = f"gold/{path.stem}.png"
        with Image.open(path) as image:
            image.convert("RGB").save(root / name, format="PNG")
            sizes[name] = image.size
        os.utime(root / name, (old, old))
        gt_names.append(name)
    images = [
        {"id": i + 1, "file_name": n, "width": sizes[n][0], "height": sizes[n][1]}
        for i, n in enumerate(gt_names)
    ]
    annotations = []
    for image in images:
        w, h = image["width"], image["height"]
        box = [round(w * 0.25, 1), round(h * 0.25, 1), round(w * 0.5, 1), round(h * 0.5, 1)]
        annotations.append(
            {
                "id": image["id"],
                "image_id": image["id"],
                "category_id": 1,
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
            }
        )
    coco = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "object"}, {"id": 2, "name": "other"}],
    }
    return {"gt": coco, "gt_names": gt_names, "count": len(sizes)}


# -- the server ----------------------------------------------------------------------------------


def conninfo(url: str) -> str:
    u = make_url(url)
    return f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"


def env_for(url: str, home: Path, data: Path, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "TILEWORK_ENVIRONMENT": "test",
        "DATABASE_URL": url,
        "TILEWORK_HOME": str(home),
        "TILEWORK_PUBLIC_DATA_ROOTS": json.dumps([str(data)]),
        "TILEWORK_SECRET_KEY": SECRET,
        "TILEWORK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TILEWORK_LOG_LEVEL": "ERROR",  # the job is opened without money: completion warns about it
    }
    for name in ("REDIS_URL", "TILEWORK_REDIS_URL", "TILEWORK_STORAGE_URL"):
        env.pop(name, None)
    return env


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is taken; pass --port")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "marketplace.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the API server did not start")


# -- what the ring sees --------------------------------------------------------------------------


def work_the_job(
    base: str,
    tokens: list[str],
    job_id: int,
    gt_answer: Callable[[list[str]], dict[str, Any]],
) -> list[Seen]:
    """Every account claims, looks at every image, submits, until nothing is left for anyone."""
    seen: list[Seen] = []
    done = [False] * len(tokens)
    with httpx.Client(base_url=base, timeout=60) as http:
        while not all(done):
            for account, token in enumerate(tokens):
                if done[account]:
                    continue
                headers = {"Authorization": f"Bearer {token}"}
                r = http.post(f"/api/jobs/{job_id}/assignments/claim", headers=headers)
                if r.status_code != 200:
                    done[account] = True
                    continue
                body = r.json()
                items = body["items"]
                for position, item in enumerate(items):
                    path = "/" + item["image_url"].split("://", 1)[-1].partition("/")[2]
                    start = time.perf_counter()
                    response = http.get(path, headers=headers)
                    seconds = time.perf_counter() - start
                    seen.append(
                        Seen(
                            account,
                            body["assignment_id"],
                            position,
                            len(items),
                            item,
                            response.status_code,
                            dict(response.headers),
                            response.content,
                            seconds,
                        )
                    )
                answers = gt_answer([item["item_id"] for item in items])
                s = http.post(
                    f"/api/assignments/{body['assignment_id']}/submit", json=answers, headers=headers
                )
                if s.status_code != 200:
                    raise RuntimeError(f"submit refused: {s.status_code} {s.text}")
    return seen


# -- main ----------------------------------------------------------------------------------------


def open_job(
    base: str,
    req_token: str,
    folder: Path,
    built: dict[str, Any],
    args: argparse.Namespace,
    factory: Any,
    activate: Callable[[Any, Any], Any],
) -> int:
    """Create the job over ``folder`` through the API and activate it the way a funding does."""
    from marketplace.db import session_scope
    from marketplace.models import Job

    body = {
        "type": "boxes",
        "title": "GT secrecy",
        "labels": ["object", "other"],
        "data_uri": str(folder),
        "gt": built["gt"],
        "bounty_amount": 10**7,
        "currency": "usd",
        "rail": "card",
    }
    if args.gt_spot_check is not None:
        body["gt_spot_check"] = args.gt_spot_check
    r = httpx.post(
        f"{base}/api/jobs", json=body, headers={"Authorization": f"Bearer {req_token}"}, timeout=600
    )
    if r.status_code != 201:
        raise RuntimeError(f"job refused: {r.status_code} {r.text}")
    job_id = int(r.json()["id"])
    started = time.perf_counter()
    with session_scope(factory) as s:
        job = s.get(Job, job_id)
        assert job is not None
        activate(s, job)
    with factory() as s:
        job = s.get(Job, job_id)
        assert job is not None
        print(
            f"job {job_id}: {job.image_count} images ({job.gt_count} GT), activation "
            f"{time.perf_counter() - started:.1f} s, status {job.status.value}",
            flush=True,
        )
        if job.status.value != "active":
            raise RuntimeError(f"the job did not open: {job.status.value}")
    return job_id


def run(args: argparse.Namespace) -> None:
    from marketplace.accounts import service as accounts
    from marketplace.config import Settings
    from marketplace.db import session_factory, session_scope
    from marketplace.flows.funding import activate
    from marketplace.migrations import upgrade
    from marketplace.models import AssignmentItem, GtAnnotation, Role

    print(f"code under test: {Path(sys.modules['marketplace.db'].__file__ or '').parents[1]}", flush=True)
    name = f"tilework_gtsec_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(conninfo(ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="gt-secrecy-"))
    server = None
    try:
        data, home = tmp / "data", tmp / "home"
        built = [
            build_data(data / f"job{k}", args.frame_gt_every, args.imagenet, args.imagenet_gt, seed=k)
            for k in range(args.jobs)
        ]
        upgrade(url)
        settings = Settings(
            environment="test",
            home=home,
            database_url=url,
            public_data_roots=[data],
            secret_key=SECRET,
            public_base_url=f"http://127.0.0.1:{args.port}",
        )
        factory = session_factory(settings)
        with session_scope(factory) as s:
            requester = accounts.register(s, email="req@bench.local", password=PASSWORD, role=Role.requester)
            req_token = accounts.issue_token(s, requester, name="bench", ttl_days=1)[0]
            tokens = []
            for i in range(args.accounts):
                worker = accounts.register(
                    s, email=f"ring{i}@bench.local", password=PASSWORD, role=Role.worker
                )
                tokens.append(accounts.issue_token(s, worker, name="bench", ttl_days=1)[0])
        server = start_server(env_for(url, home, data, args.port), args.port)
        base = f"http://127.0.0.1:{args.port}"

        def gt_answer(item_tokens: list[str]) -> dict[str, Any]:
            with factory() as s:
                rows = {
                    i.token: i for i in s.query(AssignmentItem).filter(AssignmentItem.token.in_(item_tokens))
                }
                answers = []
                for token in item_tokens:
                    anns: list[dict[str, Any]] = []
                    if rows[token].is_gt:
                        gts = s.query(GtAnnotation).filter(GtAnnotation.image_id == rows[token].image_id)
                        anns = [{"label": g.label, "geometry": g.geometry} for g in gts]
                    answers.append({"item_id": token, "annotations": anns})
            return {"items": answers}

        seen: list[Seen] = []
        jobs: list[int] = []
        scores: dict[str, list[float]] = defaultdict(list)
        for k, job_data in enumerate(built):
            job_id = open_job(base, req_token, data / f"job{k}", job_data, args, factory, activate)
            shown = work_the_job(base, tokens, job_id, gt_answer)
            with factory() as s:
                gt_tokens = {
                    t for (t,) in s.query(AssignmentItem.token).filter(AssignmentItem.is_gt.is_(True))
                }
            for item in shown:
                item.is_gt = item.item["item_id"] in gt_tokens
                describe(item)
            bad = [x for x in shown if x.status != 200]
            print(
                f"ring of {args.accounts}: {len({x.assignment for x in shown})} assignments, {len(shown)} "
                f"items shown ({sum(x.is_gt for x in shown)} GT), "
                f"{len({x.features['sha'] for x in shown})} distinct images, {len(bad)} failed fetches",
                flush=True,
            )
            for attack, values in attacks(shown).items():  # each job's observations attacked on their own
                scores[attack] += values
            seen += shown
            jobs += [k] * len(shown)
        labels = [x.is_gt for x in seen]
        results = {n: auc(v, labels, jobs) for n, v in scores.items()}
        chance = chance_worst(seen, scores, jobs=jobs)
        for n, value in results.items():
            print(f"  {n:<36} auc={value:.3f}")
        worst = max(results, key=lambda n: results[n])
        print(
            f"worst attack: {worst}; chance alone reaches {chance:.3f} (95th percentile, GT shuffled); "
            f"{sum(labels)} GT of {len(labels)} items shown over {args.jobs} job(s)"
        )
        print(
            f"worst_auc={results[worst]:.3f} chance_worst_auc_p95={chance:.3f} attacks={len(results)} "
            f"accounts={args.accounts} images={sum(b['count'] for b in built)} jobs={args.jobs}"
        )
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        with psycopg.connect(conninfo(ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--frame-gt-every", type=int, default=7, help="every n-th video frame is GT")
    parser.add_argument("--imagenet", type=int, default=400, help="ImageNet thumbnails in the data")
    parser.add_argument(
        "--imagenet-gt",
        type=int,
        default=68,
        help="ImageNet thumbnails made into GT (default: the frames' GT share)",
    )
    parser.add_argument(
        "--gt-spot-check",
        type=float,
        default=None,
        help="the job's gt_spot_check (default: the product's; 1 = fixed GT, every slot GT)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=3,
        help="jobs the ring works one after another (each with its own GT draw), attacked job by job and "
        "pooled by stratified AUC: more GT shown, so chance alone reaches less",
    )
    parser.add_argument("--port", type=int, default=18650)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if not (SHARED / "video_bedroom" / "bedroom.mp4").is_file():
        raise SystemExit(f"needs the shared datasets at {SHARED}")
    run(args)


if __name__ == "__main__":
    main()
