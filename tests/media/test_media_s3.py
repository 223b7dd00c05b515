"""The media pipeline on S3 (a real SeaweedFS server): originals read from the requester's bucket,
renditions written to the platform's bucket and served from there; the source changing after
activation changes nothing a worker sees."""

from __future__ import annotations

import io
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.flows.funding import activate
from marketplace.media.renditions import rendition_size
from marketplace.models import Job, JobStatus, Rendition
from tests.conftest import UserFactory, job_body, prove_s3_prefix
from tests.media.conftest import fetch_all, gt_tokens, make_mixed_data


def test_s3_data_and_s3_platform_storage(
    client: TestClient, make_user: UserFactory, settings: Settings, s3_env: Any, s3_bucket: str, tmp_path: Any
) -> None:
    s3 = s3_env.client()
    dataset = make_mixed_data(tmp_path / "src", 6, 3)
    for name in [*dataset["names"], *dataset["gt_names"]]:
        s3.put_object(Bucket=s3_bucket, Key=f"media-src/{name}", Body=(dataset["root"] / name).read_bytes())
    platform = "tilework-platform-media"
    if platform not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=platform)
    on_s3 = settings.model_copy(
        update={"s3_endpoint_url": s3_env.endpoint_url, "storage_url": f"s3://{platform}/renditions-here"}
    )
    client.app.state.settings = on_s3  # type: ignore[attr-defined]
    requester = make_user("requester")
    prove_s3_prefix(client, requester, s3, s3_bucket, "media-src")
    body = job_body(f"s3://{s3_bucket}/media-src", dataset["gt"], bounty_amount=1_000_000, assignment_size=2)
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    with session_scope(session_factory(on_s3)) as s:
        job = s.get(Job, job_id)
        assert job is not None
        activate(s, job)
    with session_factory(on_s3)() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.status is JobStatus.active, job.ingest_errors
        keys = list(s.scalars(select(Rendition.key).where(Rendition.job_id == job_id)))
    assert len(keys) == 9
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=platform, Prefix="renditions-here/")["Contents"]}
    assert {f"renditions-here/{k}" for k in keys} <= stored

    # the requester's bucket changes after activation: every source object is overwritten
    for name in [*dataset["names"], *dataset["gt_names"]]:
        red = io.BytesIO()
        Image.new("RGB", (96, 64), (255, 0, 0)).save(red, format="PNG")
        s3.put_object(Bucket=s3_bucket, Key=f"media-src/{name}", Body=red.getvalue())
    seen = fetch_all(client, make_user, job_id, workers=3)
    assert seen and gt_tokens(settings, [x["item"]["item_id"] for x in seen])
    for x in seen:
        assert x["response"].status_code == 200
        image = Image.open(io.BytesIO(x["response"].content))
        assert image.format == "JPEG" and image.size == rendition_size(96, 64)
        mean = image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        assert isinstance(mean, tuple) and not (mean[0] > 200 and mean[1] < 60), "the new source was served"
