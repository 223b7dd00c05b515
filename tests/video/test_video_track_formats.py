"""Tracks in and out of MOTChallenge text, CVAT for video 1.1 XML, COCO video and per-frame JSON."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from pycocotools.coco import COCO

from marketplace.geometry.track_formats import (
    coco_video,
    mot_number,
    mot_rows,
    parse_mot,
    per_frame,
    write_cvat_video,
)
from marketplace.geometry.tracks import Keyframe, Track, TrackError, interpolate


@pytest.mark.shared
@pytest.mark.parametrize("sequence", ["campus", "stadtmitte"])
def test_mot_ground_truth_imports_as_tracks_and_exports_to_the_same_rows(
    shared_datasets: Path, sequence: str
) -> None:
    text = (shared_datasets / "mot_tud" / f"{sequence}_gt.txt").read_text()
    rows = [line for line in text.splitlines() if line.strip()]
    tracks = parse_mot(text)
    frames = max(int(line.split(",")[0]) for line in rows)
    assert len(tracks) == len({line.split(",")[1] for line in rows})
    assert sum(sum(not k.outside for k in t.keyframes) for t in tracks) == len(rows)
    assert mot_rows(tracks, frames) == rows


def test_mot_gaps_become_outside_and_interpolated_frames_are_exported() -> None:
    text = "1,7,10,20,30,40,1,-1,-1,-1\n3,7,12,20,30,40,0.5,1.5,2.5,0\n"
    (track,) = parse_mot(text)
    assert [(k.frame, k.outside) for k in track.keyframes] == [(0, False), (1, True), (2, False), (3, True)]
    assert mot_rows([track], 10) == ["1,7,10,20,30,40,1,-1,-1,-1", "3,7,12,20,30,40,0.5,1.5,2.5,0"]
    # keyframes 2 frames apart, the middle frame interpolated on export
    track = Track(7, "p", "box", (Keyframe(0, [10, 20, 40, 60]), Keyframe(2, [12, 20, 42, 60])))
    assert mot_rows([track], 3)[1] == "2,7,11,20,30,40,1,-1,-1,-1"


def test_mot_refuses_broken_rows() -> None:
    for bad in ("1,2,3\n", "1,2,a,4,5,6\n", "0,1,1,1,1,1\n", "1.5,1,1,1,1,1\n", "1,1,1,1,1,1\n1,1,2,2,2,2\n"):
        with pytest.raises(TrackError):
            parse_mot(bad)


def test_mot_numbers_are_written_shortest() -> None:
    assert [mot_number(v) for v in (121.0, 61.08000000000001, -1.0, 4.4852, 0.0, -0.0)] == [
        "121",
        "61.08",
        "-1",
        "4.4852",
        "0",
        "0",
    ]


def parse_cvat(xml: str) -> tuple[ET.Element, dict[str, list[dict[str, str]]]]:
    root = ET.fromstring(xml)
    tracks: dict[str, list[dict[str, str]]] = {}
    for track in root.findall("track"):
        tracks[track.get("id", "")] = [dict(e.attrib, tag=e.tag, label=track.get("label", "")) for e in track]
    return root, tracks


def test_cvat_video_xml_parses_back_to_the_same_tracks() -> None:
    car = Track(
        5,
        "car",
        "box",
        (
            Keyframe(1, [10, 20, 30, 40]),
            Keyframe(5, [50, 20, 70, 40], occluded=True),
            Keyframe(7, [], outside=True),
            Keyframe(9, [0, 0, 5, 5]),
        ),
    )
    ring_a, ring_b = [0, 0, 10, 0, 10, 10, 0, 10], [20, 0, 30, 0, 30, 10, 20, 10]
    blob = Track(6, "blob", "polygon", (Keyframe(0, [ring_a, ring_b]), Keyframe(3, [ring_b, ring_a])))
    xml = write_cvat_video([car, blob], size=12, width=640, height=480, name="clip")
    root, tracks = parse_cvat(xml)
    assert root.findtext("version") == "1.1"
    task = root.find("meta/task")
    assert task is not None and task.findtext("mode") == "interpolation" and task.findtext("size") == "12"
    assert [e.findtext("name") for e in task.findall("labels/label")] == ["car", "blob"]
    assert task.findtext("original_size/width") == "640"
    assert len(tracks) == 3  # the car, and one CVAT track per ring of the blob

    boxes = tracks["0"]
    assert {b["tag"] for b in boxes} == {"box"}
    visible = {int(b["frame"]): b for b in boxes if b["outside"] == "0"}
    expected = {s.frame: s for s in interpolate(car, 12)}
    assert sorted(visible) == sorted(expected)
    for frame, shape in expected.items():
        got = [float(visible[frame][k]) for k in ("xtl", "ytl", "xbr", "ybr")]
        assert got == pytest.approx(shape.geometry, abs=0.005)
        assert visible[frame]["occluded"] == ("1" if shape.occluded else "0")
        assert visible[frame]["keyframe"] == ("1" if shape.keyframe else "0")
    leaving = [b for b in boxes if b["outside"] == "1"]
    assert [(b["frame"], b["keyframe"]) for b in leaving] == [("7", "1")]
    keyframes = [int(b["frame"]) for b in boxes if b["keyframe"] == "1"]
    assert keyframes == [k.frame for k in car.keyframes]

    first_ring = tracks["1"]
    assert {p["group_id"] for p in root.findall("track")[1:] for p in [p.attrib]} == {"6"}
    points = [[float(v) for xy in p["points"].split(";") for v in xy.split(",")] for p in first_ring]
    assert [int(p["frame"]) for p in first_ring] == list(range(12))
    assert points[0] == ring_a and points[3] == ring_b
    assert min(points[1][0::2]) == pytest.approx(20 / 3, abs=0.2)  # a third of the way over


def test_coco_video_has_one_annotation_per_frame_in_view_and_loads_in_pycocotools() -> None:
    car = Track(
        3,
        "car",
        "box",
        (Keyframe(0, [0, 0, 10, 20]), Keyframe(4, [8, 0, 18, 20]), Keyframe(6, [], outside=True)),
    )
    blob = Track(9, "blob", "polygon", (Keyframe(2, [[0, 0, 10, 0, 10, 10, 0, 10]]),))
    data = coco_video([car, blob], size=8, width=64, height=48, name="clip")
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    assert len(coco.getImgIds()) == 8 and [i["frame_id"] for i in data["images"]] == list(range(8))
    car_anns = coco.loadAnns(coco.getAnnIds(catIds=coco.getCatIds(catNms=["car"])))
    assert [coco.imgs[a["image_id"]]["frame_id"] for a in car_anns] == [0, 1, 2, 3, 4, 5]
    assert car_anns[2]["bbox"] == pytest.approx([4, 0, 10, 20]) and car_anns[2]["area"] == pytest.approx(200)
    assert {a["instance_id"] for a in car_anns} == {3}
    blob_anns = coco.loadAnns(coco.getAnnIds(catIds=coco.getCatIds(catNms=["blob"])))
    assert len(blob_anns) == 6 and blob_anns[0]["area"] == pytest.approx(100)
    assert coco.annToMask(blob_anns[0]).sum() == 100
    assert len({a["id"] for a in data["annotations"]}) == len(data["annotations"]) == 12


def test_per_frame_json_lists_the_objects_in_view() -> None:
    car = Track(3, "car", "box", (Keyframe(1, [0, 0, 10, 20]), Keyframe(3, [], outside=True)))
    frames = per_frame([car], 5)
    assert [len(f["objects"]) for f in frames] == [0, 1, 1, 0, 0]
    assert frames[1]["objects"][0] == {
        "track_id": 3,
        "label": "car",
        "type": "box",
        "geometry": [0.0, 0.0, 10.0, 20.0],
        "occluded": False,
        "keyframe": True,
    }
