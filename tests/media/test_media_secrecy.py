"""Issue 12, items 1 and 4: what a worker receives for a hidden GT image cannot be told from what it
receives for a normal one, however the GT set was made; and it no longer depends on the source.

Before the media pipeline the original files were served as uploaded: the GT JPEGs below went out
with their EXIF, ICC profile, comment, progressive 4:4:4 encoding and their own quantisation tables,
the normal images as PNGs, and a file changed in the folder after activation was served changed."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from marketplace.config import Settings
from marketplace.media.renditions import QUALITY, rendition_size
from tests.assignments.conftest import activate_job_now
from tests.conftest import UserFactory
from tests.media.conftest import MixedJob, decode, fetch_all, gt_tokens, job_row, scene

#: per response, not per file: the length of the body, and a random id given to every request
VARYING_HEADERS = {"content-length", "date", "x-request-id"}


def _items(client: TestClient, make_user: UserFactory, settings: Settings, job: dict) -> tuple[list, set]:
    activate_job_now(settings, job["id"])
    seen = fetch_all(client, make_user, job["id"], workers=4)
    assert seen and all(s["response"].status_code == 200 for s in seen)
    gt = gt_tokens(settings, [s["item"]["item_id"] for s in seen])
    assert gt and len(gt) < len(seen), "the sample must hold both kinds"
    return seen, gt


def test_every_file_goes_out_with_the_same_header_set(
    client: TestClient, make_user: UserFactory, settings: Settings, mixed_job: MixedJob
) -> None:
    seen, _ = _items(client, make_user, settings, mixed_job())
    header_sets = {
        tuple(sorted((k, v) for k, v in s["response"].headers.items() if k not in VARYING_HEADERS))
        for s in seen
    }
    assert len(header_sets) == 1, header_sets
    headers = dict(next(iter(header_sets)))
    assert headers["content-type"] == "image/jpeg"
    assert "last-modified" not in headers and "etag" not in headers


def test_gt_and_normal_bytes_come_from_one_encoder_with_no_metadata(
    client: TestClient, make_user: UserFactory, settings: Settings, mixed_job: MixedJob
) -> None:
    seen, _gt = _items(client, make_user, settings, mixed_job())
    fingerprints = set()
    for s in seen:
        image = decode(s["response"].content)
        assert image.format == "JPEG" and image.mode == "RGB"
        assert not image.getexif(), "EXIF survived"
        for key in ("exif", "icc_profile", "comment", "progressive", "progression", "xmp", "dpi"):
            assert key not in image.info, f"{key} survived"
        tables = tuple(tuple(t) for t in image.quantization.values())  # type: ignore[attr-defined]
        sampling = tuple(image.layer)  # type: ignore[attr-defined]
        fingerprints.add((tables, sampling, _markers(s["response"].content)))
    assert len(fingerprints) == 1, "GT and normal renditions differ in encoder, tables or markers"
    # and the one setting is the documented one (q85 luminance table starts 5, 3, 4, 4 …)
    assert QUALITY == 85


def _markers(jpeg: bytes) -> tuple[int, ...]:
    """The JPEG segment markers up to the scan (SOF kind, APPn, DQT/DHT count…)."""
    out, i = [], 2
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF:
        marker = jpeg[i + 1]
        out.append(marker)
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            break
        i += 2 + int.from_bytes(jpeg[i + 2 : i + 4], "big")
    return tuple(out)


def test_the_job_is_immune_to_its_source_changing_after_activation(
    client: TestClient, make_user: UserFactory, settings: Settings, mixed_job: MixedJob
) -> None:
    """Every file in the folder is replaced by another picture (same names and sizes) after the job
    was activated: workers still get what was ingested."""
    job = mixed_job()
    activate_job_now(settings, job["id"])
    for name in [*job["names"], *job["gt_names"]]:
        fmt = "PNG" if name.endswith(".png") else "JPEG"
        Image.new("RGB", (96, 64), (255, 0, 0)).save(job["root"] / name, format=fmt)
    seen = fetch_all(client, make_user, job["id"], workers=4)
    assert seen
    for s in seen:
        assert s["response"].status_code == 200
        mean = decode(s["response"].content).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        assert isinstance(mean, tuple)
        assert not (mean[0] > 200 and mean[1] < 60 and mean[2] < 60), "the swapped file was served"


def test_a_file_that_cannot_be_decoded_fails_the_activation_with_the_list_of_bad_files(
    client: TestClient, make_user: UserFactory, settings: Settings, mixed_job: MixedJob
) -> None:
    """Two files break between creation and activation (one truncated, one overwritten by junk): the
    job does not open at all, says which files and why, and keeps no rendition."""
    job = mixed_job()
    truncated, junk = job["root"] / job["names"][1], job["root"] / job["gt_names"][0]
    truncated.write_bytes(truncated.read_bytes()[:120])
    junk.write_bytes(b"this is not a picture at all" * 10)
    activate_job_now(settings, job["id"])

    r = client.get(f"/api/jobs/{job['id']}", headers=job["requester"]["headers"])
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "failed"
    bad = {e["name"]: e["reason"] for e in body["ingest_errors"]}
    assert set(bad) == {truncated.name, junk.name}
    assert all(bad.values())
    worker = make_user("worker")
    claim = client.post(f"/api/jobs/{job['id']}/assignments/claim", headers=worker["headers"])
    assert claim.status_code == 409
    renditions = Path(settings.effective_storage_url) / "renditions" / str(job["id"])
    assert not renditions.exists() or not any(renditions.iterdir())


def test_ingest_progress_is_on_the_job_and_an_active_job_has_every_rendition(
    client: TestClient, make_user: UserFactory, settings: Settings, mixed_job: MixedJob
) -> None:
    job = mixed_job(data=6, gt=3)
    activate_job_now(settings, job["id"])
    row = job_row(settings, job["id"])
    assert row.status.value == "active" and row.ingested_count == row.image_count == 9
    r = client.get(f"/api/jobs/{job['id']}", headers=job["requester"]["headers"])
    assert r.json()["ingested_count"] == 9 and r.json()["ingest_errors"] is None


def test_renditions_keep_the_original_geometry(
    client: TestClient, make_user: UserFactory, settings: Settings, mixed_job: MixedJob
) -> None:
    """Items keep the original size (answers are in original pixels); the rendition is resampled by
    one scale for both sides, so the editor stretches it back onto the original's coordinates."""
    seen, _ = _items(client, make_user, settings, mixed_job())
    for s in seen:
        image = decode(s["response"].content)
        assert (s["item"]["width"], s["item"]["height"]) == (96, 64)
        assert image.size == rendition_size(96, 64) == (86, 58)


def test_an_exif_rotated_image_is_served_upright_with_its_upright_size(
    client: TestClient, make_user: UserFactory, settings: Settings, mixed_job: MixedJob
) -> None:
    """A phone photo stored 96x64 with "rotate 90°" in its EXIF is 64x96 as people see it: the item
    says 64x96 and the rendition is upright (the orientation is applied to the pixels, then dropped)."""
    job = mixed_job(data=2, gt=2)
    photo = job["root"] / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    scene(7).save(photo, format="JPEG", exif=exif.tobytes())
    # a second job over the folder with the photo in it
    from tests.conftest import job_body

    r = client.post("/api/jobs", json=job_body(str(job["root"]), job["gt"], bounty_amount=1_000_000,
                    assignment_size=3, gt_per_assignment=1), headers=job["requester"]["headers"])  # fmt: skip
    assert r.status_code == 201, r.text
    activate_job_now(settings, r.json()["id"])
    seen = fetch_all(client, make_user, r.json()["id"], workers=3)
    sizes = {(s["item"]["width"], s["item"]["height"]): decode(s["response"].content) for s in seen}
    assert (64, 96) in sizes and sizes[(64, 96)].size == rendition_size(64, 96)
    assert not sizes[(64, 96)].getexif()
