"""The ``video_boxes`` job end to end: create through the API, activate (ingest), claim segments,
submit tracks (and bad tracks), complete, and read the exports back (PostgreSQL, real PyAV videos)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.geometry.track_formats import parse_mot
from marketplace.jobs.segments import cut_segments
from marketplace.models import Job, JobStatus
from marketplace.payments.rails import Rails
from tests.assignments.conftest import activate_job_now, claim, submit
from tests.conftest import UserFactory
from tests.security.money_tools import books, earned_by, earning_count, fund_now, job_status
from tests.video.videos import make_video, read_barcode

FRAMES = {"a.mp4": 40, "b.mp4": 20}
SEGMENT, OVERLAP = 16, 4
CHUNK = 36  # frames per chunk at 160x96 (the most a chunk holds)


def video_job_body(root: Path, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "video_boxes",
        "title": "Cars in traffic",
        "labels": ["car", "person"],
        "data_uri": str(root),
        "gt": {},
        "bounty_amount": 1_000_000,
        "currency": "usd",
        "rail": "card",
        "gt_per_assignment": 0,
        "segment_frames": SEGMENT,
        "segment_overlap": OVERLAP,
    }
    body.update(overrides)
    return body


@pytest.fixture
def video_root(data_root: Path) -> Path:
    root = data_root / "videos"
    root.mkdir()
    for name, frames in FRAMES.items():
        (root / name).write_bytes(make_video([i * 40 for i in range(frames)]))
    return root


def get_file(client: TestClient, url: str) -> Any:
    return client.get("/files/" + url.split("/files/", 1)[1])


def box(frame: int, start: int) -> list[float]:
    """The box the test worker puts on ``frame`` of a segment starting at ``start``."""
    x = 10.0 + (frame - start)
    return [x, 20.0, x + 30.0, 60.0]


def tracks_for(item: dict[str, Any]) -> dict[str, Any]:
    start, end = item["video"]["start_frame"], item["video"]["end_frame"]
    keyframes = [
        {"frame": start, "geometry": box(start, start)},
        {"frame": end - 1, "geometry": box(end - 1, start), "occluded": True},
    ]
    return {
        "items": [{"item_id": item["item_id"], "tracks": [{"id": 7, "label": "car", "keyframes": keyframes}]}]
    }


def test_a_video_job_is_cut_into_segments_claimed_submitted_and_exported(
    client: TestClient, make_user: UserFactory, settings: Settings, video_root: Path
) -> None:
    requester = make_user("requester")
    r = client.post("/api/jobs", json=video_job_body(video_root), headers=requester["headers"])
    assert r.status_code == 201, r.text
    job = r.json()
    expected = {n: cut_segments(f, SEGMENT, OVERLAP) for n, f in FRAMES.items()}
    assert expected["a.mp4"] == [(0, 16), (12, 28), (24, 40)] and expected["b.mp4"] == [(0, 16), (12, 20)]
    assert (job["segment_count"], job["image_count"], job["assignment_size"]) == (5, 2, 1)
    job_id = job["id"]

    activate_job_now(settings, job_id)
    shown = client.get(f"/api/jobs/{job_id}", headers=requester["headers"]).json()
    assert (shown["status"], shown["ingested_count"]) == ("active", 2)

    worker = make_user("worker")
    seen: list[tuple[int, int]] = []
    for n in range(5):
        r = claim(client, worker, job_id)
        assert r.status_code == 200, r.text
        claimed = r.json()
        assert claimed["job_type"] == "video_boxes" and len(claimed["items"]) == 1
        item = claimed["items"][0]
        video = item["video"]
        start, end = video["start_frame"], video["end_frame"]
        seen.append((start, end))
        assert (item["width"], item["height"], video["frame_width"], video["frame_height"]) == (
            160,
            96,
            160,
            96,
        )
        assert video["fps"] == "25/1" and video["chunk_frames"] == CHUNK
        assert video["overlap_before"] == (OVERLAP if start > 0 else 0)
        assert video["overlap_after"] == (OVERLAP if end < video["video_frames"] else 0)
        # the chunks cover the segment, and each one is a zip of its frames as JPEGs
        indexes = [c["index"] for c in video["chunks"]]
        assert indexes == list(range(start // CHUNK, (end - 1) // CHUNK + 1))
        assert all(item["item_id"] in c["url"] for c in video["chunks"])
        assert item["image_url"] == video["chunks"][0]["url"]
        assert client.get(f"/files/{item['item_id']}").status_code == 404  # a video item is chunks
        for c in video["chunks"]:
            got = get_file(client, c["url"])
            assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
            members = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
            assert members[0] == f"{c['first_frame']:06d}.jpg" and len(members) == c["frame_count"]
        first = zipfile.ZipFile(io.BytesIO(get_file(client, video["chunks"][0]["url"]).content))
        frame = np.asarray(Image.open(io.BytesIO(first.read(f"{start:06d}.jpg"))).convert("RGB"))
        assert read_barcode(frame) == start  # frame k is frame k
        # a chunk outside the segment is not served
        outside = 1 if (end - 1) // CHUNK == 0 else 5
        assert client.get(f"/files/{item['item_id']}/chunks/{outside}").status_code == 404
        assert client.get(f"/files/{item['item_id']}/chunks/-1").status_code == 422
        if n == 0:
            check_bad_tracks(client, worker, claimed)
        r = submit(client, worker, claimed["assignment_id"], tracks_for(item))
        assert r.status_code == 200, r.text
        assert get_file(client, video["chunks"][0]["url"]).status_code == 404  # submitted: links end

    assert sorted(seen) == sorted(s for segs in expected.values() for s in segs)
    progress = client.get(f"/api/jobs/{job_id}/progress", headers=requester["headers"]).json()
    assert (progress["images_total"], progress["images_done"], progress["chunks_total"]) == (5, 5, 5)
    with session_factory(settings)() as session:
        done = session.get(Job, job_id)
        assert done is not None and done.status.value == "completed"

    headers = requester["headers"]
    for path in ("result-images", f"result-images/{1}"):  # the image results browser: a clear 409
        r = client.get(f"/api/jobs/{job_id}/{path}", headers=headers)
        assert r.status_code == 409 and "video" in r.text, r.text
    listing = client.get(f"/api/jobs/{job_id}/results", headers=headers)
    assert listing.status_code == 200, listing.text
    names = {f["name"] for f in listing.json()}
    assert {"001_a.mp4.cvat.xml", "001_a.mp4.gt.txt", "002_b.mp4.gt.txt", "videos_coco.json"} <= names

    def result(name: str) -> str:
        return client.get(f"/api/jobs/{job_id}/results/{name}", headers=headers).text

    # MOT: each frame of a.mp4 has exactly one box, from the segment that owns the frame
    tracks = parse_mot(result("001_a.mp4.gt.txt"), label="car")
    assert [t.id for t in tracks] == [1, 2, 3]
    rows = [line.split(",") for line in result("001_a.mp4.gt.txt").splitlines()]
    assert [int(r[0]) for r in rows] == list(range(1, 41))
    owner = {f: s for s, e in [(0, 12), (12, 24), (24, 40)] for f in range(s, e)}
    for r in rows:
        frame = int(r[0]) - 1
        left, top, width = float(r[2]), float(r[3]), float(r[4])
        assert (left, top, width) == (box(frame, owner[frame])[0], 20.0, 30.0), r
    assert len(result("002_b.mp4.gt.txt").splitlines()) == 20

    # CVAT video XML: one track per segment, keyframes at the cuts, outside after each one but the last
    root = ET.fromstring(result("001_a.mp4.cvat.xml"))
    assert root.findtext("meta/task/size") == "40"
    cvat_tracks = root.findall("track")
    assert [t.get("label") for t in cvat_tracks] == ["car"] * 3
    first_boxes = cvat_tracks[0].findall("box")
    assert [b.get("frame") for b in first_boxes if b.get("outside") == "1"] == ["12"]
    assert max(int(b.get("frame", -1)) for b in cvat_tracks[2].findall("box")) == 39

    frames = client.get(f"/api/jobs/{job_id}/results/002_b.mp4.frames.json", headers=headers).json()
    assert [f["frame"] for f in frames] == list(range(20))
    assert [[o["track_id"] for o in f["objects"]] for f in frames] == [[1]] * 12 + [[2]] * 8
    assert frames[13]["objects"][0]["geometry"] == box(13, 12) and frames[19]["objects"][0]["occluded"]

    coco = client.get(f"/api/jobs/{job_id}/results/videos_coco.json", headers=headers).json()
    assert [v["name"] for v in coco["videos"]] == ["a.mp4", "b.mp4"]
    assert len(coco["annotations"]) == 60 and {a["category_id"] for a in coco["annotations"]} == {1}
    assert [c["name"] for c in coco["categories"]] == ["car", "person"]


def check_bad_tracks(client: TestClient, worker: dict[str, Any], claimed: dict[str, Any]) -> None:
    """Hostile or wrong tracks are a 422 naming the track and keyframe; nothing is stored."""
    item = claimed["items"][0]
    start, end = item["video"]["start_frame"], item["video"]["end_frame"]
    aid = claimed["assignment_id"]

    def body(*tracks: dict[str, Any]) -> dict[str, Any]:
        return {"items": [{"item_id": item["item_id"], "tracks": list(tracks)}]}

    def kf(frame: int, geometry: Any = None, **flags: Any) -> dict[str, Any]:
        return {"frame": frame, "geometry": geometry or box(frame, start), **flags}

    cases = [
        (body({"id": 3, "label": "bus", "keyframes": [kf(start)]}), "track 3", "label 'bus'"),
        (body({"id": 4, "label": "car", "keyframes": [kf(end)]}), "track 4", f"frame {end}"),
        (
            body({"id": 5, "label": "car", "keyframes": [kf(start, [50, 20, 10, 60])]}),
            "track 5",
            "xtl <= xbr",
        ),
        (body({"id": 6, "label": "car", "keyframes": [kf(start, [0, 0, 500, 60])]}), "track 6", "160x96"),
        (body({"id": 8, "label": "car", "keyframes": [{"frame": start}]}), "track 8", "needs a box"),
        (body({"id": 9, "label": "car", "keyframes": [kf(start + 2), kf(start)]}), "track 9", "in order"),
        (
            body(
                {"id": 1, "label": "car", "keyframes": [kf(start)]},
                {"id": 1, "label": "car", "keyframes": [kf(start)]},
            ),
            "track 1",
            "used twice",
        ),
        ({"items": [{"item_id": item["item_id"], "annotations": []}]}, "items[0]", "'tracks'"),
    ]
    for bad, names, says in cases:
        r = submit(client, worker, aid, bad)
        assert r.status_code == 422, (bad, r.text)
        assert names in r.text and says in r.text, r.text
    r = submit(client, worker, aid, body({"id": 1, "label": "car", "keyframes": [kf(start, [1, 2, "x", 4])]}))
    assert r.status_code == 422


def test_video_job_settings_are_checked_with_clear_messages(
    client: TestClient, make_user: UserFactory, video_root: Path
) -> None:
    headers = make_user("requester")["headers"]
    cases = [
        ({"gt_per_assignment": 1}, "gt_per_assignment"),
        ({"segment_overlap": 8}, "less than half"),
        ({"segment_frames": 5}, "segment_frames"),
        ({"gt": {"images": []}}, "the job has no video 'images'"),
    ]
    for overrides, says in cases:
        r = client.post("/api/jobs", json=video_job_body(video_root, **overrides), headers=headers)
        assert r.status_code == 422 and says in r.text, r.text
    r = client.post(
        "/api/jobs", json=video_job_body(video_root, type="boxes", gt={"images": []}), headers=headers
    )
    assert r.status_code == 422 and "segment_frames and segment_overlap are for video jobs" in r.text


def test_a_broken_video_is_refused_at_creation_and_fails_the_activation_if_it_breaks_later(
    client: TestClient, make_user: UserFactory, settings: Settings, video_root: Path
) -> None:
    headers = make_user("requester")["headers"]
    good = (video_root / "a.mp4").read_bytes()
    (video_root / "c.mp4").write_bytes(good[:3000])
    r = client.post("/api/jobs", json=video_job_body(video_root), headers=headers)
    assert r.status_code == 422 and "c.mp4" in r.text, r.text

    (video_root / "c.mp4").write_bytes(good)
    r = client.post("/api/jobs", json=video_job_body(video_root), headers=headers)
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    (video_root / "c.mp4").write_bytes(good[:3000])  # broken after the job was created
    (video_root / "b.mp4").write_bytes(make_video([i * 40 for i in range(25)]))  # 20 frames then
    activate_job_now(settings, job_id)
    shown = client.get(f"/api/jobs/{job_id}", headers=headers).json()
    assert shown["status"] == "failed"
    errors = {e["name"]: e["reason"] for e in shown["ingest_errors"]}
    assert set(errors) == {"b.mp4", "c.mp4"}
    assert "it had 20 frames, it has 25 now" in errors["b.mp4"]


def test_a_funded_video_job_pays_each_accepted_segment_once_through_the_ledger(
    client: TestClient, make_user: UserFactory, settings: Settings, video_root: Path, rails: Rails
) -> None:
    requester = make_user("requester")
    r = client.post(
        "/api/jobs", json=video_job_body(video_root, bounty_amount=10_007), headers=requester["headers"]
    )
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    terms = fund_now(settings, rails, job_id)
    assert terms["payable"] == 5 and terms["per"] == (10_007 - terms["fee"]) // 5
    worker = make_user("worker")
    for _ in range(5):
        claimed = claim(client, worker, job_id).json()
        body = tracks_for(claimed["items"][0])
        assert submit(client, worker, claimed["assignment_id"], body).status_code == 200
        assert submit(client, worker, claimed["assignment_id"], body).status_code == 200  # a replay
    assert job_status(settings, job_id) is JobStatus.completed
    assert earning_count(settings, job_id) == 5
    assert earned_by(settings, job_id) == {worker["id"]: 5 * terms["per"]}
    ledger = books(settings, job_id)
    assert ledger.balanced and ledger.funded == 10_007 and ledger.fees == terms["fee"]


def test_a_video_job_can_be_created_from_uploaded_videos(
    client: TestClient, make_user: UserFactory, settings: Settings, video_root: Path
) -> None:
    spec = {k: v for k, v in video_job_body(video_root).items() if k not in ("data_uri", "gt")}
    files = [("images", (n, (video_root / n).read_bytes(), "video/mp4")) for n in FRAMES]
    files.append(("gt", ("gt.json", b"{}", "application/json")))
    headers = make_user("requester")["headers"]
    largest = max(len(f[1][1]) for f in files)
    # each video is held to the video limit, not the image one (a real video is larger than a photo)
    app_settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.state.settings = settings.model_copy(update={"max_image_bytes": 100})  # type: ignore[attr-defined]
    r = client.post("/api/jobs/upload", data={"spec": json.dumps(spec)}, files=files, headers=headers)
    assert r.status_code == 201, r.text
    assert (r.json()["segment_count"], r.json()["image_count"]) == (5, 2)
    client.app.state.settings = settings.model_copy(update={"max_video_bytes": largest - 1})  # type: ignore[attr-defined]
    r = client.post("/api/jobs/upload", data={"spec": json.dumps(spec)}, files=files, headers=headers)
    assert r.status_code == 413 and f"over the {largest - 1}-byte limit" in r.json()["detail"], r.text
    client.app.state.settings = app_settings  # type: ignore[attr-defined]
    # an image job's files keep the image limit
    image_spec = {**spec, "type": "boxes", "gt_per_assignment": 2}
    for key in ("segment_frames", "segment_overlap"):
        image_spec.pop(key)
    client.app.state.settings = settings.model_copy(update={"max_image_bytes": largest - 1})  # type: ignore[attr-defined]
    r = client.post("/api/jobs/upload", data={"spec": json.dumps(image_spec)}, files=files, headers=headers)
    assert r.status_code == 413 and "image" in r.json()["detail"], r.text
    client.app.state.settings = app_settings  # type: ignore[attr-defined]


def test_a_long_video_ingest_keeps_the_job_from_looking_stalled(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    video_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from marketplace.flows import activation
    from marketplace.media import service as media

    touched: list[int] = []
    real = media.touch_ingest
    monkeypatch.setattr(activation, "VIDEO_ALIVE_EVERY_S", 0.0)
    monkeypatch.setattr(media, "touch_ingest", lambda s, job_id: (touched.append(job_id), real(s, job_id)))
    headers = make_user("requester")["headers"]
    r = client.post("/api/jobs", json=video_job_body(video_root), headers=headers)
    job_id = r.json()["id"]
    activate_job_now(settings, job_id)
    assert job_status(settings, job_id) is JobStatus.active
    assert touched and set(touched) == {job_id}  # after each chunk of frames
