"""Worker statistics: Wilson interval, Wald SPRT (simulated), too-fast flag."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.quality.sprt import (
    Decision,
    SpeedPolicy,
    SprtConfig,
    SprtState,
    WorkerAccuracy,
    is_too_fast,
    sprt_run,
    sprt_update,
    wilson_interval,
)


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(9, 10)
    assert low == pytest.approx(0.5958, abs=1e-4) and high == pytest.approx(0.9821, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 5)
    assert low == 0.0 and 0 < high < 0.5
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_worker_accuracy_running_estimate() -> None:
    acc = WorkerAccuracy()
    assert acc.estimate is None
    for passed in [True, True, False, True]:
        acc = acc.record(passed)
    assert acc.estimate == 0.75 and acc.total == 4
    low, high = acc.interval()
    assert low < 0.75 < high


def test_sprt_boundaries_and_absorbing_states() -> None:
    config = SprtConfig(p1=0.9, p0=0.7, alpha=0.05, beta=0.05)
    banned = sprt_run([False, False, False], config)
    assert banned.decision is Decision.BAN and banned.items == 3
    assert sprt_update(banned, True, config) == banned
    passed = sprt_run([True] * 12, config)
    assert passed.decision is Decision.PASS and passed.items == 12  # 12 * log(9/7) > log(19)
    assert sprt_update(passed, False, config).decision is Decision.PASS
    assert sprt_run([True] * 11, config).decision is Decision.CONTINUE


def test_keep_monitoring_catches_a_worker_who_degrades() -> None:
    config = SprtConfig(keep_monitoring=True)
    state = sprt_run([True] * 40, config)
    assert state.decision is Decision.PASS and state.llr == pytest.approx(config.upper)
    state = sprt_run([True] * 40 + [False] * 3, config)
    assert state.decision is Decision.PASS
    state = sprt_run([True] * 40 + [False] * 6, config)
    assert state.decision is Decision.BAN


def test_invalid_config() -> None:
    with pytest.raises(ValueError):
        SprtConfig(p1=0.7, p0=0.9)


def _items_to_decision(p: float, config: SprtConfig, runs: int, seed: int, horizon: int = 500):
    rng = np.random.default_rng(seed)
    decisions, items = [], []
    for _ in range(runs):
        state = SprtState()
        outcomes = rng.random(horizon) < p
        for passed in outcomes:
            state = sprt_update(state, bool(passed), config)
            if state.decision is not Decision.CONTINUE:
                break
        decisions.append(state.decision)
        items.append(state.items)
    return decisions, np.asarray(items)


def test_spammer_is_banned_quickly() -> None:
    decisions, items = _items_to_decision(0.5, SprtConfig(), runs=2000, seed=1)
    banned = np.array([d is Decision.BAN for d in decisions])
    assert banned.mean() > 0.99
    assert items[banned].mean() <= 20


def test_good_worker_is_rarely_banned() -> None:
    decisions, _ = _items_to_decision(0.95, SprtConfig(), runs=2000, seed=2)
    assert np.mean([d is Decision.BAN for d in decisions]) < 0.05


def test_good_worker_rarely_banned_while_monitored_for_200_items() -> None:
    config = SprtConfig(keep_monitoring=True)
    rng = np.random.default_rng(3)
    bans = 0
    for _ in range(1000):
        state = sprt_run((rng.random(200) < 0.95).tolist(), config)
        bans += state.decision is Decision.BAN
    assert bans / 1000 < 0.05


def test_too_fast() -> None:
    assert is_too_fast(5.0, 10)  # 0.5 s per image
    assert not is_too_fast(30.0, 10)
    assert is_too_fast(30.0, 10, median_seconds_per_item=20.0)  # 3 s vs a 20 s median
    assert not is_too_fast(30.0, 10, median_seconds_per_item=8.0)
    assert not is_too_fast(0.0, 0)
    assert is_too_fast(30.0, 10, policy=SpeedPolicy(min_seconds_per_item=5.0))
