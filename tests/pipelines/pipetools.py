"""Helpers of the pipeline tests: real COCO images with car and person gold, funding a stage on the
in-process chain, and an oracle QA worker (test-only: it reads the item's name, which no worker sees)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address
from fastapi.testclient import TestClient
from sqlalchemy import update

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.escrow.evm import DevChain
from marketplace.flows import funding as funding_flow
from marketplace.models import Job, PayoutDestination, PayoutSchedule, PipelineItem, QaCheck, Rail, utcnow
from marketplace.payments import service as payments
from marketplace.payments.rails import Rails

LABELS = ("car", "person")
GT_NAMES = ("000000128372.jpg", "000000404249.jpg")  # the car and persons of the icevision samples


def real_images(shared: Path, root: Path) -> dict[str, list[tuple[str, list[float]]]]:
    """Copy 10 real COCO images into ``root``; return their car/person gold {name: [(label, bbox)]}."""
    gold: dict[str, list[tuple[str, list[float]]]] = {}
    for folder, file in (
        ("coco_icevision_samples", "instances.json"),
        ("coco_mmpose_person_keypoints", "person_keypoints.json"),
    ):
        coco = json.loads((shared / folder / file).read_text())
        cats = {c["id"]: c["name"] for c in coco["categories"]}
        names = {i["id"]: i["file_name"] for i in coco["images"]}
        for image in coco["images"]:
            shutil.copy(shared / folder / "images" / image["file_name"], root / image["file_name"])
            gold.setdefault(image["file_name"], [])
        for ann in coco["annotations"]:
            if cats[ann["category_id"]] in LABELS:
                gold[names[ann["image_id"]]].append(
                    (cats[ann["category_id"]], [float(v) for v in ann["bbox"]])
                )
    return gold


def gt_coco(shared: Path, gold: dict[str, list[tuple[str, list[float]]]]) -> dict[str, Any]:
    sizes = {}
    coco = json.loads((shared / "coco_icevision_samples" / "instances.json").read_text())
    for image in coco["images"]:
        sizes[image["file_name"]] = (image["width"], image["height"])
    images = [
        {"id": k + 1, "file_name": n, "width": sizes[n][0], "height": sizes[n][1]}
        for k, n in enumerate(GT_NAMES)
    ]
    anns = [
        {
            "id": len(images) * 100 + k,
            "image_id": i + 1,
            "category_id": LABELS.index(label) + 1,
            "bbox": box,
            "area": box[2] * box[3],
            "iscrowd": 0,
        }
        for i, n in enumerate(GT_NAMES)
        for k, (label, box) in enumerate(gold[n])
    ]
    for k, ann in enumerate(anns):
        ann["id"] = k + 1
    return {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}],
    }


def wallet(i: int) -> str:
    return to_checksum_address(keccak(f"pipeline-worker-{i}".encode())[12:])


def give_wallets(settings: Settings, user_ids: list[int]) -> None:
    with session_scope(session_factory(settings)) as s:
        for uid in user_ids:
            s.add(
                PayoutDestination(user_id=uid, rail=Rail.chain, destination=wallet(uid), verified_at=utcnow())
            )


def fund_on_chain(settings: Settings, rails: Rails, chain: DevChain, job_id: int) -> None:
    """Fund a stage's job in the vault of the in-process chain, then let the chain poller see it."""
    with session_scope(session_factory(settings)) as s:
        job = s.get(Job, job_id)
        assert job is not None
        bounty = job.bounty_amount
        out = payments.start_funding(s, job, rails, fee_bps=500, schedule=PayoutSchedule.on_completion)
    rails.need_chain().fund_job(chain.accounts[0], out.chain_job_id, out.token_address, bounty, out.deadline)
    with session_scope(session_factory(settings)) as s:
        assert funding_flow.poll_chain_funding(s, rails) == 1


def item_name(settings: Settings, item_id: int) -> str:
    with session_factory(settings)() as s:
        item = s.get(PipelineItem, item_id)
        assert item is not None
        return item.name


def item_truths(settings: Settings, tokens: list[str]) -> dict[str, tuple[bool, str, list[dict[str, Any]]]]:
    """token -> (is GT, image name, the stage's GT objects). Test-only: what no worker can see."""
    from sqlalchemy import select

    from marketplace.models import AssignmentItem, GtAnnotation, JobImage

    with session_factory(settings)() as s:
        out = {}
        for item in s.scalars(select(AssignmentItem).where(AssignmentItem.token.in_(tokens))):
            image = s.get(JobImage, item.image_id)
            assert image is not None
            gts = s.scalars(select(GtAnnotation).where(GtAnnotation.image_id == item.image_id))
            out[item.token] = (
                item.is_gt,
                image.name,
                [{"label": g.label, "geometry": g.geometry} for g in gts],
            )
        return out


