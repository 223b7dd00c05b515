"""Every intake error is a clear 4xx naming the problem, and nothing is left half-created."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import GtAnnotation, Job, JobImage
from tests.conftest import UserFactory, coco_boxes, job_body, write_image


def _counts(settings: Settings) -> tuple[int, int, int]:
    with session_factory(settings)() as s:
        return (
            s.scalar(select(func.count()).select_from(Job)) or 0,
            s.scalar(select(func.count()).select_from(JobImage)) or 0,
            s.scalar(select(func.count()).select_from(GtAnnotation)) or 0,
        )


def test_create_job_from_local_folder(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    requester = make_user("requester")
    r = client.post(
        "/api/jobs", json=job_body(str(box_dataset["root"]), box_dataset["gt"]), headers=requester["headers"]
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "draft"
    assert job["image_count"] == 6 and job["gt_count"] == 2
    assert job["bounty_amount"] == "10000"
    assert job["assignment_size"] == 2 and job["max_attempts"] == 3 and job["time_limit_s"] == 1800


def _mutate(gt: dict[str, Any], fn: Any) -> dict[str, Any]:
    out = copy.deepcopy(gt)
    fn(out)
    return out


def _set_bbox(bbox: list[float]) -> Any:
    def fn(gt: dict[str, Any]) -> None:
        gt["annotations"][0]["bbox"] = bbox

    return fn


BAD_GT_CASES = {
    "missing_list": (lambda gt: gt.pop("annotations"), "missing the list 'annotations'"),
    "annotation_without_image_id": (lambda gt: gt["annotations"][0].pop("image_id"), "image_id"),
    "unknown_category_id": (lambda gt: gt["annotations"][0].update(category_id=99), "unknown category_id"),
    "used_categories_not_labels": (
        lambda gt: (
            gt["categories"].append({"id": 3, "name": "bird"}),
            gt["annotations"][0].update(category_id=3),
        ),
        "not labels: bird",
    ),
    "gt_image_not_in_data": (
        lambda gt: gt["images"][0].update(file_name="nope.png"),
        "not found in the data",
    ),
    "zero_width_box": (_set_bbox([4, 4, 0, 10]), "non-positive size"),
    "negative_height_box": (_set_bbox([4, 4, 10, -3]), "non-positive size"),
    "box_outside_image": (_set_bbox([50, 4, 30, 10]), "outside"),
    "box_not_numbers": (_set_bbox(["a", 1, 2, 3]), "finite numbers"),
    "declared_size_wrong": (lambda gt: gt["images"][0].update(width=640), "but the image is 64x48"),
}


@pytest.mark.parametrize("case", sorted(BAD_GT_CASES))
def test_bad_ground_truth_is_rejected(
    case: str, client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any], settings: Settings
) -> None:
    mutate, expected = BAD_GT_CASES[case]
    gt = _mutate(box_dataset["gt"], mutate)
    requester = make_user("requester")
    r = client.post("/api/jobs", json=job_body(str(box_dataset["root"]), gt), headers=requester["headers"])
    assert r.status_code == 422, r.text
    assert expected in r.json()["detail"]
    assert _counts(settings) == (0, 0, 0)


def test_a_coco_file_with_every_category_of_its_tool_is_accepted(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    """Exported by a COCO tool: 80 categories, of which the annotations use the job's labels only."""
    gt = copy.deepcopy(box_dataset["gt"])
    gt["categories"] += [{"id": 100 + i, "name": f"thing {i}"} for i in range(78)]
    gt["categories"].append({"id": 999, "name": "person", "keypoints": ["nose", "eye"]})
    requester = make_user("requester")
    r = client.post("/api/jobs", json=job_body(str(box_dataset["root"]), gt), headers=requester["headers"])
    assert r.status_code == 201, r.text
    assert r.json()["labels"] == job_body(str(box_dataset["root"]), gt)["labels"]


