"""The frame count a video job is cut by (probed at creation, nothing decoded) is the count the ingest
makes at activation, for other codecs and containers and for a variable-rate video; otherwise a
sound video would fail its job's activation as 'changed since the job was created'."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from marketplace.config import Settings
from marketplace.datasets.video_intake import is_video_key, probe_video
from marketplace.media.video import ingest
from marketplace.storage import LocalStorage
from tests.video.videos import make_video

VARIABLE = (
    [i * 40 for i in range(10)] + [i * 40 for i in range(13, 30)] + [1164] + [i * 40 for i in range(30, 40)]
)


@pytest.mark.parametrize(
    ("times", "fmt", "codec", "name"),
    [
        ([i * 40 for i in range(40)], "mp4", "libx264", "a.mp4"),
        (VARIABLE, "mp4", "libx264", "vfr.mp4"),
        ([0, 40, 80, 200, 240] + [280 + 40 * i for i in range(20)], "mp4", "libx264", "gap.mp4"),
        ([i * 40 for i in range(40)], "webm", "libvpx-vp9", "a.webm"),
        ([i * 40 for i in range(40)], "avi", "mpeg4", "a.avi"),
        ([i * 40 for i in range(40)], "mp4", "libx265", "hevc.mp4"),
        ([i * 40 for i in range(40)], "matroska", "ffv1", "a.mkv"),
    ],
)
def test_the_probed_frame_count_is_the_ingested_one(
    tmp_path: Path, times: list[int], fmt: str, codec: str, name: str
) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV wheel has no {codec} encoder")
    data = make_video(times, fmt=fmt, codec=codec)
    (tmp_path / name).write_bytes(data)
    probed = probe_video(LocalStorage(tmp_path), name, len(data), Settings(home=tmp_path))
    made = ingest(data, lambda index, chunk: None)
    assert probed.frame_count == len(made.frames)
    assert (probed.width, probed.height, probed.fps) == (160, 96, "25/1")


def test_only_video_files_are_listed() -> None:
    assert is_video_key("a/b/clip.MP4") and is_video_key("x.webm") and is_video_key("y.mkv")
    assert not is_video_key("frame.png") and not is_video_key("notes.txt") and not is_video_key("mp4")
