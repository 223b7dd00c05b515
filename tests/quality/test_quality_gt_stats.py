"""GT image rating, retirement and the 'not enough GT left' check."""

from __future__ import annotations

import pytest

from marketplace.quality.gt_stats import (
    GtImageStats,
    gt_exhausted,
    gt_rating,
    is_usable,
    should_retire,
    too_little_gt_left,
    usable_gt_count,
)


def test_rating() -> None:
    assert gt_rating(0, 0) == 1.0
    assert gt_rating(3, 4) == pytest.approx(0.8)
    with pytest.raises(ValueError):
        gt_rating(5, 4)


def test_retire_at_one_minus_target() -> None:
    assert not should_retire(0, 8, target=0.9)  # 1/9 > 0.1
    assert should_retire(0, 9, target=0.9)  # 1/10 == 0.1, despite 1 - 0.9 != 0.1 in floats
    assert not should_retire(1, 9, target=0.9)
    assert should_retire(0, 1, target=0.5)  # 1/2
    assert not should_retire(1, 2, target=0.5)  # 2/3


def test_record_and_usable() -> None:
    stats = GtImageStats()
    for _ in range(9):
        stats = stats.record(False)
    assert stats.uses == 9 and stats.rating == pytest.approx(0.1)
    assert not is_usable(stats, 0.9)
    assert not is_usable(GtImageStats(retired=True), 0.9)
    assert is_usable(GtImageStats(uses=9, accepted=1), 0.9)


def test_too_little_gt_left() -> None:
    assert too_little_gt_left(1, gt_per_assignment=2)
    assert not too_little_gt_left(2, gt_per_assignment=2)
    pool = [GtImageStats(), GtImageStats(uses=9), GtImageStats(retired=True)]
    assert usable_gt_count(pool, 0.9) == 1
    assert gt_exhausted(pool, 0.9, gt_per_assignment=2)
    assert not gt_exhausted(pool, 0.9, gt_per_assignment=1)
