"""``tilework demo --pipeline``: a multi-stage pipeline end to end through the real HTTP API.

Rendered scenes are uploaded as a pipeline of two annotate stages (squares; discs and triangles)
and one QA stage, each stage funded from a wallet on the embedded chain. Each annotate stage gets
half of a simulated crowd (careful, sloppy, hasty workers and spammers, as in the main demo) and a
reviewer for its disputes. Then QA, a named team of two: a careful QA worker compares every item
with what it sees and raises an issue per wrong or missing box, and sends crowded scenes that look
right to "expert review", a custom status whose only member is an expert, who decides them the same way;
a rubber stamp approves everything until the hidden checks stop it. Issues go back to the
annotators, who fix them; fixed items come back to whoever raised them. The last line is one JSON
report.
"""

from __future__ import annotations

import json
import mimetypes
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from marketplace.demo.client import ApiClient, ApiError
from marketplace.demo.datasets import DemoDataset, rendered
from marketplace.demo.run import (
    PASSWORD,
    DemoOptions,
    Platform,
    _job_status,
    _link_wallet,
    _phase,
    _settled,
    box_accuracy,
    boxes_by_image,
    fund_on_chain,
    make_crowd,
    make_reviewer,
    review,
    start_platform,
    wait_for,
    work,
)
from marketplace.demo.scenes import LABELS, Scene
from marketplace.quality.scoring import iou_matrix

#: the annotate stages: one label, then the other two
STAGES = (("squares", ["square"]), ("discs and triangles", ["disc", "triangle"]))
QA_ROUNDS = 2000
EXPERT = "expert review"
CROWDED = 4  # objects in a scene the careful QA worker sends to the expert


class QaTeam:
    """The QA stage's team (a careful worker and a rubber stamp) and the expert of its custom status."""

    def __init__(self, base_url: str, run_id: str) -> None:
        self.clients: dict[str, ApiClient] = {}
        self.ids: dict[str, int] = {}
        for name in ("careful", "stamp", "expert"):
            client = ApiClient(base_url)
            client.sign_up(f"qa-{name}-{run_id}@demo.tilework", PASSWORD, "worker")
            _link_wallet(client)
            self.clients[name], self.ids[name] = client, int(client.get("/api/me")["id"])


def create_pipeline(
    api: ApiClient, data: DemoDataset, gt_names: list[str], options: DemoOptions, qa: QaTeam
) -> dict[str, Any]:
    share = options.bounty // 3
    spec = {
        "title": "Shapes, stage by stage",
        "description": data.description,
        "rail": "chain",
        "currency": "tUSD",
        "in_sequence": True,  # the second stage works on an image once the first has finished it
        "stages": [
            *(
                {
                    "kind": "annotate",
                    "name": name,
                    "labels": labels,
                    "bounty_amount": share,
                    "accuracy_target": 0.7,
                    "assignment_size": options.assignment_size,
                    "gt_per_assignment": options.gt_per_assignment,
                    "time_limit_s": 600,
                }
                for name, labels in STAGES
            ),
            {
                "kind": "qa",
                "name": "QA",
                "bounty_amount": share,
                "time_limit_s": 600,
                "members": [qa.ids["careful"], qa.ids["stamp"]],
                "routes": [{"status": EXPERT, "members": [qa.ids["expert"]]}],
            },
        ],
    }
    files = [
        ("images", (name, (data.folder / name).read_bytes(), mimetypes.guess_type(name)[0] or "image/png"))
        for name in sorted(data.scenes)
    ]
    files.append(("gt", ("gt.json", json.dumps(data.gt_coco(gt_names)).encode(), "application/json")))
    pipeline: dict[str, Any] = api.post("/api/pipelines/upload", data={"spec": json.dumps(spec)}, files=files)
    return pipeline


