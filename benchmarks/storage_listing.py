"""Listing throughput and memory: ``python benchmarks/storage_listing.py [--count 100000] [--uri s3://b/p]``.

Without ``--uri`` it fills a temporary folder with ``--count`` empty ``.jpg`` files (1,000 per
sub-folder) and lists it through LocalStorage. With ``--uri`` it lists an existing location
(S3 credentials from the usual AWS env vars, endpoint from ``S3_ENDPOINT_URL``). It reports
objects/s and the peak Python memory while streaming, which stays flat because listing is lazy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from marketplace.config import Settings
from marketplace.storage import open_storage


def fill_folder(root: Path, count: int, per_dir: int = 1000) -> None:
    for i in range(count):
        folder = root / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:07d}.jpg").touch()


def measure(uri: str, settings: Settings) -> None:
    storage = open_storage(uri, settings)
    tracemalloc.start()
    started = time.perf_counter()
    count = total = 0
    for obj in storage.iter_images():
        count += 1
        total += obj.size
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rate = count / elapsed if elapsed else float("inf")
    print(f"{uri}: {count} images, {total} bytes in {elapsed:.2f}s ({rate:,.0f}/s), peak {peak / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--uri", help="list this location instead of a generated folder")
    args = parser.parse_args()
    settings = Settings()
    if args.uri:
        measure(args.uri, settings)
        return
    with tempfile.TemporaryDirectory(prefix="tilework-bench-") as tmp:
        started = time.perf_counter()
        fill_folder(Path(tmp), args.count)
        print(f"created {args.count} files in {time.perf_counter() - started:.1f}s")
        measure(tmp, settings)


if __name__ == "__main__":
    main()
