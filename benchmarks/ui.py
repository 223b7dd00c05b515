"""Time from pressing submit to the next assignment's images being visible, in Chromium.

Run: ``python benchmarks/ui.py [--assignments 20] [--images 10] [--size 640x480]``.

* Creates a scratch PostgreSQL database (admin URL from ``TILEWORK_BENCH_PG_ADMIN_URL``, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), builds it with the migrations, writes
  ``(assignments + 1) * images`` JPEG images plus GT to a scratch folder and creates an active boxes job
  with chunks of ``--images`` images and 2 hidden GT images each.
* Serves the app with ``uvicorn`` in a subprocess on a free port (no broker: scoring runs in-process).
* Drives Debian's Chromium with Playwright: a signed-in worker opens the annotation page, flips to the
  next image, presses Ctrl+Enter (GT images hold nothing to mark, so the empty answers pass), and the
  page measures from that keydown to the frame after the next assignment's first image is drawn. All of
  its images are requested at once; the first is decoded before the swap, the rest while the worker
  works on it. When the server supports claim-ahead (``claim?ahead=true``), the next assignment is
  reserved and all its images decoded while the worker is on the current one; the ``claim_ahead`` line
  says whether that happened. One warm-up submission is not counted (``--warmup``).

Last line: ``next_assignment_ms_p50=<n> next_assignment_ms_p95=<n> annotate_bundle_kb_gzip=<x>
first_paint_ms=<n> first_drawn_ms=<n>`` (targets: p95 < 300 ms; the annotation page's JavaScript, Konva
included, under 150 kB gzipped). ``first_paint_ms`` is the page's first contentful paint,
``first_drawn_ms`` the frame after the editor first drew an image, both from navigation start.
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._app_stack import app_stack  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GT_PER = 2

# keydown of Ctrl+Enter → the frame after "tilework:shown" (the new assignment drawn on the canvas)
PROBE = """
window.__bench = { t0: null, samples: [], firstImage: null };
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "Enter") window.__bench.t0 = performance.now();
}, true);
window.addEventListener("tilework:shown", () => {
  if (window.__bench.firstImage === null) {  // the page's first assignment drawn: since navigation start
    window.__bench.firstImage = -1;
    const mark = () => { window.__bench.firstImage = performance.now(); };
    requestAnimationFrame(() => requestAnimationFrame(mark));
  }
  const t0 = window.__bench.t0;
  if (t0 === null) return;
  requestAnimationFrame(() => requestAnimationFrame(() => {
    window.__bench.samples.push(performance.now() - t0);
    window.__bench.t0 = null;
  }));
});
"""


def write_images(folder: Path, count: int, size: tuple[int, int], rng: random.Random) -> list[str]:
    """Photo-sized JPEGs with a gradient and a few shapes (tens of kB each, like real thumbnails)."""
    names = []
    w, h = size
    for i in range(count):
        img = Image.linear_gradient("L").resize(size).convert("RGB")
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            x, y = rng.randrange(w - 60), rng.randrange(h - 60)
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.rectangle([x, y, x + rng.randrange(20, 60), y + rng.randrange(20, 60)], fill=colour)
        name = f"img{i:04d}.jpg"
        img.save(folder / name, quality=85)
        names.append(name)
    return names


def gt_coco(names: list[str], size: tuple[int, int]) -> dict[str, Any]:
    """GT images with nothing to mark: the benchmark worker submits empty answers and always passes, so
    the quality engine neither bans it nor pauses the job while we measure the UI."""
    w, h = size
    return {
        "images": [{"id": i + 1, "file_name": n, "width": w, "height": h} for i, n in enumerate(names)],
        "annotations": [],
        "categories": [{"id": 1, "name": "object"}, {"id": 2, "name": "other"}],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--assignments", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=1, help="submissions before measuring (not counted)")
    parser.add_argument("--images", type=int, default=10, help="images per assignment (before hidden GT)")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--port", type=int, default=0, help="the app's port (default: any free one)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"needs Debian's chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    size = tuple(int(v) for v in args.size.split("x"))
    assert len(size) == 2
    rng = random.Random(7)
    with app_stack("ui", args.port or None) as app:
        total = (args.assignments + args.warmup + 1) * args.images
        names = write_images(app.data, total + 20, (size[0], size[1]), rng)
        body = {
            "type": "boxes",
            "title": "UI benchmark",
            "labels": ["object", "other"],
            "data_uri": str(app.data),
            "gt": gt_coco(names[:20], (size[0], size[1])),
            "bounty_amount": 1_000_000,
            "currency": "usd",
            "rail": "card",
            "assignment_size": args.images,
            "gt_per_assignment": GT_PER,
            "accuracy_target": 0.8,
        }
        job_id = app.open_job(body)
        samples = run_browser(
            sync_playwright, app.base, app.worker_token, job_id, args.assignments + args.warmup
        )
        samples = samples[args.warmup :]

    print(f"samples_ms={[round(s, 1) for s in samples]}")
    print(f"assignments={len(samples)} images_per_assignment={args.images + GT_PER} size={args.size}")
    p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
    bundle = page_bundle_gzip_bytes("annotate.js")
    print(
        f"next_assignment_ms_p50={p50:.0f} next_assignment_ms_p95={p95:.0f} "
        f"annotate_bundle_kb_gzip={bundle / 1024:.1f} first_paint_ms={FIRST_PAINT[0]:.0f} "
        f"first_drawn_ms={FIRST_IMAGE[0]:.0f}"
    )


def page_bundle_gzip_bytes(entry: str) -> int:
    """Gzipped size of a page's JavaScript: its bundle and the shared chunks it imports."""
    folder = Path(__file__).resolve().parents[1] / "marketplace" / "web" / "static" / "js"
    files, todo = set(), [entry]
    while todo:
        name = todo.pop()
        if name in files:
            continue
        files.add(name)
        todo += re.findall(r'"\./(chunk-[A-Z0-9]+\.js)"', (folder / name).read_text())
    return sum(len(gzip.compress((folder / f).read_bytes(), 9)) for f in files)


