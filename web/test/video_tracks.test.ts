import { test } from "node:test";
import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { memberFrame, unpackChunk } from "../src/video/frames.js";
import { parseFps } from "../src/video/player.js";
import { boxAt, clampBox, copyToNext, keyframeAt, lastBox, mergeTracks, outsideRanges, removeKeyframe, setKeyframe,
  splitTrack, toAnswer, toggleOccluded, toggleOutside } from "../src/video/tracks.js";
import type { Geometry, Track } from "../src/video/tracks.js";

const track = (): Track => ({ id: 1, label: "car", keyframes: [] });
const key = (frame: number, geometry: number[], outside = false) => ({ frame, geometry, outside, occluded: false });

test("boxes between keyframes are interpolated linearly; a keyframe's own box is exact", () => {
  const t = track();
  setKeyframe(t, key(20, [10, 10, 30, 30]));
  setKeyframe(t, key(10, [0, 0, 20, 20]));
  assert.deepEqual(t.keyframes.map((k) => k.frame), [10, 20]); // kept in frame order
  assert.equal(boxAt(t, 9, 100), null); // before the first keyframe
  assert.deepEqual(boxAt(t, 10, 100), { geometry: [0, 0, 20, 20], keyframe: true, occluded: false });
  assert.deepEqual(boxAt(t, 15, 100)?.geometry, [5, 5, 25, 25]);
  assert.equal(boxAt(t, 15, 100)?.keyframe, false);
  assert.deepEqual(boxAt(t, 60, 100)?.geometry, [10, 10, 30, 30]); // held after the last keyframe
  assert.equal(boxAt(t, 100, 100), null); // past the segment
});

test("setKeyframe replaces the keyframe on its frame and rounds to 1/100 px; removeKeyframe takes it out", () => {
  const t = track();
  setKeyframe(t, key(5, [1, 2, 3, 4]));
  setKeyframe(t, key(5, [1.234, 2.345, 3.456, 4.567]));
  assert.equal(t.keyframes.length, 1);
  assert.deepEqual(keyframeAt(t, 5)?.geometry, [1.23, 2.35, 3.46, 4.57]);
  assert.ok(removeKeyframe(t, 5));
  assert.ok(!removeKeyframe(t, 5));
  assert.equal(t.keyframes.length, 0);
});

test("outside from a frame hides the track until the next keyframe; toggling again brings its last box back", () => {
  const t = track();
  setKeyframe(t, key(0, [0, 0, 10, 10]));
  assert.equal(toggleOutside(t, 4, 50), false);
  assert.equal(boxAt(t, 3, 50)?.geometry.join(), "0,0,10,10");
  assert.equal(boxAt(t, 4, 50), null);
  assert.deepEqual(outsideRanges(t, 50), [[4, 50]]);
  assert.deepEqual(lastBox(t, 9, 50), [0, 0, 10, 10]);
  assert.equal(toggleOutside(t, 9, 50), true);
  assert.deepEqual(outsideRanges(t, 50), [[4, 9]]);
  assert.deepEqual(boxAt(t, 9, 50)?.geometry, [0, 0, 10, 10]);
  // the box before an outside keyframe is held, not blended towards it
  setKeyframe(t, key(2, [4, 4, 14, 14]));
  assert.deepEqual(boxAt(t, 3, 50)?.geometry, [4, 4, 14, 14]);
});

test("copyToNext makes the shown box a keyframe on the next frame, not past the segment", () => {
  const t = track();
  setKeyframe(t, key(0, [0, 0, 10, 10]));
  setKeyframe(t, key(10, [10, 0, 20, 10]));
  assert.ok(copyToNext(t, 4, 12));
  assert.deepEqual(keyframeAt(t, 5)?.geometry, [4, 0, 14, 10]); // frame 4's interpolated box
  assert.ok(!copyToNext(t, 11, 12));
});

test("clampBox orders the corners and keeps the box inside the frame", () => {
  assert.deepEqual(clampBox([50, 40, -5, 10.123], 40, 30), [0, 10.12, 40, 30]);
});

