import { test } from "node:test";
import assert from "node:assert/strict";
import { boxFromCorners, clampShift, flatToRing, handlePoints, insideRings, nearestOnSegment, resizeBox, ringArea,
  ringsPath, ringToFlat } from "../src/editor/geometry.js";

const square = [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }, { x: 0, y: 10 }];

test("ringArea is the signed shoelace area: the winding sets the sign", () => {
  assert.equal(Math.abs(ringArea(square)), 100);
  assert.equal(ringArea(square), -ringArea([...square].reverse()));
  assert.equal(ringArea([{ x: 0, y: 0 }, { x: 5, y: 5 }]), 0);
});

test("insideRings is even-odd: a ring inside another is a hole", () => {
  const hole = [{ x: 3, y: 3 }, { x: 7, y: 3 }, { x: 7, y: 7 }, { x: 3, y: 7 }];
  assert.ok(insideRings([square], { x: 5, y: 5 }));
  assert.ok(!insideRings([square, hole], { x: 5, y: 5 }));
  assert.ok(insideRings([square, hole], { x: 1, y: 5 }));
  assert.ok(!insideRings([square], { x: 11, y: 5 }));
});

test("nearestOnSegment projects onto the segment and stops at its ends", () => {
  const a = { x: 0, y: 0 };
  const b = { x: 10, y: 0 };
  assert.deepEqual(nearestOnSegment({ x: 4, y: 3 }, a, b), { x: 4, y: 0 });
  assert.deepEqual(nearestOnSegment({ x: -5, y: 1 }, a, b), { x: 0, y: 0 });
  assert.deepEqual(nearestOnSegment({ x: 15, y: -2 }, a, b), { x: 10, y: 0 });
  assert.deepEqual(nearestOnSegment({ x: 3, y: 3 }, a, a), a); // a degenerate segment
});

test("boxFromCorners takes the corners in any order", () => {
  assert.deepEqual(boxFromCorners({ x: 8, y: 2 }, { x: 3, y: 6 }), { x: 3, y: 2, w: 5, h: 4 });
});

test("resizeBox moves the dragged edges, flips past the opposite edge, clamps to the image", () => {
  const box = { x: 10, y: 10, w: 20, h: 10 };
  assert.deepEqual(resizeBox(box, "se", { x: 40, y: 25 }, 100, 100, 0.5), { x: 10, y: 10, w: 30, h: 15 });
  assert.deepEqual(resizeBox(box, "e", { x: 5, y: 99 }, 100, 100, 0.5), { x: 5, y: 10, w: 5, h: 10 }); // flipped
  assert.deepEqual(resizeBox(box, "nw", { x: -20, y: -20 }, 100, 100, 0.5), { x: 0, y: 0, w: 30, h: 20 });
  assert.equal(resizeBox(box, "w", { x: 30, y: 0 }, 100, 100, 0.5).w, 0.5); // never thinner than min
});

test("handlePoints puts the eight handles on the corners and edge middles", () => {
  const pts = handlePoints({ x: 0, y: 0, w: 10, h: 4 });
  assert.deepEqual(pts.nw, { x: 0, y: 0 });
  assert.deepEqual(pts.e, { x: 10, y: 2 });
  assert.deepEqual(pts.s, { x: 5, y: 4 });
});

test("clampShift keeps every point inside the image", () => {
  const pts = [{ x: 10, y: 10 }, { x: 30, y: 20 }];
  assert.deepEqual(clampShift(pts, 5, 5, 100, 100), { x: 5, y: 5 });
  assert.deepEqual(clampShift(pts, 90, -50, 100, 100), { x: 70, y: -10 });
});

test("rings convert between flat lists and points; ringsPath draws each ring closed", () => {
  const flat = [1, 2, 3.456, 4, 5, 6];
  assert.deepEqual(flatToRing(flat), [{ x: 1, y: 2 }, { x: 3.456, y: 4 }, { x: 5, y: 6 }]);
  assert.deepEqual(ringToFlat(flatToRing(flat)), [1, 2, 3.46, 4, 5, 6]);
  assert.equal(ringsPath([[0, 0, 4, 0, 4, 4], [1, 1, 2, 1, 2, 2]]), "M0 0L4 0L4 4ZM1 1L2 1L2 2Z");
});
