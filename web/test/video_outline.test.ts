import { test } from "node:test";
import assert from "node:assert/strict";
import { canClose, insideRings, moveVertex, ringArea, ringFromPoints, translateRings, vertexAt }
  from "../src/video/outline.js";
import { boxAt, copyToNext, setKeyframe, splitTrack, toAnswer, toggleOutside, trackType } from "../src/video/tracks.js";
import type { Track } from "../src/video/tracks.js";
import { shapeAt } from "../src/tracks/interpolate.js";

const square = [10, 10, 30, 10, 30, 30, 10, 30];

test("ringFromPoints clamps into the frame; canClose needs three vertices enclosing an area", () => {
  assert.deepEqual(ringFromPoints([{ x: -5, y: 3 }, { x: 50, y: 60 }], 40, 20), [0, 3, 40, 20]);
  assert.equal(canClose([{ x: 0, y: 0 }, { x: 10, y: 0 }]), false);
  assert.equal(canClose([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 20, y: 0 }]), false); // collinear
  assert.equal(canClose([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }]), true);
});

test("vertexAt finds the nearest vertex within the tolerance; moveVertex moves only it, clamped", () => {
  assert.deepEqual(vertexAt([square], { x: 29, y: 31 }, 3), { ring: 0, index: 2 });
  assert.equal(vertexAt([square], { x: 20, y: 20 }, 3), null);
  const moved = moveVertex([square], { ring: 0, index: 2 }, { x: 80, y: 35 }, 50, 50);
  assert.deepEqual(moved, [[10, 10, 30, 10, 50, 35, 10, 30]]);
  assert.deepEqual(square, [10, 10, 30, 10, 30, 30, 10, 30]); // the input is untouched
});

test("translateRings moves the outline, stopped at the frame's edges as a whole", () => {
  assert.deepEqual(translateRings([square], 5, -3, 100, 100), [[15, 7, 35, 7, 35, 27, 15, 27]]);
  assert.deepEqual(translateRings([square], 100, -100, 40, 100), [[20, 0, 40, 0, 40, 20, 20, 20]]);
});

test("ringArea and insideRings (even-odd: a hole is outside)", () => {
  assert.equal(ringArea(square), 400);
  const hole = [15, 15, 25, 15, 25, 25, 15, 25];
  assert.equal(insideRings([square], { x: 20, y: 20 }), true);
  assert.equal(insideRings([square, hole], { x: 20, y: 20 }), false);
  assert.equal(insideRings([square, hole], { x: 12, y: 20 }), true);
  assert.equal(insideRings([square], { x: 31, y: 20 }), false);
});

test("polygon tracks: interpolated as interpolate.js does, outside, copy, split and the answer", () => {
  const t: Track = { id: 3, label: "person", keyframes: [] };
  setKeyframe(t, { frame: 0, geometry: [square], outside: false, occluded: false });
  setKeyframe(t, { frame: 10, geometry: [square.map((v, i) => v + (i % 2 ? 0 : 20.123))], outside: false,
    occluded: false });
  assert.equal(trackType(t), "polygon");
  assert.deepEqual(t.keyframes[1].geometry, [[30.12, 10, 50.12, 10, 50.12, 30, 30.12, 30]]); // rounded
  const mid = boxAt(t, 5, 20);
  assert.ok(mid && !mid.keyframe);
  assert.deepEqual(mid.geometry, shapeAt({ type: "polygon", keyframes: t.keyframes }, 5, 20)?.geometry);
  const xs = (mid.geometry as unknown as number[][])[0].filter((_, i) => i % 2 === 0);
  assert.ok(Math.abs(Math.min(...xs) - 20.06) < 1e-9 && Math.abs(Math.max(...xs) - 40.06) < 1e-9);
  assert.ok(copyToNext(t, 5, 20));
  assert.deepEqual(t.keyframes.map((k) => k.frame), [0, 6, 10]);
  toggleOutside(t, 12, 20);
  assert.equal(boxAt(t, 12, 20), null);
  toggleOutside(t, 15, 20); // back in view with the last outline
  assert.deepEqual(boxAt(t, 15, 20)?.geometry, t.keyframes[2].geometry);
  const after = splitTrack(t, 8, 20, 4);
  assert.ok(after && Array.isArray(after.keyframes[0].geometry[0]));
  const answer = toAnswer([t]);
  assert.deepEqual(answer[0].keyframes.at(-1), { frame: 8, outside: true, occluded: false });
  assert.deepEqual(answer[0].keyframes[0].geometry, [square]);
});
