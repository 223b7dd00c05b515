"""The demo's closing report, for a person (the last line printed is the JSON for machines)."""

from __future__ import annotations

from typing import Any

import click


def _money(amount: int, currency: str, decimals: int = 6) -> str:
    whole, frac = divmod(int(amount), 10**decimals)
    return f"{whole}.{frac:0{decimals}d} {currency} ({amount} base units)"


def _bans(bans: list[dict[str, Any]]) -> str:
    if not bans:
        return "nobody"
    return "; ".join(
        f"a {b['kind']} worker after {b['after_gt_items']} GT items ({b['reason']})" for b in bans
    )


def print_report(r: dict[str, Any]) -> None:
    cur = r["currency"]
    lines = [
        "",
        f"Tilework demo — job {r['job_id']}: {r['images']} images ({r['gt_images']} of them hidden GT)",
        f"  merged dataset vs exact truth   accuracy {r['merged_accuracy']:.3f}, "
        f"images fully right {r['images_exact']:.1%}",
        f"  assignments                     {r['assignments_accepted']} accepted, "
        f"{r['assignments_rejected']} rejected",
        f"  crowd                           {r['workers']}",
        f"  banned                          {_bans(r['workers_banned'])}",
        f"  GT overhead                     {r['gt_overhead']:.0%} extra items per assignment, "
        f"{r['gt_items_shown']} GT items shown",
        f"  money                           funded {_money(r['funded'], cur)}",
        f"                                  paid {_money(r['paid'], cur)}",
        f"                                  refunded {_money(r['refunded'], cur)}",
        f"                                  fees {_money(r['fees'], cur)}",
        f"  gas                             {r['gas_funding']} to fund (approve + fund), "
        f"{r['gas_total']} in all (with payouts and closing)",
        "  results on chain                "
        + ("the vault's job record holds the results' hash" if r["results_on_chain"] else "NOT recorded"),
        f"  disputes                        {r['disputes'] or 'none'}",
        f"  wall time                       {r['wall_s']} s",
        "",
    ]
    click.echo("\n".join(lines), err=True)
