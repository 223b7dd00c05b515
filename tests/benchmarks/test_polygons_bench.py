"""Smoke run of ``benchmarks/polygons.py`` on the real SA-V masks: its last line has the agreed keys and
the merge of three workers beats the average single worker (../shared/datasets; skipped when absent)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import polygons  # noqa: E402

pytestmark = pytest.mark.shared

LAST = re.compile(
    r"^score_ms_p50=(?P<score>[0-9.]+) merge_ms_p50=(?P<merge>[0-9.]+) "
    r"merged_iou=(?P<merged>[0-9.]+) single_iou=(?P<single>[0-9.]+)$"
)


def test_polygon_benchmark_runs_and_merging_beats_a_single_worker(
    shared_datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert polygons.main(["--repeats", "3"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    match = LAST.match(last)
    assert match, last
    assert float(match["merged"]) > float(match["single"]) > 0.5
    assert float(match["score"]) > 0 and float(match["merge"]) > 0
