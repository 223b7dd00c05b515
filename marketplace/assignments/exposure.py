"""Exposure parity: a GT image is shown to as many accounts as a normal image is (pure).

A colluding ring counts how many of its accounts were shown each image. Normal images are shown once
per overlap and again as *extras* (the GT slots a trusted worker no longer needs carry one more
answer on an image already done); if GT images were each shown to a fresh account (least used first)
they would be shown to fewer accounts than normal ones, and if a small GT pool were reused without
measure, to more. Either way the count would single them out.

So GT picking follows the job's own normal images. The quantity matched is the *repeat share* of
shows: of all times an image was put in an assignment, the share where that image had been shown
before (to another account). For normal images it is ``(shows - distinct images) / shows`` over the
job's assignment items; for GT the same over its GT pool. Each GT slot is filled either by a *fresh*
GT image (never shown) or by a *reused* one (already shown to someone else, the least shown first),
whichever leaves the GT repeat share closer to the normal one (:func:`reuse_picks`). Least shown first
among the reused keeps their counts as even as overlap keeps normal images' (overlap 2 gives every
normal image two accounts; the GT images then get two each too), and the extras' randomness is
matched in share. When the pool has no fresh image left, every pick reuses — a GT pool too small for
the crowd, which the requester is warned about at creation (:func:`gt_exposure`).
"""

from __future__ import annotations

from dataclasses import dataclass


def repeat_share(shows: int, distinct: int) -> float:
    """Of ``shows`` showings of ``distinct`` images, the share that showed an image again."""
    return (shows - distinct) / shows if shows > 0 else 0.0


def reuse_picks(k: int, gt_shows: int, gt_distinct: int, target: float) -> int:
    """How many of ``k`` GT picks should reuse a GT image already shown, so the GT repeat share ends
    as close as it can to ``target`` (the normal images' :func:`repeat_share`).

    Picks are decided one at a time; a pick reuses when that leaves the repeat share nearer the target
    than a fresh pick would (on a tie, fresh): after ``n`` shows with ``r`` repeats, reuse iff
    ``r + 1/2 < target * (n + 1)``. With no normal show yet (target 0) every pick is fresh."""
    shows, repeats, reused = gt_shows, gt_shows - gt_distinct, 0
    for _ in range(max(k, 0)):
        if repeats + 0.5 < target * (shows + 1):
            repeats += 1
            reused += 1
        shows += 1
    return reused


@dataclass(frozen=True)
class GtExposure:
    """Expected accounts per image, before any work, for the requester's cost view."""

    normal: float  # the overlap (extras add a little once workers are trusted)
    gt_new: float  # per GT image if every worker stays new (every GT slot is GT)
    gt_trusted: float  # per GT image if every worker is trusted from the start (spot checks only)
    warning: str | None  # set when even trusted workers would see each GT image more than a normal one


def gt_exposure(chunks: int, overlap: int, gt_slots: int, spot_check: float, gt_pool: int) -> GtExposure:
    """How many accounts each GT image is expected to be shown to, against a normal image's ``overlap``.

    Every assignment has ``gt_slots`` GT slots; ``chunks * overlap`` assignments are issued. Parity is
    only possible while the pool can give each GT slot an image no more exposed than a normal one;
    beyond that GT images are shown to more accounts than normal ones, which a ring counting its
    accounts notices (``warning`` says by how much and what pool size would avoid it)."""
    assignments = chunks * overlap
    pool = max(gt_pool, 1)
    new = assignments * gt_slots / pool
    trusted = assignments * gt_slots * spot_check / pool
    warning = None
    if gt_pool > 0 and trusted > overlap:
        needed = -(-int(assignments * gt_slots * spot_check) // max(overlap, 1))
        warning = (
            f"the GT pool ({gt_pool} images) is small for this job: even with every worker trusted, "
            f"each GT image would be shown to about {trusted:.1f} accounts against {overlap} for a "
            f"normal image, so repetition would tell GT apart; add GT images (about {needed}) or "
            "lower the GT spot-check rate"
        )
    return GtExposure(float(overlap), round(new, 2), round(trusted, 2), warning)