def test_points_outside_image(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    names = box_dataset["names"]
    gt = {
        "images": [{"id": 1, "file_name": names[0], "width": 64, "height": 48}],
        "categories": [{"id": 1, "name": "nose", "keypoints": ["nose"], "skeleton": []}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "keypoints": [70, 10, 2], "num_keypoints": 1}
        ],
    }
    body = job_body(str(box_dataset["root"]), gt, type="points", labels=["nose"])
    r = client.post("/api/jobs", json=body, headers=make_user("requester")["headers"])
    assert r.status_code == 422
    assert "GT point [70.0, 10.0] lies outside" in r.json()["detail"]

    gt["annotations"][0]["keypoints"] = [30, 10, 2]
    gt["categories"][0]["keypoints"] = ["nose", "eye"]
    r = client.post("/api/jobs", json=body, headers=make_user("requester")["headers"])
    assert r.status_code == 422 and "exactly one keypoint" in r.json()["detail"]

    gt["categories"][0]["keypoints"] = ["nose"]
    r = client.post("/api/jobs", json=body, headers=make_user("requester")["headers"])
    assert r.status_code == 201, r.text


def test_classification_needs_one_label_per_gt_image(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    names = box_dataset["names"]
    gt = {
        "images": [{"id": 1, "file_name": names[0]}, {"id": 2, "file_name": names[1]}],
        "categories": [{"id": 1, "name": "yes"}, {"id": 2, "name": "no"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1},
            {"id": 2, "image_id": 1, "category_id": 2},
            {"id": 3, "image_id": 2, "category_id": 2},
        ],
    }
    body = job_body(str(box_dataset["root"]), gt, type="classification", labels=["yes", "no"])
    headers = make_user("requester")["headers"]
    r = client.post("/api/jobs", json=body, headers=headers)
    assert r.status_code == 422 and "exactly one label per image" in r.json()["detail"]
    gt["annotations"].pop(1)
    assert client.post("/api/jobs", json=body, headers=headers).status_code == 201


def test_too_few_images(client: TestClient, make_user: UserFactory, data_root: Path) -> None:
    write_image(data_root / "only.png")
    gt = coco_boxes({"only.png": (64, 48)}, {}, ["cat", "dog"])
    r = client.post("/api/jobs", json=job_body(str(data_root), gt), headers=make_user("requester")["headers"])
    assert r.status_code == 422
    assert "a job needs at least 2" in r.json()["detail"]


def test_gt_larger_than_data_allows(client: TestClient, make_user: UserFactory, data_root: Path) -> None:
    for name in ("a.png", "b.png"):
        write_image(data_root / name)
    headers = make_user("requester")["headers"]
    all_gt = coco_boxes({"a.png": (64, 48), "b.png": (64, 48)}, {}, ["cat", "dog"])
    r = client.post("/api/jobs", json=job_body(str(data_root), all_gt), headers=headers)
    assert r.status_code == 422 and "at least one image must be left" in r.json()["detail"]
    one_gt = coco_boxes({"a.png": (64, 48)}, {}, ["cat", "dog"])
    r = client.post("/api/jobs", json=job_body(str(data_root), one_gt, gt_per_assignment=2), headers=headers)
    assert r.status_code == 422 and "every assignment mixes in 2" in r.json()["detail"]


def test_file_that_is_not_an_image(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    (box_dataset["root"] / "fake.jpg").write_text("this is not a jpeg")
    r = client.post(
        "/api/jobs",
        json=job_body(str(box_dataset["root"]), box_dataset["gt"]),
        headers=make_user()["headers"],
    )
    assert r.status_code == 422
    assert "fake.jpg" in r.json()["detail"]


def test_oversized_and_bomb_images(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any], settings: Settings
) -> None:
    write_image(box_dataset["root"] / "huge.png", size=(4000, 3000))
    headers = make_user()["headers"]
    body = job_body(str(box_dataset["root"]), box_dataset["gt"])
    client.app.state.settings = settings.model_copy(update={"max_image_pixels": 1_000_000})  # type: ignore[attr-defined]
    r = client.post("/api/jobs", json=body, headers=headers)
    assert r.status_code == 413 and "huge.png" in r.json()["detail"]
    client.app.state.settings = settings.model_copy(update={"max_image_bytes": 200})  # type: ignore[attr-defined]
    r = client.post("/api/jobs", json=body, headers=headers)
    assert r.status_code == 413
    assert _counts(settings) == (0, 0, 0)


def test_names_differing_only_in_case(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    write_image(box_dataset["root"] / "IMG02.png")
    r = client.post(
        "/api/jobs",
        json=job_body(str(box_dataset["root"]), box_dataset["gt"]),
        headers=make_user()["headers"],
    )
    assert r.status_code == 422
    assert "duplicate image name" in r.json()["detail"]


def test_bounty_too_small(client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]) -> None:
    body = job_body(str(box_dataset["root"]), box_dataset["gt"], bounty_amount=1)
    r = client.post("/api/jobs", json=body, headers=make_user()["headers"])
    assert r.status_code == 422
    detail = r.json()
    assert detail["field"] == "bounty_amount" and "cannot pay 2 assignments" in detail["detail"]


def test_float_bounty_is_refused(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]
) -> None:
    body = job_body(str(box_dataset["root"]), box_dataset["gt"], bounty_amount=12.5)
    r = client.post("/api/jobs", json=body, headers=make_user()["headers"])
    assert r.status_code == 422 and "integer" in r.json()["detail"]


