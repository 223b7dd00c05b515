"""Frame exactness on a real video: bedroom.mp4 (SAM 2's example) ingested and chunked, each of the
publisher's eight extracted frames found again in the chunks (../shared/datasets; skipped when absent)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from marketplace.media.video import Ingested, chunk_frame, ingest

pytestmark = pytest.mark.shared

PUBLISHED = (0, 1, 17, 36, 37, 99, 150, 199)
#: SOURCE.txt: 1.5-1.8 for the right frame straight from the decoder, 5.4-15.9 one or two away
SAME, DIFFERENT = 3.0, 5.0


@pytest.fixture(scope="module")
def bedroom(shared_datasets: Path) -> tuple[Path, Ingested, dict[int, bytes]]:
    folder = shared_datasets / "video_bedroom"
    chunks: dict[int, bytes] = {}
    result = ingest((folder / "bedroom.mp4").read_bytes(), chunks.__setitem__)
    return folder, result, chunks


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_bedroom_is_probed_as_published(bedroom: tuple[Path, Ingested, dict[int, bytes]]) -> None:
    _, result, chunks = bedroom
    assert (result.info.codec, result.width, result.height, result.fps) == ("h264", 960, 540, 30)
    assert len(result.frames) == 200 and not result.info.variable_rate
    assert result.chunk_count == len(chunks) == 6  # 5 x 36 + 20


@pytest.mark.parametrize("n", PUBLISHED)
def test_frame_n_of_the_chunks_is_the_publishers_frame_n(
    bedroom: tuple[Path, Ingested, dict[int, bytes]], n: int
) -> None:
    folder, result, chunks = bedroom

    def frame(i: int) -> np.ndarray:
        data = chunk_frame(chunks[i // result.chunk_frames], i)
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    published = np.asarray(Image.open(folder / "frames" / f"{n:05d}.jpg").convert("RGB"))
    assert mad(frame(n), published) < SAME
    for neighbour in (n - 1, n + 1):
        if 0 <= neighbour < len(result.frames):
            assert mad(frame(neighbour), published) > DIFFERENT