def run_annotate_stages(
    platform: Platform, pipeline: dict[str, Any], data: DemoDataset, options: DemoOptions, run_id: str
) -> list[tuple[ApiClient, list[str]]]:
    """Half the crowd per annotate stage, until every annotate stage's job completed. Returns the
    annotators with their stage's labels (they fix issues later)."""
    clients, crowd = make_crowd(platform.base_url, options, run_id)
    stages = [s for s in pipeline["stages"] if s["kind"] == "annotate"]
    finished = threading.Event()
    reviewer = make_reviewer(platform.base_url, run_id)
    team = [(c, stages[i % len(stages)]) for i, c in enumerate(clients)]
    with (
        ThreadPoolExecutor(max_workers=len(clients) + len(stages)) as pool,
        _phase("annotate", options.quiet, total=len(stages)) as bar,
    ):
        futures = [
            pool.submit(
                work,
                c,
                email,
                crowd,
                stage["job_id"],
                data,
                finished.is_set,
                options.seed + i,
                stage["labels"],
            )
            for i, ((c, stage), email) in enumerate(zip(team, crowd.profiles, strict=True))
        ]
        futures += [
            pool.submit(review, reviewer, s["job_id"], crowd.reviewed, finished.is_set) for s in stages
        ]
        while not finished.is_set():
            done = sum(_job_status(reviewer, s["job_id"]) == "completed" for s in stages)
            bar.update(max(0, done - bar.n))
            if done == len(stages) or all(f.done() for f in futures[: len(clients)]):
                finished.set()
            time.sleep(0.3)
        for f in futures:
            f.result()
    return [(c, stage["labels"]) for c, stage in team]


def truth_boxes(scene: Scene, labels: list[str]) -> list[list[float]]:
    return [list(s.box) for s in scene.shapes if s.label in labels]


def verdict(item: dict[str, Any], scene: Scene) -> list[dict[str, Any]]:
    """The careful QA worker: an issue per box that covers no object of its label, and per object no
    box covers."""
    issues = []
    for stage in item["work"]:
        for label in stage["labels"]:
            truth = truth_boxes(scene, [label])
            drawn = [(k, o["geometry"]) for k, o in enumerate(stage["objects"]) if o["label"] == label]
            overlap = iou_matrix([g for _, g in drawn], truth) if drawn and truth else None
            for n, (k, _) in enumerate(drawn):
                if overlap is None or overlap[n].max() < 0.5:
                    issues.append(
                        {
                            "stage_job_id": stage["stage_job_id"],
                            "object_index": k,
                            "comment": f"no {label} here",
                        }
                    )
            for t, box in enumerate(truth):
                if overlap is None or overlap[:, t].max() < 0.5:
                    issues.append(
                        {
                            "stage_job_id": stage["stage_job_id"],
                            "geometry": box,
                            "comment": f"a {label} is missing",
                        }
                    )
    return issues


def fix_all(annotators: list[tuple[ApiClient, list[str]]], recognise: Callable[[bytes], Scene]) -> int:
    """Every annotator fixes the issues that came back to them: the stage's objects redrawn."""
    fixed = 0
    for client, labels in annotators:
        for item in client.get("/api/pipeline-items/fixes"):
            scene = recognise(client.fetch(item["image_url"]))
            for stage_job_id in sorted({i["stage_job_id"] for i in item["issues"]}):
                objects = [
                    {"label": s.label, "geometry": list(s.box)} for s in scene.shapes if s.label in labels
                ]
                client.post(
                    f"/api/pipeline-items/{item['id']}/fix",
                    json={"stage_job_id": stage_job_id, "objects": objects},
                )
                fixed += 1
    return fixed


