"""Job intake at scale: ``python benchmarks/intake.py [--images 100000] [--gt 20000]``.

Fills a temporary folder with ``--images`` small PNG files (1,000 per sub-folder), writes a COCO
ground truth naming ``--gt`` of them with one box each, and creates a draft job through the service
the HTTP API uses (parse the GT, list the data, probe every image, write the job, its images and GT)
on a scratch SQLite database built by the migrations. Prints the time of each step; GT parsing is
what was quadratic in the number of GT names (15,000 names took 29.6 s before it was made linear).

Last line: ``images=<n> gt=<n> gt_parse_s=<x> create_job_s=<x> images_per_s=<n>``.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from marketplace.config import Settings  # noqa: E402
from marketplace.datasets import sources  # noqa: E402
from marketplace.datasets.ground_truth import parse_ground_truth  # noqa: E402
from marketplace.db import session_factory, session_scope  # noqa: E402
from marketplace.jobs import service  # noqa: E402
from marketplace.jobs.schemas import JobSpec  # noqa: E402
from marketplace.migrations import upgrade  # noqa: E402
from marketplace.models import JobType, Role, User  # noqa: E402


def name_of(i: int) -> str:
    return f"d{i // 1000:04d}/{i:07d}.png"


def fill(root: Path, count: int) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 200)).save(buf, format="PNG")
    png = buf.getvalue()
    for i in range(count):
        path = root / name_of(i)
        if i % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)


def coco(count: int, gt: int) -> dict[str, object]:
    names = [name_of(i) for i in range(count - gt, count)]
    return {
        "images": [{"id": k + 1, "file_name": n, "width": 64, "height": 48} for k, n in enumerate(names)],
        "annotations": [
            {"id": k + 1, "image_id": k + 1, "category_id": 1, "bbox": [4, 4, 20, 20]} for k in range(gt)
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--gt", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        started = time.perf_counter()
        fill(root, args.images)
        print(f"wrote {args.images} images in {time.perf_counter() - started:.1f} s", flush=True)
        gt = coco(args.images, args.gt)

        started = time.perf_counter()
        parse_ground_truth(gt, JobType.boxes, ["cat", "dog"])
        gt_parse_s = time.perf_counter() - started
        print(f"GT parse of {args.gt} names: {gt_parse_s:.2f} s", flush=True)

        settings = Settings(home=Path(tmp) / "home", environment="test")
        settings.ensure_home()
        upgrade(settings.effective_database_url)
        spec = JobSpec(
            type=JobType.boxes,
            title="intake benchmark",
            labels=["cat", "dog"],
            bounty_amount=10**12,
            currency="usd",
            rail="card",
        )
        factory = session_factory(settings)
        started = time.perf_counter()
        with session_scope(factory) as session:
            requester = User(email="bench@example.org", password_hash="x", role=Role.requester)
            session.add(requester)
            session.flush()
            storage = sources.open_job_data(session, str(root), settings, owner=None)
            job = service.create_job(
                session, requester, spec, data_uri=str(root), storage=storage, gt_raw=gt, settings=settings
            )
            assert job.image_count == args.images and job.gt_count == args.gt
        create_s = time.perf_counter() - started
        print(f"create_job on {args.images} images: {create_s:.1f} s", flush=True)
    print(
        f"images={args.images} gt={args.gt} gt_parse_s={gt_parse_s:.3f} create_job_s={create_s:.1f} "
        f"images_per_s={args.images / create_s:.0f}"
    )


if __name__ == "__main__":
    main()
