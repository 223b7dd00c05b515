"""Smoke run of ``benchmarks/video.py`` on the shared bedroom video and SA-V masklets: the last line has
the agreed keys, every sampled frame is exact (the chunks', and the player's canvas after random jumps
in Chromium), and interpolation beats holding the last keyframe (../shared/datasets; skipped when
absent; the browser part needs Debian's chromium)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import video  # noqa: E402
from tests.browser import CHROMIUM  # noqa: E402

pytestmark = pytest.mark.shared

LAST = re.compile(
    r"^frame_exact=(?P<exact>[0-9.]+) (random_access_p95_ms=(?P<p95>[0-9]+) )?"
    r"ingest_s_per_min=(?P<ingest>[0-9.]+) ingest_cpu_s_per_min=[0-9.]+ "
    r"ingest_s_per_min_540p=[0-9.]+ bytes_per_frame=(?P<bytes>[0-9]+) bytes_per_frame_540p=[0-9]+ "
    r"interp_iou_k2=(?P<k2>[0-9.]+) interp_iou_k4=(?P<k4>[0-9.]+) interp_iou_k8=(?P<k8>[0-9.]+)"
    r"( frame_exact_browser=(?P<browser>[0-9.]+))?$"
)
HELD = re.compile(r"^\* SA-V object \d+, keyframes every (\d+) .*interpolated IoU ([0-9.]+), held ([0-9.]+)")


def test_video_benchmark_runs_and_its_figures_hold(
    shared_datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = CHROMIUM.exists()
    argv = ["--frames-1080p", "12", "--samples", "12", "--jumps", "6"] + ([] if browser else ["--no-browser"])
    assert video.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    match = LAST.match(lines[-1])
    assert match, lines[-1]
    assert float(match["exact"]) == 1.0
    if browser:
        assert match["p95"] is not None and float(match["browser"]) == 1.0
        assert 0 < int(match["p95"]) < 5_000
    assert 50_000 < int(match["bytes"]) < 1_000_000
    assert 0 < float(match["k8"]) <= float(match["k2"]) < 1
    chosen = [HELD.match(line) for line in lines if HELD.match(line)]
    assert len(chosen) == 3
    for m in chosen:
        assert float(m[2]) > float(m[3])  # interpolating beats holding the previous keyframe