def _decide(client: ApiClient, item: dict[str, Any], scene: Scene, route: bool) -> str:
    """One careful decision: reopen fixed issues still wrong, raise issues, send a crowded scene that
    looks right at first sight to the expert for a second look, or approve. Returns the action."""
    issues = verdict(item, scene)
    fixed = [i["id"] for i in item["issues"] if i["status"] == "fixed"]
    body: dict[str, Any] = {"action": "approve"}
    if issues and fixed:
        body = {"action": "reopen", "reopen": fixed, "comment": "still wrong"}
    elif issues:
        body = {"action": "issue", "issues": issues}
    elif route and not item["issues"] and EXPERT in item["routes"] and len(scene.shapes) >= CROWDED:
        body = {"action": "route", "status": EXPERT, "comment": f"{len(scene.shapes)} objects: a second look"}
    client.post(f"/api/pipeline-items/{item['id']}/decision", json=body)
    return str(body["action"])


def _claim(client: ApiClient) -> dict[str, Any] | None:
    try:
        item: dict[str, Any] = client.post("/api/pipelines/qa/claim")
        return item
    except ApiError as exc:
        if exc.status_code != 409:
            raise
        return None


def run_qa(
    pipeline_id: int,
    requester: ApiClient,
    annotators: list[tuple[ApiClient, list[str]]],
    data: DemoDataset,
    team: QaTeam,
    quiet: bool,
) -> dict[str, Any]:
    careful, stamp, expert = (team.clients[n] for n in ("careful", "stamp", "expert"))
    recognise = data.recogniser()
    stamped, stamp_stopped, routed, expert_decisions = 0, False, 0, 0
    view = requester.get(f"/api/pipelines/{pipeline_id}")
    with _phase("QA", quiet, total=sum(view["items"].values())) as bar:
        for _ in range(QA_ROUNDS):
            if not stamp_stopped:
                try:
                    item = stamp.post("/api/pipelines/qa/claim")
                    stamp.post(f"/api/pipeline-items/{item['id']}/decision", json={"action": "approve"})
                    stamped += 1
                except ApiError as exc:
                    stamp_stopped = exc.status_code == 403
            for_expert = _claim(expert)
            if for_expert is not None:
                _decide(expert, for_expert, recognise(expert.fetch(for_expert["image_url"])), route=False)
                expert_decisions += 1
            claimed = _claim(careful)
            if claimed is None:
                if not fix_all(annotators, recognise) and stamp_stopped and for_expert is None:
                    break
                continue
            scene = recognise(careful.fetch(claimed["image_url"]))
            routed += _decide(careful, claimed, scene, route=True) == "route"
            view = requester.get(f"/api/pipelines/{pipeline_id}")
            decided = view["items"].get("approved", 0) + view["items"].get("discarded", 0)
            bar.update(max(0, decided - bar.n))
            if view["status"] == "completed":
                break
    return {
        "stamp_approvals": stamped,
        "stamp_stopped": stamp_stopped,
        "routed_to_expert": routed,
        "expert_decisions": expert_decisions,
    }


def report(requester: ApiClient, pipeline_id: int, data: DemoDataset, gt_names: list[str],
           qa: dict[str, Any], started: float) -> dict[str, Any]:  # fmt: skip
    view = requester.get(f"/api/pipelines/{pipeline_id}")
    history = requester.get(f"/api/pipelines/{pipeline_id}/history")
    results = requester.get(f"/api/pipelines/{pipeline_id}/results")
    names = {s["job_id"]: (s["name"], s["kind"]) for s in view["stages"]}
    stages = []
    for b in view["books"]:
        name, kind = names[b["job_id"]]
        money = {k: int(b[k]) for k in ("funded", "fees", "paid", "refunded", "reserved")}
        stages.append({"name": name, "kind": kind, "job_id": b["job_id"], **money, "balanced": b["balanced"]})
    total = {k: sum(s[k] for s in stages) for k in ("funded", "fees", "paid", "refunded", "reserved")}
    balanced = all(s["balanced"] for s in stages) and total["funded"] == sum(
        total[k] for k in ("fees", "paid", "refunded", "reserved")
    )
    issues = [i for h in history for i in h["issues"]]
    accuracy = box_accuracy(boxes_by_image(results), data, set(gt_names))
    return {
        "pipeline_id": pipeline_id,
        "status": view["status"],
        "images": len(data.scenes),
        "gt_images": len(gt_names),
        "stages": stages,
        "approved": view["items"].get("approved", 0),
        "discarded": view["items"].get("discarded", 0),
        "issues_raised": len(issues),
        "issues_fixed": sum(1 for i in issues if i["status"] == "resolved"),
        "issues_reopened": sum(1 for h in history for e in h["events"] if e["event"] == "reopen"),
        "qa_checks": view["qa_checks"],
        **qa,
        "merged_accuracy": accuracy["accuracy"],
        "images_exact": accuracy["images_exact"],
        "money": total,
        "ledger_balanced": balanced,
        "currency": "tUSD",
        "wall_s": round(time.monotonic() - started, 1),
    }


