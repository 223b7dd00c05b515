"""Ambiguous stitches as review items: two people side by side across a segment cut are joined with
a close rival; each such link is a dispute, and a reviewer's ``unlink`` splits the track at the next
export (PostgreSQL, a real PyAV video, the HTTP API)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.assignments.conftest import activate_job_now, claim, submit
from tests.conftest import UserFactory
from tests.video.test_video_jobs import video_job_body
from tests.video.videos import make_video


def side_by_side(item: dict[str, Any]) -> dict[str, Any]:
    """Two people two pixels apart for the whole segment: any cut could join them either way."""
    start, end = item["video"]["start_frame"], item["video"]["end_frame"]
    tracks = [
        {
            "id": 3 + i,
            "label": "person",
            "keyframes": [
                {"frame": f, "geometry": [40.0 + 2 * i, 10.0, 80.0 + 2 * i, 90.0]} for f in (start, end - 1)
            ],
        }
        for i in (0, 1)
    ]
    return {"items": [{"item_id": item["item_id"], "tracks": tracks}]}


def test_ambiguous_stitches_become_disputes_and_unlink_splits_the_track(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path
) -> None:
    root = data_root / "crowd"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(40)]))  # segments 0-16, 12-28, 24-40
    requester = make_user("requester")
    r = client.post("/api/jobs", json=video_job_body(root), headers=requester["headers"])
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    activate_job_now(settings, job_id)
    worker = make_user("worker")
    for _ in range(3):
        claimed = claim(client, worker, job_id).json()
        assert (
            submit(client, worker, claimed["assignment_id"], side_by_side(claimed["items"][0])).status_code
            == 200
        )

    def summary() -> dict[str, Any]:
        r = client.get(f"/api/jobs/{job_id}/results/summary.json", headers=requester["headers"])
        assert r.status_code == 200, r.text
        return json.loads(r.text)["videos"][0]

    first = summary()
    assert first["tracks"] == 2
    links = first["ambiguous_links"]
    assert {(link["frame"], link["label"]) for link in links} == {(12, "person"), (24, "person")}
    reviewer = make_user("reviewer")
    queue = client.get(
        "/api/reviews/disputes",
        params={"kind": "ambiguous_stitch", "job_id": job_id},
        headers=reviewer["headers"],
    ).json()
    assert len(queue) == len(links) and all(d["status"] == "open" for d in queue)
    detail = client.get(f"/api/reviews/disputes/{queue[0]['id']}", headers=reviewer["headers"]).json()
    assert detail["details"]["video"] == "a.mp4" and detail["details"]["track"] in (1, 2)
    assert "a.mp4" in detail["reason"] and detail["context"]["image"]["name"] == "a.mp4"
    # unlink one: the re-export gives the later part its own id; nothing else is reopened or doubled
    target = next(d for d in queue if d["subject"].startswith("stitch:") and ":24:" in d["subject"])
    r = client.post(
        f"/api/reviews/disputes/{target['id']}/decide", json={"action": "unlink"}, headers=reviewer["headers"]
    )
    assert r.status_code == 200, r.text
    assert summary()["tracks"] == 3
    after = client.get(
        "/api/reviews/disputes",
        params={"kind": "ambiguous_stitch", "job_id": job_id},
        headers=reviewer["headers"],
    ).json()
    assert sorted(d["id"] for d in after) == sorted(d["id"] for d in queue)
    assert [d["status"] for d in after if d["id"] == target["id"]] == ["decided"]
    # upheld: the link stands, nothing is exported again
    other = next(d for d in after if d["status"] == "open")
    r = client.post(
        f"/api/reviews/disputes/{other['id']}/decide", json={"action": "uphold"}, headers=reviewer["headers"]
    )
    assert r.status_code == 200 and summary()["tracks"] == 3
