"""A video job over real footage (bedroom.mp4 of ../shared/datasets; skipped when absent): the default
segments, and frame 36 fetched through the claim's chunk URL is the publisher's frame 36."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from marketplace.config import Settings
from tests.assignments.conftest import activate_job_now, claim
from tests.conftest import UserFactory
from tests.video.test_video_bedroom_shared import DIFFERENT, SAME, mad
from tests.video.test_video_jobs import get_file, video_job_body

pytestmark = pytest.mark.shared


def bedroom_job_body(data_root: Path, shared_datasets: Path) -> dict[str, Any]:
    """A video job over a copy of the shared ``bedroom.mp4``, with the default segments (150, 5)."""
    root = data_root / "bedroom"
    root.mkdir()
    shutil.copy(shared_datasets / "video_bedroom" / "bedroom.mp4", root / "bedroom.mp4")
    body = video_job_body(root, labels=["person"])
    del body["segment_frames"], body["segment_overlap"]
    return body


def test_a_bedroom_job_serves_the_publishers_frames_through_the_claim(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path, shared_datasets: Path
) -> None:
    folder = shared_datasets / "video_bedroom"
    body = bedroom_job_body(data_root, shared_datasets)
    requester = make_user("requester")
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    assert r.status_code == 201, r.text
    job = r.json()
    assert (job["segment_frames"], job["segment_overlap"], job["segment_count"]) == (150, 5, 2)
    activate_job_now(settings, job["id"])

    item = claim(client, make_user("worker"), job["id"]).json()["items"][0]
    video = item["video"]
    assert (video["start_frame"], video["end_frame"], video["video_frames"]) == (0, 150, 200)
    assert (video["fps"], video["frame_width"], video["frame_height"]) == ("30/1", 960, 540)
    chunk = next(c for c in video["chunks"] if c["first_frame"] <= 36 < c["first_frame"] + c["frame_count"])
    members = zipfile.ZipFile(io.BytesIO(get_file(client, chunk["url"]).content))

    def frame(n: int) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(members.read(f"{n:06d}.jpg"))).convert("RGB"))

    published = np.asarray(Image.open(folder / "frames" / "00036.jpg").convert("RGB"))
    assert mad(frame(36), published) < SAME
    assert mad(frame(37), published) > DIFFERENT
