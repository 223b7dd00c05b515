"""Smoke run of ``benchmarks/video_quality.py``: its last line has the agreed keys, and merging three
simulated workers gives a higher IDF1 than one worker does (on the TUD ground truth when
../shared/datasets is there, synthetic tracks otherwise)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import video_quality  # noqa: E402

LAST = re.compile(
    r"^segment_score_ms=([0-9.]+) merge_ms=([0-9.]+) stitch_ms=([0-9.]+) "
    r"idf1_merged=([0-9.]+) idf1_single=([0-9.]+)$"
)


def test_video_quality_benchmark_runs_and_merging_beats_one_worker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert video_quality.main(["--repeats", "6", "--objects", "10"]) == 0
    match = LAST.match(capsys.readouterr().out.strip().splitlines()[-1])
    assert match, "unexpected last line"
    score, merge, stitch_, merged, single = map(float, match.groups())
    assert score > 0 and merge > 0 and stitch_ > 0
    assert 0.5 < single < merged <= 1.0
