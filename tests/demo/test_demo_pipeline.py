"""``tilework demo --pipeline`` on embedded defaults, in a fresh folder, as a newcomer would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_pipeline_demo_on_embedded_defaults(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TILEWORK_", "DATABASE_URL", "REDIS_URL"))
    }
    env["HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "marketplace.cli", "demo", "--pipeline", "--images", "30", "--workers", "8"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["status"] == "completed"
    assert [(s["kind"], s["name"]) for s in report["stages"]] == [
        ("annotate", "squares"), ("annotate", "discs and triangles"), ("qa", "QA"),
    ]  # fmt: skip
    assert report["approved"] + report["discarded"] == report["images"] - report["gt_images"]
    assert report["issues_raised"] >= report["issues_fixed"] >= 1  # the sloppy annotators' boxes came back
    assert report["stamp_stopped"] is True  # the rubber-stamp QA worker was caught by the hidden checks
    assert report["qa_checks"]["stopped_workers"] == 1
    # crowded scenes went to "expert review" (a custom status of one member) and the expert decided each
    assert report["routed_to_expert"] >= 1 and report["expert_decisions"] >= report["routed_to_expert"]
    # money: per stage and in total, every base unit is funded = paid + fees + refunded + reserved
    assert report["ledger_balanced"] is True and all(s["balanced"] for s in report["stages"])
    assert all(s["paid"] > 0 and s["reserved"] == 0 for s in report["stages"])
    assert report["merged_accuracy"] > 0.9  # QA fixed what the crowd got wrong
    assert "hidden QA checks" in proc.stderr and "expert review" in proc.stderr and "wall time" in proc.stderr
