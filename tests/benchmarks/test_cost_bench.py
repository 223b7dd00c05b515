"""Smoke run of ``benchmarks/cost.py`` on two small real sets (one of classes, the boxes): its last line
has the agreed keys and figures in range, and adaptive GT spends a smaller GT share than the fixed
policy's 17% (../shared/datasets; skipped when absent)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import cost  # noqa: E402

pytestmark = pytest.mark.shared

NUMBER = r"([0-9.]+)"
LAST = re.compile(
    rf"^cost_per_correct_adaptive={NUMBER} cost_per_correct_fixed={NUMBER} ratio={NUMBER} "
    rf"accuracy_adaptive={NUMBER} accuracy_fixed={NUMBER} gt_share_adaptive={NUMBER}$"
)


def test_cost_benchmark_runs_on_a_short_replay(
    shared_datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cost.main(["--runs", "1", "--sets", "vldb17_Duck_Bluebirds", "pedestrian_boxes_dev"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert sum("ratio adaptive/fixed" in line for line in lines) == 2
    match = LAST.match(lines[-1])
    assert match, lines[-1]
    adaptive, fixed, ratio, acc_adaptive, acc_fixed, gt_share = map(float, match.groups())
    assert ratio == pytest.approx(adaptive / fixed, abs=2e-3)
    assert 0.5 < acc_adaptive <= 1 and 0.5 < acc_fixed <= 1
    assert 0 < gt_share < 0.17  # spot checks once the SPRT trusts a worker: below the fixed policy's GT


def test_an_unknown_set_is_refused_with_the_list(
    shared_datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cost.main(["--sets", "nope"])
    assert "unknown set(s) nope" in capsys.readouterr().err
