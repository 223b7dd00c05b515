"""Video jobs of polygon tracks (``video_polygons``) through the HTTP API: rings checked on submit, GT
polygon frames scored by mask IoU and identity, a swap rejected, the results exported as polygon
tracks (CVAT, COCO video) and bounding boxes (MOT) (PostgreSQL, a real PyAV video)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.assignments.conftest import activate_job_now, claim, submit
from tests.conftest import UserFactory
from tests.video.test_video_gt import FRAMES, GT_FRAMES
from tests.video.test_video_jobs import video_job_body
from tests.video.videos import make_video


def outline(track: int, frame: int) -> list[list[float]]:
    """GT person ``track`` on ``frame`` (in a 160x96 video): 1 is a rectangle walking right a pixel a
    frame, 2 a standing triangle."""
    if track == 1:
        x = 10.0 + frame
        return [[x, 20.0, x + 30.0, 20.0, x + 30.0, 60.0, x, 60.0]]
    return [[100.0, 80.0, 115.0, 30.0, 130.0, 80.0]]


def tracks(start: int, end: int, swap_at: int | None = None) -> list[dict[str, Any]]:
    """Both people with a keyframe at each end of the segment (and around ``swap_at``, where their ids
    trade places, if given)."""

    def keys(own: int, other: int) -> list[dict[str, Any]]:
        if swap_at is None or not start < swap_at < end:
            return [{"frame": f, "geometry": outline(own, f)} for f in (start, end - 1)]
        frames = [(start, own), (swap_at - 1, own), (swap_at, other), (end - 1, other)]
        return [{"frame": f, "geometry": outline(t, f)} for f, t in frames]

    return [
        {"id": 5, "label": "person", "keyframes": keys(1, 2)},
        {"id": 6, "label": "person", "keyframes": keys(2, 1)},
    ]


GT_TRACKS = [
    {
        "id": t,
        "label": "person",
        "keyframes": [{"frame": f, "geometry": outline(t, f)} for f in (0, FRAMES - 1)],
    }
    for t in (1, 2)
]


def polygon_job(root: Path, **overrides: Any) -> dict[str, Any]:
    fields = {"gt": {"a.mp4": {"tracks": GT_TRACKS, "frames": GT_FRAMES}}, **overrides}
    return video_job_body(root, type="video_polygons", labels=["person", "car"], **fields)


def answer(item: dict[str, Any], given: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": [{"item_id": item["item_id"], "tracks": given}]}


def test_a_polygon_video_job_scores_rings_by_identity_and_exports_polygon_tracks(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path
) -> None:
    root = data_root / "poly"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(FRAMES)]))
    requester = make_user("requester")
    r = client.post("/api/jobs", json=polygon_job(root, max_attempts=3), headers=requester["headers"])
    assert r.status_code == 201, r.text
    job = r.json()
    assert (job["type"], job["gt_count"], job["segment_count"]) == ("video_polygons", 6, 3)
    activate_job_now(settings, job["id"])

    cheater = make_user("worker")
    outcome: dict[tuple[int, int], str] = {}
    for n in range(3):
        claimed = claim(client, cheater, job["id"]).json()
        item = claimed["items"][0]
        start, end = item["video"]["start_frame"], item["video"]["end_frame"]
        if n == 0:  # what a polygon job refuses, with the track and keyframe named
            bad_ring = tracks(start, end)
            bad_ring[0]["keyframes"][0]["geometry"] = [[10.0, 20.0, 40.0, 20.0]]
            box = tracks(start, end)
            box[1]["keyframes"][1]["geometry"] = [10.0, 20.0, 40.0, 60.0]
            outside = tracks(start, end)
            outside[0]["keyframes"][0]["geometry"] = [[150.0, 20.0, 170.0, 20.0, 170.0, 60.0]]
            for given, words in ((bad_ring, "at least 6"), (box, "polygon's rings"), (outside, "outside")):
                r = submit(client, cheater, claimed["assignment_id"], answer(item, given))
                assert r.status_code == 422 and words in r.text and "track" in r.text, r.text
        r = submit(client, cheater, claimed["assignment_id"], answer(item, tracks(start, end, swap_at=20)))
        assert r.status_code == 200, r.text
        mine = client.get(f"/api/assignments/{claimed['assignment_id']}/quality", headers=cheater["headers"])
        outcome[(start, end)] = mine.json()["status"]
    # the middle segment holds the GT frames: every polygon is right, the ids are swapped
    assert outcome == {(0, 16): "accepted", (12, 28): "rejected", (24, 40): "accepted"}

    honest = make_user("worker")
    claimed = claim(client, honest, job["id"]).json()
    item = claimed["items"][0]
    assert (item["video"]["start_frame"], item["video"]["end_frame"]) == (12, 28)  # issued again
    assert submit(client, honest, claimed["assignment_id"], answer(item, tracks(12, 28))).status_code == 200
    assert client.get(f"/api/jobs/{job['id']}", headers=requester["headers"]).json()["status"] == "completed"

    def result(name: str) -> str:
        r = client.get(f"/api/jobs/{job['id']}/results/{name}", headers=requester["headers"])
        assert r.status_code == 200, r.text
        return r.text

    cvat = ET.fromstring(result("001_a.mp4.cvat.xml"))
    shapes = cvat.findall("track/polygon")
    assert shapes and not cvat.findall("track/box")
    mot = [line.split(",") for line in result("001_a.mp4.gt.txt").splitlines()]
    first = [row for row in mot if row[0] == "1"]  # frame 0: the two people's bounding boxes
    assert sorted((float(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in first) == [
        (10.0, 20.0, 30.0, 40.0),
        (100.0, 30.0, 30.0, 50.0),
    ]
    coco = json.loads(result("videos_coco.json"))
    assert coco["annotations"] and all(a["segmentation"] for a in coco["annotations"])


def test_a_polygon_video_job_refuses_boxes_for_gt(
    client: TestClient, make_user: UserFactory, data_root: Path
) -> None:
    root = data_root / "poly"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(FRAMES)]))
    headers = make_user("requester")["headers"]
    mot = "1,7,10,20,30,40,1,-1,-1,-1\n"
    r = client.post("/api/jobs", json=polygon_job(root, gt={"a.mp4": {"mot": mot}}), headers=headers)
    assert r.status_code == 422 and "MOT text holds boxes" in r.text, r.text
    boxes = {
        "a.mp4": {
            "tracks": [{"id": 1, "label": "person", "keyframes": [{"frame": 3, "geometry": [1, 2, 30, 40]}]}]
        }
    }
    r = client.post("/api/jobs", json=polygon_job(root, gt=boxes), headers=headers)
    assert r.status_code == 422 and "gt" in r.text, r.text


def shifted(given: list[dict[str, Any]], dx: float) -> list[dict[str, Any]]:
    for track in given:
        for key in track["keyframes"]:
            key["geometry"] = [
                [v + dx if n % 2 == 0 else v for n, v in enumerate(ring)] for ring in key["geometry"]
            ]
    return given


def test_two_workers_outlines_are_linked_and_merged_by_pixel_majority(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path
) -> None:
    root = data_root / "poly2"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(FRAMES)]))
    requester = make_user("requester")
    r = client.post("/api/jobs", json=polygon_job(root, overlap=2, gt={}), headers=requester["headers"])
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    activate_job_now(settings, job_id)
    for dx in (0.0, 2.0):  # the second worker draws every outline two pixels to the right
        worker = make_user("worker")
        for _ in range(3):
            claimed = claim(client, worker, job_id).json()
            item = claimed["items"][0]
            given = shifted(tracks(item["video"]["start_frame"], item["video"]["end_frame"]), dx)
            assert submit(client, worker, claimed["assignment_id"], answer(item, given)).status_code == 200
    summary = client.get(f"/api/jobs/{job_id}/results/summary.json", headers=requester["headers"]).json()
    assert summary["videos"][0]["tracks"] == 2  # each person once: linked across workers and segments
    coco = client.get(f"/api/jobs/{job_id}/results/videos_coco.json", headers=requester["headers"]).json()
    first = sorted(a["bbox"] for a in coco["annotations"] if a["image_id"] == coco["images"][0]["id"])
    # equal weights: a pixel either worker covered is kept (half the weight), so the union's box
    assert first[0] == [10.0, 20.0, 32.0, 40.0]