#: The annotation page's first contentful paint, and the frame after its editor first showed an image
#: (the bundle parsed, an assignment claimed, its first image decoded and drawn), since navigation start.
FIRST_PAINT = [-1.0]
FIRST_IMAGE = [-1.0]


def run_browser(sync_playwright: Any, base: str, token: str, job_id: int, count: int) -> list[float]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        # bypass_csp: Playwright evaluates its wait predicates as strings, which the CSP refuses
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 860}, bypass_csp=True)
        context.add_cookies(
            [{"name": "tw_token", "value": token, "url": base, "httpOnly": True, "sameSite": "Lax"}]
        )
        context.add_init_script(PROBE)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"/work/jobs/{job_id}")
        page.wait_for_function("document.body.dataset.assignmentId > 0")
        paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1")
        page.wait_for_function("window.__bench.firstImage > 0")
        first_image = page.evaluate("window.__bench.firstImage")
        print(f"annotation page: first_contentful_paint_ms={paint:.0f} first_drawn_ms={first_image:.0f}")
        FIRST_PAINT[0] = float(paint)
        FIRST_IMAGE[0] = float(first_image)
        for n in range(count):
            current = page.evaluate("document.body.dataset.assignmentId")
            page.keyboard.press("n")  # look at the second image, as a worker would, then submit
            page.keyboard.press("Control+Enter")
            page.wait_for_function(f"document.body.dataset.assignmentId !== '{current}'")
            if page.evaluate("document.body.dataset.assignmentId") == "none":
                why = page.locator("#nothing-text").inner_text()
                raise RuntimeError(f"ran out of assignments after {n + 1}: {why}")
            page.wait_for_function(f"window.__bench.samples.length === {n + 1}")
        samples: list[float] = page.evaluate("window.__bench.samples")
        phases = page.evaluate("window.__tilework.timings")
        submit = [p["submit_ms"] for p in phases if "submit_ms" in p]
        claim = [p["claim_ms"] for p in phases if "claim_ms" in p][1:]
        images = [p["images_ms"] for p in phases if "claim_ms" in p][1:]
        ahead_images = [p["images_ms"] for p in phases if "ahead_claimed" in p]
        from_ahead = sum(1 for p in phases if "from_ahead" in p)
        supported = page.evaluate("(window.__tilework.aheadSupported || (() => false))()")
        refusal = page.evaluate("(window.__tilework.aheadRefusal || (() => null))()")

        def median(v: list[float]) -> str:
            return str(sorted(v)[len(v) // 2]) if v else "-"

        print(
            f"median phases: submit_ms={median(submit)} claim_ms={median(claim)} "
            f"first_image_ms={median(images)} ahead_all_images_ms={median(ahead_images)}"
        )
        print(
            f"claim_ahead: server_supports={'yes' if supported else 'no (fell back to claim-after-submit)'} "
            f"shown_from_reserved={from_ahead}/{len(samples)} last_refusal={refusal}"
        )
        browser.close()
    return samples


if __name__ == "__main__":
    main()