def test_local_folder_outside_allowed_roots(
    client: TestClient, make_user: UserFactory, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    r = client.post("/api/jobs", json=job_body(str(outside), {}), headers=make_user()["headers"])
    assert r.status_code in (403, 422)
    r = client.post(
        "/api/jobs",
        json=job_body("/etc", {"images": [], "annotations": [], "categories": []}),
        headers=make_user()["headers"],
    )
    assert r.status_code == 403 and "TILEWORK_LOCAL_DATA_ROOTS" in r.json()["detail"]


# -- uploads -------------------------------------------------------------------------------------------


def _spec(**overrides: Any) -> str:
    body = job_body("unused", {})
    body.pop("data_uri")
    body.pop("gt")
    body.update(overrides)
    return json.dumps(body)


def _files(
    box_dataset: dict[str, Any], names: list[str] | None = None
) -> list[tuple[str, tuple[str, bytes, str]]]:
    root: Path = box_dataset["root"]
    return [("images", (n, (root / n).read_bytes(), "image/png")) for n in (names or box_dataset["names"])]


def test_create_job_from_upload(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any], settings: Settings
) -> None:
    files = _files(box_dataset) + [
        ("gt", ("gt.json", json.dumps(box_dataset["gt"]).encode(), "application/json"))
    ]
    r = client.post("/api/jobs/upload", data={"spec": _spec()}, files=files, headers=make_user()["headers"])
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["image_count"] == 6
    assert job["data_uri"].startswith("upload:") and str(settings.home) not in r.text
    with session_factory(settings)() as session:
        stored = session.get(Job, job["id"])
        assert stored is not None
        assert Path(stored.data_uri).is_relative_to(settings.home)
        assert len(list(Path(stored.data_uri).iterdir())) == 6


def test_upload_errors_leave_nothing_behind(
    client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any], settings: Settings
) -> None:
    headers = make_user()["headers"]
    gt_file = ("gt", ("gt.json", json.dumps(box_dataset["gt"]).encode(), "application/json"))
    dup = _files(box_dataset) + _files(box_dataset, [box_dataset["names"][2]]) + [gt_file]
    r = client.post("/api/jobs/upload", data={"spec": _spec()}, files=dup, headers=headers)
    assert r.status_code == 422 and "duplicate image name" in r.json()["detail"]

    not_json = _files(box_dataset) + [("gt", ("gt.json", b"{not json", "application/json"))]
    r = client.post("/api/jobs/upload", data={"spec": _spec()}, files=not_json, headers=headers)
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]

    bad_img = _files(box_dataset) + [("images", ("x.jpg", b"GIF89a-not-really", "image/jpeg")), gt_file]
    r = client.post("/api/jobs/upload", data={"spec": _spec()}, files=bad_img, headers=headers)
    assert r.status_code == 422 and "x.jpg" in r.json()["detail"]

    r = client.post(
        "/api/jobs/upload", data={"spec": "{"}, files=_files(box_dataset) + [gt_file], headers=headers
    )
    assert r.status_code == 422 and r.json()["field"] == "spec"

    assert _counts(settings) == (0, 0, 0)
    uploads = settings.home / "storage" / "uploads"
    assert not uploads.exists() or not any(uploads.rglob("*.png"))
