"""Hidden GT in video jobs: GT frames inside segments, scored per frame and by identity (PostgreSQL,
real PyAV videos, the HTTP API)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import Assignment, JobVideo
from tests.assignments.conftest import activate_job_now, claim, submit
from tests.conftest import UserFactory
from tests.video.test_video_jobs import video_job_body
from tests.video.videos import make_video

FRAMES = 40  # one video, segments (0, 16), (12, 28), (24, 40)
GT_FRAMES = [16, 17, 18, 21, 22, 23]  # only in the middle segment (12, 28): the others have 0-15, 24-39


def person(track: int, frame: int) -> list[float]:
    """Where GT person ``track`` is on ``frame``: 1 walks right a pixel a frame, 2 stands."""
    if track == 1:
        return [10.0 + frame, 20.0, 40.0 + frame, 60.0]
    return [100.0, 30.0, 130.0, 80.0]


GT_TRACKS = [
    {
        "id": t,
        "label": "person",
        "keyframes": [{"frame": 0, "geometry": person(t, 0)}, {"frame": 39, "geometry": person(t, 39)}],
    }
    for t in (1, 2)
]


def honest(start: int, end: int) -> list[dict[str, Any]]:
    return [
        {
            "id": 10 + t,
            "label": "person",
            "keyframes": [{"frame": f, "geometry": person(t, f)} for f in (start, end - 1)],
        }
        for t in (1, 2)
    ]


def swapped(start: int, end: int, at: int = 20) -> list[dict[str, Any]]:
    """Every box right, but the two people exchange ids at frame ``at`` (if the segment has it)."""
    if not start < at < end:
        return honest(start, end)

    def keys(before: int, after: int) -> list[dict[str, Any]]:
        frames = [(start, before), (at - 1, before), (at, after), (end - 1, after)]
        return [{"frame": f, "geometry": person(t, f)} for f, t in frames]

    return [
        {"id": 1, "label": "person", "keyframes": keys(1, 2)},
        {"id": 2, "label": "person", "keyframes": keys(2, 1)},
    ]


def body_for(item: dict[str, Any], tracks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": [{"item_id": item["item_id"], "tracks": tracks}]}


def gt_job(root: Path, **overrides: Any) -> dict[str, Any]:
    gt = {"a.mp4": {"tracks": GT_TRACKS, "frames": GT_FRAMES}}
    return video_job_body(root, labels=["person", "car"], gt=gt, **overrides)


Outcomes = dict[tuple[int, int], tuple[str, dict[str, Any], int]]


def open_gt_job(
    client: TestClient, make_user: UserFactory, settings: Settings, root: Path, **overrides: Any
) -> dict[str, Any]:
    """A 40-frame video job with the GT frames above, created over ``root`` and activated."""
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(FRAMES)]))
    r = client.post("/api/jobs", json=gt_job(root, **overrides), headers=make_user("requester")["headers"])
    assert r.status_code == 201, r.text
    job: dict[str, Any] = r.json()
    activate_job_now(settings, job["id"])
    return job


def appealed_swap(
    client: TestClient, make_user: UserFactory, settings: Settings, root: Path
) -> tuple[dict[str, Any], int, int, int]:
    """A swapping worker's rejected middle segment, appealed, beside an honest worker's accepted one:
    ``(the cheater, rejected assignment id, honest assignment id, dispute id)``."""
    job = open_gt_job(client, make_user, settings, root, overlap=2, max_attempts=5)
    cheater = make_user("worker")
    status, _, rejected = work(client, settings, job, cheater, swapped)[(12, 28)]
    assert status == "rejected"
    _, _, honest_id = work(client, settings, job, make_user("worker"), honest)[(12, 28)]
    r = client.post(
        f"/api/assignments/{rejected}/appeal", json={"comment": "ids"}, headers=cheater["headers"]
    )
    assert r.status_code == 201, r.text
    return cheater, rejected, honest_id, r.json()["id"]


def work(
    client: TestClient, settings: Settings, job: dict[str, Any], worker: dict[str, Any], tracks: Any
) -> Outcomes:
    """The worker claims and submits the job's three segments: ``(start, end)`` -> (status, score
    details, assignment id)."""
    outcome = {}
    keys = set()
    for _ in range(3):
        claimed = claim(client, worker, job["id"]).json()
        item = claimed["items"][0]
        keys.add(tuple(sorted(item)) + tuple(sorted(item["video"])))
        start, end = item["video"]["start_frame"], item["video"]["end_frame"]
        r = submit(client, worker, claimed["assignment_id"], body_for(item, tracks(start, end)))
        assert r.status_code == 200, r.text
        with session_factory(settings)() as session:
            done = session.get(Assignment, claimed["assignment_id"])
            assert done is not None
            outcome[(start, end)] = (done.status.value, done.score_details or {}, done.id)
    assert len(keys) == 1  # a GT segment's claim looks like any other
    return outcome


def test_segments_with_gt_frames_are_scored_by_identity_and_the_rest_are_not(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path
) -> None:
    job = open_gt_job(client, make_user, settings, data_root / "gtvideo", overlap=2, max_attempts=5)
    assert (job["gt_count"], job["segment_count"], job["idf1_target"]) == (6, 3, 0.9)

    cheat = work(client, settings, job, make_user("worker"), swapped)
    status, details, _ = cheat[(12, 28)]
    assert status == "rejected", details
    assert details["scorer"] == "video" and details["accuracy"] == 1.0  # every box right on every frame
    assert details["identity"]["idf1"] == 0.5 and details["identity"]["id_switches"] == 2
    assert details["failed"] == ["identity"] and details["gt_frames"] == GT_FRAMES
    # segments without GT frames are not scored: accepted, whatever the identities
    assert cheat[(0, 16)][0] == cheat[(24, 40)][0] == "accepted"
    assert cheat[(0, 16)][1]["gt_frames"] == []

    good = work(client, settings, job, make_user("worker"), honest)
    status, details, _ = good[(12, 28)]
    assert status == "accepted" and details["identity"]["idf1"] == 1.0 and details["failed"] == []
    with session_factory(settings)() as session:
        rows = (
            session.execute(select(Assignment.status).where(Assignment.job_id == job["id"])).scalars().all()
        )
        assert sorted(s.value for s in rows) == ["accepted"] * 5 + ["rejected"]


def with_a_stray_box(start: int, end: int) -> list[dict[str, Any]]:
    """Honest tracks plus a box on one frame where nobody is: a checked segment scores below 1.0."""
    stray = {
        "id": 99,
        "label": "person",
        "keyframes": [
            {"frame": start + 5, "geometry": [60.0, 60.0, 70.0, 70.0]},
            {"frame": start + 6, "geometry": None, "outside": True},
        ],
    }
    return [*honest(start, end), stray]


def test_a_worker_cannot_tell_from_scores_which_segments_were_checked(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path
) -> None:
    job = open_gt_job(client, make_user, settings, data_root / "gtscores")
    worker = make_user("worker")
    outcome = work(client, settings, job, worker, with_a_stray_box)
    assert {status for status, _, _ in outcome.values()} == {"accepted"}
    assert outcome[(12, 28)][1]["accuracy"] == 12 / 13  # the checked segment: below 1.0, accepted
    mine = client.get("/api/assignments/mine", headers=worker["headers"]).json()
    assert [m["score"] for m in mine] == [None, None, None]
    for _, _, assignment_id in outcome.values():
        quality = client.get(f"/api/assignments/{assignment_id}/quality", headers=worker["headers"]).json()
        assert quality["score"] is None and quality["status"] == "accepted"


def test_a_reviewer_sees_where_an_appealed_segment_differs_from_the_gt_and_from_other_versions(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path
) -> None:
    cheater, rejected, honest_id, dispute_id = appealed_swap(
        client, make_user, settings, data_root / "gtreview"
    )
    reviewer = make_user("reviewer")
    detail = client.get(f"/api/reviews/disputes/{dispute_id}", headers=reviewer["headers"]).json()
    segment = detail["context"]["assignment"]["segment"]
    assert (segment["start_frame"], segment["end_frame"], segment["gt_frames"]) == (12, 28, GT_FRAMES)
    assert [t["id"] for t in segment["gt_tracks"]] == [1, 2]
    # the ids cross at frame 20: of the GT frames, 16-18 (3) pair them one way, 21-23 (3) the other;
    # the pairing over the segment keeps one side, the other side is marked, and no box is off
    gt_diff = segment["differences_from_gt"]
    assert gt_diff["geometry"] == [] and gt_diff["identity"] in ([16, 17, 18], [21, 22, 23])
    # the honest version of the same segment: every frame on one side of the swap differs in identity
    [other] = segment["other_versions"]
    assert (other["assignment_id"], other["status"]) == (honest_id, "accepted")
    assert other["differences"]["geometry"] == []
    assert other["differences"]["identity"] in (list(range(12, 20)), list(range(20, 28)))
    # the reviewer's player: the segment's chunks at reviewers' URLs, readable by reviewers only
    player = segment["player"]
    assert (player["start_frame"], player["end_frame"]) == (12, 28)
    chunk = player["chunks"][0]
    path = "/api/" + chunk["url"].split("/api/", 1)[1]
    assert path == f"/api/reviews/videos/{detail['context']['assignment']['items'][0]['image_id']}/chunks/0"
    got = client.get(path, headers=reviewer["headers"])
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
    assert names[12] == "000012.jpg" and len(names) == chunk["frame_count"]
    assert client.get(path, headers=cheater["headers"]).status_code == 403
    assert client.get(path.replace("/chunks/0", "/chunks/7"), headers=reviewer["headers"]).status_code == 404
    # a worker cannot read the dispute
    assert client.get(f"/api/reviews/disputes/{dispute_id}", headers=cheater["headers"]).status_code == 403


def test_video_gt_is_stored_from_mot_text_with_its_frames_and_checked(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path
) -> None:
    root = data_root / "gtmot"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(FRAMES)]))
    headers = make_user("requester")["headers"]
    mot = "".join(f"{f + 1},7,{10 + f},20,30,40,1,-1,-1,-1\n" for f in range(5, 9))
    r = client.post("/api/jobs", json=video_job_body(root, gt={"a.mp4": {"mot": mot}}), headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["gt_count"] == 4  # frames 5-8: the clip the rows cover
    with session_factory(settings)() as session:
        video = session.execute(select(JobVideo).where(JobVideo.job_id == r.json()["id"])).scalar_one()
        assert video.gt_frames == [5, 6, 7, 8]
        assert video.gt_tracks is not None and [t["label"] for t in video.gt_tracks] == ["car"]

    track = {"id": 1, "label": "car", "keyframes": [{"frame": 3, "geometry": [1, 2, 30, 40]}]}
    cases = [
        ({"b.mp4": {"tracks": [track]}}, "no video 'b.mp4'"),
        ({"a.mp4": {"tracks": [{**track, "label": "bus"}]}}, "label 'bus'"),
        ({"a.mp4": {"tracks": [track, track]}}, "used twice"),
        (
            {"a.mp4": {"tracks": [{**track, "keyframes": [{"frame": 3, "geometry": [0, 0, 500, 40]}]}]}},
            "160x96",
        ),
        (
            {"a.mp4": {"tracks": [{**track, "keyframes": [{"frame": 40, "geometry": [1, 2, 3, 4]}]}]}},
            "frame 40",
        ),
        (
            {"a.mp4": {"tracks": [{**track, "keyframes": [{"frame": 3, "geometry": [1, 2, "x", 4]}]}]}},
            "finite",
        ),
        ({"a.mp4": {"tracks": [track], "frames": [3, 99]}}, "[99]"),
        ({"a.mp4": {"tracks": [track], "frames": "all"}}, "list of frame numbers"),
        ({"a.mp4": {"tracks": ["x"]}}, "not a track"),
        ({"a.mp4": {"mot": "1,2,3"}}, "6 comma-separated"),
        ({"a.mp4": {"mot": "1,1,1,1,5,5", "label": "dog"}}, "label 'dog'"),
        ({"a.mp4": []}, "expected"),
        ("[1]", "valid dictionary"),
    ]
    for gt, says in cases:
        r = client.post("/api/jobs", json=video_job_body(root, gt=gt), headers=headers)
        assert r.status_code == 422 and says in r.text, (gt, r.text)
    r = client.post("/api/jobs", json=video_job_body(root, idf1_target=1.5), headers=headers)
    assert r.status_code == 422 and "idf1_target" in r.text
    image_job = video_job_body(root, type="boxes", gt={"images": []}, idf1_target=0.8)
    del image_job["segment_frames"], image_job["segment_overlap"]
    r = client.post("/api/jobs", json=image_job, headers=headers)
    assert r.status_code == 422 and "idf1_target is for video jobs" in r.text
