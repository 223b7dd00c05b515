"""One interpolation definition: Python (marketplace/geometry/tracks.py) and the browser's
(web/src/tracks/interpolate.js, run by node) give the same shapes on the same tracks."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marketplace.geometry.tracks import interpolate, shape_at, shape_to_json, track_from_json

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "web" / "test" / "interpolate_golden.mjs"
END = 40


def star(rng: np.random.Generator, n: int, cx: float, cy: float, r: float) -> list[float]:
    """A random star-shaped ring of ``n`` vertices (angles sorted, radii random)."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = r * rng.uniform(0.4, 1.0, n)
    pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    return pts.reshape(-1).tolist()


def golden_tracks() -> list[dict[str, Any]]:
    rng = np.random.default_rng(16)
    tracks: list[dict[str, Any]] = [
        {
            "id": 1,
            "label": "car",
            "type": "box",
            "keyframes": [
                {"frame": 0, "geometry": [10.5, 20.25, 110.0, 80.0]},
                {"frame": 7, "geometry": [33.3, 41.7, 150.9, 99.1], "occluded": True},
                {"frame": 13, "geometry": [], "outside": True},
                {"frame": 20, "geometry": [1.0, 2.0, 3.0, 4.0]},
                {"frame": 33, "geometry": [641.123, 479.9, 700.01, 500.5]},
            ],
        },
        {
            "id": 2,
            "label": "person",
            "type": "polygon",
            "keyframes": [
                {"frame": 2, "geometry": [[0, 0, 40, 0, 40, 30, 0, 30]]},
                # the other way round, another start vertex, a different vertex count
                {"frame": 9, "geometry": [[60, 40, 65, 10, 100, 5, 120, 35, 90, 70]]},
                {"frame": 15, "geometry": [[60, 40, 65, 10, 100, 5, 120, 35], [0, 0, 5, 0, 5, 5]]},
                {"frame": 21, "geometry": [[1, 1, 9, 1, 9, 9], [0, 0, 5, 0, 5, 5, 0, 5]]},
                {"frame": 30, "geometry": [], "outside": True},
            ],
        },
    ]
    for i in range(4):  # rings of many vertices: resampling and alignment do real work
        keys = []
        for frame in range(i, END, 6 + i):
            n = int(rng.integers(3, 300))
            keys.append({"frame": frame, "geometry": [star(rng, n, 200 + frame * 3, 150, 60 + 10 * i)]})
        tracks.append({"id": 10 + i, "label": "blob", "type": "polygon", "keyframes": keys})
    for i in range(3):
        keys = []
        for frame in sorted(rng.choice(END, size=6, replace=False).tolist()):
            x, y = rng.uniform(0, 1000, 2)
            w, h = rng.uniform(1, 300, 2)
            outside = bool(rng.random() < 0.2)
            keys.append({"frame": frame, "geometry": [x, y, x + w, y + h], "outside": outside})
        tracks.append({"id": 20 + i, "label": "box", "type": "box", "keyframes": keys})
    return tracks


def flat(geometry: Any) -> list[float]:
    if geometry and isinstance(geometry[0], list):
        return [v for ring in geometry for v in ring]
    return list(geometry)


def shape_of(geometry: Any) -> list[int]:
    """Ring lengths of a polygon, ``[4]`` for a box."""
    if geometry and isinstance(geometry[0], list):
        return [len(ring) for ring in geometry]
    return [len(geometry)]


def test_python_and_the_browser_interpolate_to_the_same_numbers() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    tracks = golden_tracks()
    run = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps({"end": END, "tracks": tracks}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    browser = json.loads(run.stdout)
    assert len(browser) == len(tracks)
    python = [[shape_to_json(s) for s in interpolate(track_from_json(t), END)] for t in tracks]
    worst, blended = compare(python, [b["shapes"] for b in browser])
    assert blended > 200  # the comparison covers interpolated frames, not only keyframe copies
    assert worst < 1e-9, f"Python and JS interpolate() differ by up to {worst} px"
    # shape_at / shapeAt on every frame, including before the first and at the end (None / null)
    python_at, browser_at = [], []
    for track, theirs in zip(tracks, browser, strict=True):
        ours = [shape_at(track_from_json(track), f, END) for f in range(-1, END + 1)]
        assert [s is None for s in ours] == [s is None for s in theirs["at"]]
        python_at.append([shape_to_json(s) for s in ours if s is not None])
        browser_at.append([s for s in theirs["at"] if s is not None])
    worst, _ = compare(python_at, browser_at)
    assert worst < 1e-9, f"Python and JS shape_at() differ by up to {worst} px"


def compare(python: list[list[dict[str, Any]]], browser: list[list[dict[str, Any]]]) -> tuple[float, int]:
    """The largest coordinate difference between the two sides, and how many shapes were blended."""
    assert len(python) == len(browser)
    worst = 0.0
    blended = 0
    for ours, theirs in zip(python, browser, strict=True):
        assert [s["frame"] for s in ours] == [s["frame"] for s in theirs]
        for a, b in zip(ours, theirs, strict=True):
            assert (a["occluded"], a["keyframe"]) == (b["occluded"], b["keyframe"])
            assert shape_of(a["geometry"]) == shape_of(b["geometry"])
            fa, fb = flat(a["geometry"]), flat(b["geometry"])
            if fa:
                worst = max(worst, float(np.max(np.abs(np.asarray(fa) - np.asarray(fb)))))
            blended += not a["keyframe"]
    return worst, blended
