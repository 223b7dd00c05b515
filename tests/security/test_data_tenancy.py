"""Issue 11 item 5: a job reads only data its requester owns. Before the fix any requester could create
a job on another requester's folder under the allowed roots, or on any s3:// location the platform's
credentials could read, and then see those images through the job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.assignments.conftest import make_box_data
from tests.conftest import UserFactory, job_body


def _use(client: TestClient, settings: Settings, **update: Any) -> Settings:
    changed = settings.model_copy(update=update)
    client.app.state.settings = changed  # type: ignore[attr-defined]
    return changed


def _create(client: TestClient, user: dict[str, Any], uri: str, gt: dict[str, Any]) -> Any:
    return client.post("/api/jobs", json=job_body(uri, gt), headers=user["headers"])


def test_local_folders_belong_to_their_requester(
    client: TestClient, make_user: UserFactory, settings: Settings, tmp_path: Path
) -> None:
    alice, mallory = make_user("requester"), make_user("requester")
    roots, public = tmp_path / "roots", tmp_path / "public"
    _use(client, settings, local_data_roots=[roots], public_data_roots=[public])
    mine = roots / str(alice["id"]) / "cats"
    mine.mkdir(parents=True)
    data = make_box_data(mine, 4, 2)

    r = _create(client, mallory, str(mine), data["gt"])
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "data_not_owned" and r.json()["field"] == "data_uri"
    escape = roots / str(mallory["id"]) / ".." / str(alice["id"]) / "cats"
    assert _create(client, mallory, str(escape), data["gt"]).status_code == 403
    assert _create(client, alice, str(mine), data["gt"]).status_code == 201

    shared = public / "coco"
    shared.mkdir(parents=True)
    shared_data = make_box_data(shared, 4, 2)
    assert _create(client, mallory, str(shared), shared_data["gt"]).status_code == 201


def test_a_symlink_into_someone_elses_folder_is_refused(
    client: TestClient, make_user: UserFactory, settings: Settings, tmp_path: Path
) -> None:
    alice, mallory = make_user("requester"), make_user("requester")
    roots = tmp_path / "roots"
    _use(client, settings, local_data_roots=[roots], public_data_roots=[])
    target = roots / str(alice["id"]) / "cats"
    target.mkdir(parents=True)
    data = make_box_data(target, 4, 2)
    (roots / str(mallory["id"])).mkdir()
    link = roots / str(mallory["id"]) / "cats"
    link.symlink_to(target, target_is_directory=True)
    r = _create(client, mallory, str(link), data["gt"])
    assert r.status_code == 403 and r.json()["error"] == "data_not_owned"


def test_the_platform_storage_folder_is_never_a_source(
    client: TestClient, make_user: UserFactory, settings: Settings
) -> None:
    requester = make_user("requester")
    storage = Path(settings.effective_storage_url) / "uploads" / "1"
    storage.mkdir(parents=True)
    data = make_box_data(storage, 4, 2)
    _use(client, settings, public_data_roots=[settings.home])
    r = _create(client, requester, str(storage), data["gt"])
    assert r.status_code == 403 and "platform" in r.json()["detail"]


def test_s3_data_needs_a_prefix_the_requester_proved_to_own(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    s3_env: Any,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    alice, mallory = make_user("requester"), make_user("requester")
    _use(client, settings, s3_endpoint_url=s3_env.endpoint_url)
    s3 = s3_env.client()
    local = tmp_path / "upload-src"
    data = make_box_data(local, 4, 2)
    for name in data["names"]:
        s3.put_object(Bucket=s3_bucket, Key=f"alice/cats/{name}", Body=(local / name).read_bytes())
    uri = f"s3://{s3_bucket}/alice/cats"

    # Before proving anything, nobody may use it (the platform's credentials could read it).
    r = _create(client, mallory, uri, data["gt"])
    assert r.status_code == 403 and r.json()["error"] == "data_not_owned"

    r = client.post("/api/data-sources", json={"uri": f"s3://{s3_bucket}/alice"}, headers=alice["headers"])
    assert r.status_code == 201, r.text
    source = r.json()
    assert source["verified"] is False and source["proof_uri"] == f"s3://{s3_bucket}/alice/tilework-owner.txt"
    early = client.post(f"/api/data-sources/{source['id']}/verify", headers=alice["headers"])
    assert early.status_code == 409 and early.json()["reason"] == "proof_missing"
    s3.put_object(Bucket=s3_bucket, Key="alice/tilework-owner.txt", Body=source["token"].encode())
    r = client.post(f"/api/data-sources/{source['id']}/verify", headers=alice["headers"])
    assert r.status_code == 200 and r.json()["verified"] is True
    stranger = client.post(f"/api/data-sources/{source['id']}/verify", headers=mallory["headers"])
    assert stranger.status_code == 404

    assert _create(client, alice, uri, data["gt"]).status_code == 201
    # Mallory registers the same prefix but cannot write Alice's bucket: her token is not in the proof.
    theirs = client.post(
        "/api/data-sources", json={"uri": f"s3://{s3_bucket}/alice/"}, headers=mallory["headers"]
    ).json()
    r = client.post(f"/api/data-sources/{theirs['id']}/verify", headers=mallory["headers"])
    assert r.status_code == 409 and r.json()["reason"] == "proof_mismatch"
    assert _create(client, mallory, uri, data["gt"]).status_code == 403
    # A sibling prefix that merely starts with the same letters is not covered.
    assert _create(client, alice, f"s3://{s3_bucket}/alicexyz", data["gt"]).status_code == 403


def test_the_platform_bucket_is_never_a_source(
    client: TestClient, make_user: UserFactory, settings: Settings, s3_env: Any, s3_bucket: str
) -> None:
    requester = make_user("requester")
    _use(client, settings, s3_endpoint_url=s3_env.endpoint_url, storage_url=f"s3://{s3_bucket}/platform")
    r = client.post("/api/data-sources", json={"uri": f"s3://{s3_bucket}/mine"}, headers=requester["headers"])
    assert r.status_code == 403 and "platform" in r.json()["detail"]
    r = _create(client, requester, f"s3://{s3_bucket}/platform/uploads/1", {"images": []})
    assert r.status_code == 403 and r.json()["error"] == "data_not_owned"


def test_a_folder_swapped_for_a_link_after_activation_changes_nothing_a_worker_sees(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path
) -> None:
    """Item 6: the job's folder is replaced by a link to other data after the job was activated; the
    image links must not serve that other data. Workers get the renditions made at activation (issue
    12), so they see exactly what they saw before; the originals are refused to staff views."""
    from urllib.parse import urlsplit

    from tests.assignments.conftest import activate_job_now

    requester, worker = make_user("requester"), make_user("worker")
    folder = data_root / "swap"
    data = make_box_data(folder, 4, 2)
    r = _create(client, requester, str(folder), data["gt"])
    assert r.status_code == 201, r.text
    activate_job_now(settings, r.json()["id"])
    claim = client.post(f"/api/jobs/{r.json()['id']}/assignments/claim", headers=worker["headers"]).json()
    path = urlsplit(claim["items"][0]["image_url"]).path
    before = client.get(path)
    assert before.status_code == 200

    elsewhere = data_root.parent / "private"
    make_box_data(elsewhere, 4, 2)  # same names, someone else's bytes
    folder.rename(data_root / "swap-old")
    folder.symlink_to(elsewhere, target_is_directory=True)
    swapped = client.get(path)
    assert swapped.status_code == 200 and swapped.content == before.content
