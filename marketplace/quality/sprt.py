"""Worker statistics on ground truth: running accuracy, Wilson interval, Wald's SPRT, too-fast flag.

Each GT item a worker answers is one Bernoulli trial (passed / failed). Two questions are asked:

* *How good is this worker?* - :func:`wilson_interval` around the running accuracy.
* *Should we stop them?* - a Wald sequential probability ratio test between
  ``H1: p = p1`` (the job's target, e.g. 0.9) and ``H0: p = p0`` (the floor, e.g. 0.7). After each
  item the log-likelihood ratio moves by ``log(p1/p0)`` on a pass and ``log((1-p1)/(1-p0))`` on a
  fail; at or below ``log(beta / (1 - alpha))`` the worker is banned, at or above
  ``log((1 - beta) / alpha)`` they pass. ``alpha`` bounds the chance of passing a floor-level
  worker, ``beta`` the chance of banning a target-level one. With the defaults a 50% spammer is
  banned after about 7 GT items on average; a fixed-size sample needs several times more.

By default ``pass`` is absorbing as in Wald's test. With ``keep_monitoring=True`` the statistic is
capped at the pass boundary instead (a CUSUM-style restart), so a worker who passed and later
degrades is still caught, after at most ``(upper - lower) / |log((1-p1)/(1-p0))|`` consecutive fails.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum


class Decision(StrEnum):
    CONTINUE = "continue"
    BAN = "ban"
    PASS = "pass"


@dataclass(frozen=True)
class SprtConfig:
    p1: float = 0.9  # target accuracy (the good hypothesis)
    p0: float = 0.7  # floor: a worker at or below this should be stopped
    alpha: float = 0.05  # P(pass | p = p0)
    beta: float = 0.05  # P(ban | p = p1)
    keep_monitoring: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.p0 < self.p1 < 1.0:
            raise ValueError("need 0 < p0 < p1 < 1")
        if not (0.0 < self.alpha < 1.0 and 0.0 < self.beta < 1.0):
            raise ValueError("alpha and beta must be in (0, 1)")

    @property
    def step_pass(self) -> float:
        return math.log(self.p1 / self.p0)

    @property
    def step_fail(self) -> float:
        return math.log((1.0 - self.p1) / (1.0 - self.p0))

    @property
    def upper(self) -> float:
        return math.log((1.0 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        return math.log(self.beta / (1.0 - self.alpha))


@dataclass(frozen=True)
class SprtState:
    llr: float = 0.0
    items: int = 0
    decision: Decision = Decision.CONTINUE


def sprt_update(state: SprtState, passed: bool, config: SprtConfig) -> SprtState:
    """Feed one GT result. A ban is final; a pass is final unless ``keep_monitoring``."""
    if state.decision is Decision.BAN:
        return state
    if state.decision is Decision.PASS and not config.keep_monitoring:
        return state
    llr = state.llr + (config.step_pass if passed else config.step_fail)
    decision = Decision.CONTINUE
    if llr <= config.lower:
        decision = Decision.BAN
    elif llr >= config.upper:
        decision = Decision.PASS
        if config.keep_monitoring:
            llr = config.upper
    elif state.decision is Decision.PASS:
        decision = Decision.PASS  # monitoring after a pass: stays passed until it falls to the ban line
    return replace(state, llr=llr, items=state.items + 1, decision=decision)


def sprt_run(results: Iterable[bool], config: SprtConfig | None = None) -> SprtState:
    """Replay a sequence of GT results from scratch."""
    config = config or SprtConfig()
    state = SprtState()
    for passed in results:
        state = sprt_update(state, passed, config)
    return state


def sprt_llr(passed: int, failed: int, config: SprtConfig) -> float:
    """Log-likelihood ratio of counts alone (what a plain Wald test sees if nothing was decided yet)."""
    return passed * config.step_pass + failed * config.step_fail


# --------------------------------------------------------------------------- accuracy estimate


@dataclass(frozen=True)
class WorkerAccuracy:
    """Running accuracy of a worker on GT items, with a Wilson score interval."""

    passed: int = 0
    total: int = 0

    def record(self, passed: bool) -> WorkerAccuracy:
        return WorkerAccuracy(self.passed + int(passed), self.total + 1)

    @property
    def estimate(self) -> float | None:
        return None if self.total == 0 else self.passed / self.total

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        return wilson_interval(self.passed, self.total, z)


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; ``(0, 1)`` with no trials."""
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


# --------------------------------------------------------------------------- speed


@dataclass(frozen=True)
class SpeedPolicy:
    """When is a submission implausibly fast?

    ``min_seconds_per_item``: an absolute floor (a box task cannot be done in under a second per
    image). ``min_fraction_of_median``: relative to the job's median time per item, when known
    (a worker four times faster than the median is suspicious).
    """

    min_seconds_per_item: float = 1.0
    min_fraction_of_median: float = 0.25


def seconds_per_item(duration_seconds: float, items: int) -> float:
    return math.inf if items <= 0 else duration_seconds / items


def is_too_fast(
    duration_seconds: float,
    items: int,
    median_seconds_per_item: float | None = None,
    policy: SpeedPolicy | None = None,
) -> bool:
    """True if the time per item is below the absolute floor or far below the job's median."""
    policy = policy or SpeedPolicy()
    per_item = seconds_per_item(duration_seconds, items)
    if per_item < policy.min_seconds_per_item:
        return True
    return bool(
        median_seconds_per_item is not None
        and median_seconds_per_item > 0
        and per_item < policy.min_fraction_of_median * median_seconds_per_item
    )