test("toAnswer sends outside keyframes without a box and drops empty tracks", () => {
  const t = track();
  setKeyframe(t, key(3, [1, 2, 3, 4]));
  setKeyframe(t, key(6, [1, 2, 3, 4], true));
  assert.deepEqual(toAnswer([t, { id: 2, label: "car", keyframes: [] }]), [{ id: 1, label: "car", keyframes: [
    { frame: 3, geometry: [1, 2, 3, 4], outside: false, occluded: false },
    { frame: 6, outside: true, occluded: false },
  ] }]);
});

test("a chunk zip unpacks to each frame's JPEG bytes by member name", () => {
  const zip = zipSync({ "000036.jpg": new Uint8Array([1, 2]), "000037.jpg": new Uint8Array([3]), "notes.txt":
    new Uint8Array([9]) }, { level: 0 });
  const members = unpackChunk(zip);
  assert.deepEqual([...members.keys()].sort(), [36, 37]);
  assert.deepEqual([...(members.get(37) || [])], [3]);
  assert.equal(memberFrame("000120.jpg"), 120);
  assert.equal(memberFrame("manifest.json"), null);
});

test("parseFps reads a fraction", () => {
  assert.equal(parseFps("30/1"), 30);
  assert.ok(Math.abs(parseFps("30000/1001") - 29.97) < 0.01);
  assert.equal(parseFps("bad"), 25);
});

test("occluded from a frame on is a keyframe there with the box shown, flag flipped", () => {
  const t = track();
  setKeyframe(t, key(0, [0, 0, 10, 10]));
  setKeyframe(t, key(10, [10, 0, 20, 10]));
  assert.ok(toggleOccluded(t, 5, 20));
  assert.deepEqual(keyframeAt(t, 5), { frame: 5, geometry: [5, 0, 15, 10], outside: false, occluded: true });
  assert.equal(boxAt(t, 7, 20)?.occluded, true);
  assert.equal(boxAt(t, 4, 20)?.occluded, false);
  assert.ok(!toggleOccluded(t, 30, 20));
});

test("splitting cuts a track at a frame into two that show the same boxes; merging joins them back", () => {
  const t = track();
  setKeyframe(t, key(0, [0, 0, 10, 10]));
  setKeyframe(t, key(10, [10, 0, 20, 10]));
  const shown = (tracks: Track[], f: number) => tracks.map((x) => boxAt(x, f, 20)?.geometry ?? null)
    .filter((g) => g !== null);
  const before = Array.from({ length: 20 }, (_, f) => boxAt(t, f, 20)?.geometry ?? null);
  assert.equal(splitTrack(t, 0, 20, 2), null); // nothing before the first keyframe
  const after = splitTrack(t, 4, 20, 2);
  assert.ok(after);
  assert.deepEqual(after.keyframes.map((k) => k.frame), [4, 10]);
  // the frame before the cut keeps its interpolated box as a keyframe, then the old track goes outside
  assert.deepEqual(t.keyframes.map((k) => [k.frame, k.outside]), [[0, false], [3, false], [4, true]]);
  const near = (a: Geometry | null, b: Geometry | null, f: number) => {
    assert.equal(a === null, b === null, `frame ${f}`);
    if (a && b) a.flat().forEach((v, i) => assert.ok(Math.abs(v - b.flat()[i]) < 1e-9, `frame ${f}: ${a} vs ${b}`));
  };
  for (let f = 0; f < 20; f++) {
    const boxes = shown([t, after], f);
    assert.ok(boxes.length <= 1, `frame ${f}`);
    near(boxes[0] ?? null, before[f], f);
  }
  const joined = mergeTracks(after, t); // the one that starts first keeps its id
  assert.equal(joined.id, 1);
  assert.deepEqual(joined.keyframes.map((k) => [k.frame, k.outside]),
    [[0, false], [3, false], [4, false], [10, false]]);
  for (let f = 0; f < 20; f++) near(boxAt(joined, f, 20)?.geometry ?? null, before[f], f);
});
