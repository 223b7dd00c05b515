"""Ground-truth image statistics: is a GT image still trustworthy, and is there enough GT left?

Every time a GT image is used to score an assignment we count a *use*, and an *accept* when the
worker's annotation of that image reached the job's target. The rating ``(accepted + 1) / (uses + 1)``
(HUMAN Protocol's rule) starts at 1.0 and falls when workers keep failing the image. A GT image that
good workers keep failing is more likely wrong than all those workers are, so it is retired (and sent
to review) once the rating is ``<= 1 - target``: with a 0.9 target, after 9 uses with no accept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class GtImageStats:
    uses: int = 0
    accepted: int = 0
    retired: bool = False

    def record(self, accepted: bool) -> GtImageStats:
        return GtImageStats(self.uses + 1, self.accepted + int(accepted), self.retired)

    @property
    def rating(self) -> float:
        return gt_rating(self.accepted, self.uses)


def gt_rating(accepted: int, uses: int) -> float:
    """``(accepted + 1) / (uses + 1)``: 1.0 for an unused image."""
    if not 0 <= accepted <= uses:
        raise ValueError("accepted must be between 0 and uses")
    return (accepted + 1) / (uses + 1)


def should_retire(accepted: int, uses: int, target: float) -> bool:
    """Retire a GT image when its rating is at or below ``1 - target``."""
    return gt_rating(accepted, uses) <= 1.0 - target + 1e-12


def is_usable(stats: GtImageStats, target: float) -> bool:
    return not stats.retired and not should_retire(stats.accepted, stats.uses, target)


def usable_gt_count(stats: Iterable[GtImageStats], target: float) -> int:
    return sum(1 for s in stats if is_usable(s, target))


def too_little_gt_left(usable: int, gt_per_assignment: int) -> bool:
    """True when fewer usable GT images remain than one assignment must hide."""
    return usable < gt_per_assignment


def gt_exhausted(stats: Iterable[GtImageStats], target: float, gt_per_assignment: int) -> bool:
    """The job cannot build another honest assignment: it should pause for new GT or review."""
    return too_little_gt_left(usable_gt_count(stats, target), gt_per_assignment)