def pipeline_body(
    root: Path,
    gt: dict[str, Any],
    qa_members: list[int] | None = None,
    teams: tuple[list[int] | None, list[int] | None] = (None, None),
) -> dict[str, Any]:
    """The street-scenes pipeline (cars, pedestrians, QA); ``teams``: the annotate stages' members."""
    body = {
        "title": "Street scenes",
        "data_uri": str(root),
        "gt": gt,
        "rail": "chain",
        "currency": "tusd",
        "stages": [
            {
                "kind": "annotate",
                "name": "cars",
                "labels": ["car"],
                "bounty_amount": 400_000,
                "assignment_size": 2,
                "gt_per_assignment": 1,
            },
            {
                "kind": "annotate",
                "name": "pedestrians",
                "labels": ["person"],
                "bounty_amount": 800_000,
                "assignment_size": 2,
                "gt_per_assignment": 1,
            },
            {"kind": "qa", "name": "QA", "bounty_amount": 160_000, "members": qa_members},
        ],
    }
    for stage, members in zip(body["stages"], teams, strict=False):
        if members is not None:
            stage["members"] = members
    return body


def run_annotate_stage(
    client: TestClient,
    settings: Settings,
    job_id: int,
    workers: list[dict[str, Any]],
    gold: dict[str, list[tuple[str, list[float]]]],
    label: str,
    spoil: dict[str, Any],
    limit: int | None = None,
) -> dict[str, set[int]]:
    """Workers take turns claiming and answering until the stage has no work left (or ``limit``
    assignments were submitted); GT items right, data items with the gold of the stage's label, except
    what ``spoil[name](objects)`` changes. Returns who answered each data image (more than one worker
    when a trusted worker's GT slot carried real work)."""
    who: dict[str, set[int]] = {}
    done: set[int] = set()
    submitted = 0
    while len(done) < len(workers) and (limit is None or submitted < limit):
        for k, worker in enumerate(workers):
            if k in done:
                continue
            r = client.post(f"/api/jobs/{job_id}/assignments/claim", headers=worker["headers"])
            if r.status_code == 409:
                done.add(k)
                continue
            assert r.status_code == 200, r.text
            claim = r.json()
            truths = item_truths(settings, [i["item_id"] for i in claim["items"]])
            answers = []
            for item in claim["items"]:
                is_gt, name, gt_objects = truths[item["item_id"]]
                if is_gt:
                    objects = gt_objects
                else:
                    objects = [{"label": lb, "geometry": box} for lb, box in gold[name] if lb == label]
                    objects = spoil.get(name, lambda o: o)(objects)
                    who.setdefault(name, set()).add(worker["id"])
                answers.append({"item_id": item["item_id"], "annotations": objects})
            r = client.post(
                f"/api/assignments/{claim['assignment_id']}/submit",
                json={"items": answers},
                headers=worker["headers"],
            )
            assert r.status_code == 200, r.text
            submitted += 1
            if limit is not None and submitted >= limit:
                break
    return who


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def qa_verdict(item: dict[str, Any], gold: list[tuple[str, list[float]]]) -> list[dict[str, Any]]:
    """The oracle QA worker: an issue per drawn box no gold box matches, and per gold box nobody drew."""
    issues = []
    for stage in item["work"]:
        truth = [box for lb, box in gold if lb in stage["labels"]]
        drawn = [o["geometry"] for o in stage["objects"]]
        for k, box in enumerate(drawn):
            if not any(iou(box, t) >= 0.5 for t in truth):
                issues.append(
                    {"stage_job_id": stage["stage_job_id"], "object_index": k, "comment": "box is off"}
                )
        for t in truth:
            if not any(iou(box, t) >= 0.5 for box in drawn):
                issues.append(
                    {"stage_job_id": stage["stage_job_id"], "geometry": t, "comment": "missing person"}
                )
    return issues


