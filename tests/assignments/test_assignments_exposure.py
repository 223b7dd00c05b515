"""Exposure parity, the pure part: how many GT picks reuse an image already shown, and the requester's
warning when the GT pool is too small for the job."""

from __future__ import annotations

import pytest

from marketplace.assignments.exposure import gt_exposure, repeat_share, reuse_picks


def test_repeat_share_counts_the_showings_of_an_image_already_shown() -> None:
    assert repeat_share(0, 0) == 0.0
    assert repeat_share(10, 10) == 0.0  # every image shown once
    assert repeat_share(20, 10) == 0.5  # overlap 2
    assert repeat_share(12, 10) == pytest.approx(1 / 6)


def test_no_normal_repetition_means_every_gt_pick_is_fresh() -> None:
    assert reuse_picks(5, 0, 0, 0.0) == 0
    assert reuse_picks(3, 40, 40, 0.0) == 0


def test_overlap_two_pairs_the_gt_showings() -> None:
    """With every normal image shown twice, GT picks alternate fresh, reused: each GT image twice."""
    shows = distinct = 0
    pattern = []
    for _ in range(8):
        reused = reuse_picks(1, shows, distinct, 0.5)
        pattern.append(reused)
        shows, distinct = shows + 1, distinct + (1 - reused)
    assert pattern == [0, 1, 0, 1, 0, 1, 0, 1]
    assert repeat_share(shows, distinct) == 0.5


@pytest.mark.parametrize("target", [0.1, 0.15, 0.3, 2 / 3])
def test_the_gt_repeat_share_follows_the_target_within_one_show(target: float) -> None:
    shows = distinct = 0
    for k in [2, 1, 2, 2, 1, 2] * 20:
        reused = reuse_picks(k, shows, distinct, target)
        assert 0 <= reused <= k
        shows, distinct = shows + k, distinct + k - reused
        assert abs((shows - distinct) - target * shows) <= 1.0
    assert repeat_share(shows, distinct) == pytest.approx(target, abs=0.01)


def test_a_small_gt_pool_is_flagged_with_the_pool_that_would_do() -> None:
    # 100 chunks, overlap 1, 2 GT slots, spot checks at 15%: 30 GT shows at the least
    fine = gt_exposure(100, 1, 2, 0.15, 40)
    assert fine.warning is None
    assert fine.gt_trusted == pytest.approx(0.75) and fine.gt_new == pytest.approx(5.0)
    small = gt_exposure(100, 1, 2, 0.15, 10)
    assert small.gt_trusted == pytest.approx(3.0)
    assert small.warning is not None
    assert (
        "10 images" in small.warning and "about 3.0 accounts" in small.warning and "about 30" in small.warning
    )


def test_a_big_jobs_work_exposure_is_rescanned_at_most_every_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    from marketplace.assignments import gt_slots

    scans: list[int] = []
    figures = {1: (100, 90), 2: (50_000, 40_000)}  # job -> (shows, distinct)

    def scan(_session: object, job_id: int) -> tuple[int, int]:
        scans.append(job_id)
        return figures[job_id]

    clock = [1000.0]
    monkeypatch.setattr(gt_slots.gt_repository, "work_exposure", scan)
    monkeypatch.setattr(gt_slots.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(gt_slots, "_work_exposure", {})
    for _ in range(3):
        assert gt_slots._work_repeat_share(None, 1) == pytest.approx(0.1)  # type: ignore[arg-type]
        assert gt_slots._work_repeat_share(None, 2) == pytest.approx(0.2)  # type: ignore[arg-type]
    assert scans == [1, 2, 1, 1]  # the small job every time, the big one once
    clock[0] += gt_slots.EXPOSURE_REFRESH_S + 1
    gt_slots._work_repeat_share(None, 2)  # type: ignore[arg-type]
    assert scans[-1] == 2 and len(scans) == 5


def test_the_claim_statement_brings_the_work_exposure_when_the_cache_would_rescan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL's claim reads the work exposure inside its first statement: asked for on the same
    schedule as :func:`gt_slots._work_repeat_share` rescans (a small job every claim, a big one at most
    every refresh), and the reuse decision follows it like :func:`gt_slots.pick_gt_images`."""
    from types import SimpleNamespace

    from marketplace.assignments import gt_slots

    clock = [1000.0]
    monkeypatch.setattr(gt_slots.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(gt_slots, "_work_exposure", {})

    def taken(work: tuple[int, int] | None, shows: int = 10, distinct: int = 10) -> SimpleNamespace:
        return SimpleNamespace(
            work=work, gt_shows=shows, gt_distinct=distinct, reused=[7, 8], fresh=[7, 1, 2, 3]
        )

    assert gt_slots.work_exposure_stale(1)
    assert gt_slots.choose_from_candidates(1, 2, taken((100, 100))) == [7, 1]  # no repeat: fresh, in order
    assert gt_slots.work_exposure_stale(1)  # a small job: every claim
    assert gt_slots.choose_from_candidates(2, 2, taken((50_000, 25_000))) == [7, 8]  # half repeat: reuse
    assert not gt_slots.work_exposure_stale(2)  # a big job: cached
    assert gt_slots.choose_from_candidates(2, 2, taken(None, 10, 10)) == [7, 8]  # from the cache
    clock[0] += gt_slots.EXPOSURE_REFRESH_S + 1
    assert gt_slots.work_exposure_stale(2)