def run_pipeline_demo(options: DemoOptions) -> dict[str, Any]:
    started = time.monotonic()
    run_id = secrets.token_hex(3)
    with _phase("setup", options.quiet, total=1):
        platform = start_platform(options)
    from marketplace.config import get_settings

    try:
        with _phase("dataset", options.quiet, total=1):
            data = rendered(get_settings().home / "demo" / run_id / "images", options.images, options.seed)
            assert set(data.labels) == set(LABELS)
        requester = ApiClient(platform.base_url)
        requester.sign_up(f"requester-{run_id}@demo.tilework", PASSWORD, "requester")
        gt_names = data.pick_gt(options.gt_share, options.gt_per_assignment, options.seed)
        qa_team = QaTeam(platform.base_url, run_id)
        with _phase("intake", options.quiet, total=1):
            pipeline = create_pipeline(requester, data, gt_names, options, qa_team)
        jobs = [s["job_id"] for s in pipeline["stages"]]
        with _phase("funding", options.quiet, total=len(jobs)) as bar:
            for job_id in jobs:
                fund_on_chain(requester, platform, job_id)
                wait_for(lambda j=job_id: _job_status(requester, j) == "active", "the stage to open")  # type: ignore[misc]
                bar.update(1)
        annotators = run_annotate_stages(platform, pipeline, data, options, run_id)
        qa = run_qa(pipeline["id"], requester, annotators, data, qa_team, options.quiet)
        with _phase("payout", options.quiet, total=1):
            platform.beat.run_all_now()
            wait_for(lambda: all(_settled(requester, j) for j in jobs), "every stage's payouts to settle")
        return report(requester, pipeline["id"], data, gt_names, qa, started)
    finally:
        platform.stop()


def print_pipeline_report(r: dict[str, Any]) -> None:
    import click

    lines = [
        "",
        f"Tilework pipeline demo — pipeline {r['pipeline_id']} ({r['status']}): {r['images']} images",
    ]
    for s in r["stages"]:
        lines.append(
            f"  {s['kind']:>8} {s['name']:<22} funded {s['funded']}, paid {s['paid']}, fees {s['fees']}, "
            f"refunded {s['refunded']}, reserved {s['reserved']}: "
            + ("balanced" if s["balanced"] else "NOT BALANCED")
        )
    lines += [
        f"  items                           {r['approved']} approved, {r['discarded']} discarded",
        f"  issues                          {r['issues_raised']} raised, {r['issues_fixed']} fixed, "
        f"{r['issues_reopened']} reopened",
        f"  hidden QA checks                {r['qa_checks']}",
        f"  the rubber-stamp QA worker      approved {r['stamp_approvals']} items, "
        + ("then was stopped" if r["stamp_stopped"] else "and was NOT stopped"),
        f"  expert review (custom status)   {r['routed_to_expert']} items routed, "
        f"{r['expert_decisions']} expert decisions",
        f"  approved results vs truth       accuracy {r['merged_accuracy']:.3f}, "
        f"images fully right {r['images_exact']:.1%}",
        f"  ledger                          {'balanced' if r['ledger_balanced'] else 'NOT BALANCED'}",
        f"  wall time                       {r['wall_s']} s",
        "",
    ]
    click.echo("\n".join(lines), err=True)