def moved_first(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sloppy annotator's box: a third of the person's width and height, in their corner."""
    x, y, w, h = objects[0]["geometry"]
    return [{**objects[0], "geometry": [x, y, w / 3, h / 3]}, *objects[1:]]


@dataclass
class Streets:
    """A created (not yet funded) street-scenes pipeline, its people and the gold of its images."""

    pipeline: dict[str, Any]
    stage_ids: list[int]
    gold: dict[str, list[tuple[str, list[float]]]]
    data_names: list[str]
    requester: dict[str, Any]
    cars: list[dict[str, Any]]
    walkers: list[dict[str, Any]]
    qa_team: list[dict[str, Any]]
    #: with stage teams: a member of the pedestrians' team who annotates nothing
    spare: dict[str, Any] | None = None
    #: with a route: the only member of the QA stage's custom status "expert review"
    expert: dict[str, Any] | None = None

    @property
    def qa(self) -> dict[str, Any]:
        return self.qa_team[0]

    @property
    def persons(self) -> list[str]:
        return [n for n in self.data_names if any(lb == "person" for lb, _ in self.gold[n])]

    @property
    def moved(self) -> str:
        """The image with people on which a pedestrian annotator draws one box badly."""
        return self.persons[0]

    @property
    def missed(self) -> str:
        """The image with people on which a pedestrian annotator leaves one person out."""
        return self.persons[1]

    def annotate(self, client: TestClient, settings: Settings) -> dict[str, set[int]]:
        """Both annotate stages worked to the end (cars right; pedestrians with the two mistakes);
        returns who annotated each image's pedestrians."""
        run_annotate_stage(client, settings, self.stage_ids[0], self.cars, self.gold, "car", {})
        spoil = {self.moved: moved_first, self.missed: lambda objs: objs[1:]}
        return run_annotate_stage(
            client, settings, self.stage_ids[1], self.walkers, self.gold, "person", spoil
        )

    def review(
        self, client: TestClient, settings: Settings, qa: dict[str, Any], who: dict[str, set[int]]
    ) -> tuple[dict[str, list[int]], bool]:
        """``qa`` (the oracle) reviews until nothing is left, the pedestrian annotators fix what comes
        back to them (the first fix of the missed person changes nothing, so QA reopens it); returns the
        issues raised per image name and whether an issue was reopened."""
        stage_ids, gold, walkers, cars, missed = (
            self.stage_ids,
            self.gold,
            self.walkers,
            self.cars,
            self.missed,
        )
        data_names = self.data_names
        raised: dict[str, list[int]] = {}
        reopened = False
        for _ in range(40):
            r = client.post("/api/pipelines/qa/claim", headers=qa["headers"])
            if r.status_code == 409:
                # nothing for QA: the annotators fix what is theirs
                fixers = 0
                for annotator in walkers:
                    for item in client.get("/api/pipeline-items/fixes", headers=annotator["headers"]).json():
                        fixers += 1
                        name = item_name(settings, item["id"])
                        assert annotator["id"] in who[name]  # back to a worker who drew it
                        assert all(i["assignee_id"] == annotator["id"] for i in item["issues"])
                        stage = next(w for w in item["work"] if w["stage_job_id"] == stage_ids[1])
                        fixed = [{"label": lb, "geometry": box} for lb, box in gold[name] if lb == "person"]
                        if name == missed and not reopened:
                            fixed = stage["objects"]  # says fixed, changes nothing: QA will reopen
                        r = client.post(
                            f"/api/pipeline-items/{item['id']}/fix",
                            json={"stage_job_id": stage_ids[1], "objects": fixed},
                            headers=annotator["headers"],
                        )
                        assert r.status_code == 200, r.text
                if not fixers and not checks_come_back(settings, qa["id"]):
                    break
                continue
            assert r.status_code == 200, r.text
            item = r.json()
            name = item_name(settings, item["id"])
            assert client.get(item["image_url"], headers=qa["headers"]).status_code == 200
            assert client.get(item["image_url"], headers=cars[1]["headers"]).status_code == 404
            issues = qa_verdict(item, gold[name])
            fixed_ids = [i["id"] for i in item["issues"] if i["status"] == "fixed"]
            if issues and fixed_ids:  # a fix that did not fix it: reopen
                body: dict[str, Any] = {"action": "reopen", "reopen": fixed_ids, "comment": "still missing"}
                reopened = True
            elif issues:
                body = {"action": "issue", "issues": issues}
                raised.setdefault(name, []).append(len(issues))
            elif name == data_names[-1] and not any(gold[name]):
                body = {"action": "discard", "comment": "nothing to label"}
            else:
                body = {"action": "approve"}
            r = client.post(f"/api/pipeline-items/{item['id']}/decision", json=body, headers=qa["headers"])
            assert r.status_code == 200, r.text
        return raised, reopened


def streets(
    client: TestClient,
    make_user: Callable[..., dict[str, Any]],
    settings: Settings,
    data_root: Path,
    shared: Path,
    *,
    qa_team: int = 1,
    teams: bool = False,
    expert: bool = False,
    in_sequence: bool = False,
) -> Streets:
    """The pipeline created through the API, with two annotators per stage and its QA team
    (``teams``: each annotate stage is its annotators' team; the pedestrians' has a spare member)."""
    root = data_root / "streets"
    root.mkdir()
    gold = real_images(shared, root)
    data_names = sorted(n for n in gold if n not in GT_NAMES)
    requester = make_user("requester")
    cars = [make_user("worker"), make_user("worker")]
    walkers = [make_user("worker"), make_user("worker")]
    team = [make_user("worker") for _ in range(qa_team)]
    spare = make_user("worker") if teams else None
    the_expert = make_user("worker") if expert else None
    paid = [*cars, *walkers, *team, *([the_expert] if the_expert else [])]
    give_wallets(settings, [w["id"] for w in paid])
    stage_teams: tuple[list[int] | None, list[int] | None] = (None, None)
    if spare is not None:
        stage_teams = ([w["id"] for w in cars], [*(w["id"] for w in walkers), spare["id"]])
    body = pipeline_body(root, gt_coco(shared, gold), [w["id"] for w in team], stage_teams)
    if the_expert is not None:
        body["stages"][2]["routes"] = [{"status": "expert review", "members": [the_expert["id"]]}]
    body["in_sequence"] = in_sequence
    r = client.post("/api/pipelines", json=body, headers=requester["headers"])
    assert r.status_code == 201, r.text
    pipeline = r.json()
    st = Streets(
        pipeline,
        [s["job_id"] for s in pipeline["stages"]],
        gold,
        data_names,
        requester,
        cars,
        walkers,
        team,
        spare,
        the_expert,
    )
    assert len(data_names) == 8 and len(st.persons) >= 3
    return st


def checks_come_back(settings: Settings, worker_id: int | None = None) -> int:
    """Test-only, time passes: every hidden check on its way back (to this QA worker) is due now.
    Returns how many."""
    stmt = update(QaCheck).where(QaCheck.returns_at.is_not(None))
    if worker_id is not None:
        stmt = stmt.where(QaCheck.worker_id == worker_id)
    with session_scope(session_factory(settings)) as s:
        return int(s.execute(stmt.values(returns_at=utcnow() - timedelta(seconds=1))).rowcount)


def first_review(
    client: TestClient, settings: Settings, st: Streets, qa: dict[str, Any], *, hold: bool = False
) -> tuple[dict[str, int], int | None]:
    """``qa`` (the oracle) claims and decides until nothing is left: issues where the work is wrong
    (the hidden checks' defects included), approval otherwise; with ``hold``, it stops at the first
    data item with nothing wrong and keeps it (held, undecided). Returns {image name: item id} of the
    data items given issues, and the held item's id."""
    issued: dict[str, int] = {}
    while True:
        r = client.post("/api/pipelines/qa/claim", headers=qa["headers"])
        if r.status_code == 409:
            return issued, None
        assert r.status_code == 200, r.text
        item = r.json()
        name = item_name(settings, item["id"])
        issues = qa_verdict(item, st.gold[name])
        if hold and name not in GT_NAMES and not issues:
            return issued, item["id"]
        body: dict[str, Any] = {"action": "issue", "issues": issues} if issues else {"action": "approve"}
        r = client.post(f"/api/pipeline-items/{item['id']}/decision", json=body, headers=qa["headers"])
        assert r.status_code == 200, r.text
        if issues and name not in GT_NAMES:
            issued[name] = item["id"]


def fix_all(client: TestClient, settings: Settings, st: Streets, workers: list[dict[str, Any]]) -> int:
    """Each of ``workers`` fixes every item waiting for them with the pedestrians' gold; how many."""
    fixed = 0
    for worker in workers:
        for item in client.get("/api/pipeline-items/fixes", headers=worker["headers"]).json():
            name = item_name(settings, item["id"])
            truth = [{"label": lb, "geometry": box} for lb, box in st.gold[name] if lb == "person"]
            r = client.post(
                f"/api/pipeline-items/{item['id']}/fix",
                json={"stage_job_id": st.stage_ids[1], "objects": truth},
                headers=worker["headers"],
            )
            assert r.status_code == 200, r.text
            fixed += 1
    return fixed
