// What a video track shows between its keyframes: the browser's copy of
// marketplace/geometry/tracks.py (read its docstring for the definition). Both are written
// formula for formula and sum in the same order, so they give the same floating-point numbers;
// tests/media/test_tracks_golden.py runs both on the same tracks and compares.
//
// A track: {id, label, type: "box" | "polygon", keyframes: [{frame, geometry, outside, occluded}]}
// with keyframes in frame order; a box is [xtl, ytl, xbr, ybr], a polygon a list of flat rings
// [x0, y0, x1, y1, ...]. A shape: {frame, geometry, occluded, keyframe}.
//
// Plain ES module: no DOM, no dependencies.

export const MIN_RESAMPLE = 64;
export const MAX_RESAMPLE = 4000;

function copyGeometry(geometry) {
  if (geometry.length && Array.isArray(geometry[0])) return geometry.map((ring) => ring.slice());
  return geometry.slice();
}

// Ring vertices as [x, y] pairs, without consecutive repeats nor a last one repeating the first.
function distinct(ring) {
  const pts = [];
  for (let i = 0; i + 1 < ring.length; i += 2) {
    const x = ring[i];
    const y = ring[i + 1];
    const last = pts[pts.length - 1];
    if (!last || last[0] !== x || last[1] !== y) pts.push([x, y]);
  }
  while (pts.length > 1 && pts[pts.length - 1][0] === pts[0][0] && pts[pts.length - 1][1] === pts[0][1]) {
    pts.pop();
  }
  return pts;
}

export function signedArea2(pts) {
  let sum = 0;
  for (let i = 0; i < pts.length; i++) {
    const nxt = pts[(i + 1) % pts.length];
    sum += pts[i][0] * nxt[1] - nxt[0] * pts[i][1];
  }
  return sum;
}

function counterClockwise(pts) {
  return signedArea2(pts) < 0 ? pts.slice().reverse() : pts;
}

// n points spaced equally along the closed ring, the first at its first vertex (null: no length).
export function resample(pts, n) {
  const m = pts.length;
  const seg = new Array(m);
  const cum = new Array(m + 1);
  cum[0] = 0;
  for (let i = 0; i < m; i++) {
    const a = pts[i];
    const b = pts[(i + 1) % m];
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    seg[i] = Math.sqrt(dx * dx + dy * dy);
    cum[i + 1] = cum[i] + seg[i];
  }
  const total = cum[m];
  if (!(total > 0)) return null;
  const out = new Array(n);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const s = (total * i) / n;
    while (j < m - 1 && cum[j + 1] <= s) j++;
    const a = pts[j];
    const b = pts[(j + 1) % m];
    const u = (s - cum[j]) / seg[j];
    out[i] = [a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u];
  }
  return out;
}

// The cyclic shift k of q (q[k] first) closest to p: least sum of squared distances, summed in
// point order; the smallest k on a tie.
export function bestShift(p, q) {
  const n = p.length;
  let best = 0;
  let bestCost = Infinity;
  for (let k = 0; k < n; k++) {
    let cost = 0;
    for (let i = 0; i < n; i++) {
      const o = q[(i + k) % n];
      const dx = p[i][0] - o[0];
      const dy = p[i][1] - o[1];
      cost += dx * dx + dy * dy;
    }
    if (cost < bestCost) {
      best = k;
      bestCost = cost;
    }
  }
  return best;
}

// Matching point lists per ring of two polygons, or null when they are not blended.
export function polygonPairs(ringsA, ringsB) {
  if (ringsA.length !== ringsB.length || ringsA.length === 0) return null;
  const pairs = [];
  for (let r = 0; r < ringsA.length; r++) {
    let p = distinct(ringsA[r]);
    let q = distinct(ringsB[r]);
    if (p.length < 3 || q.length < 3) return null;
    const n = Math.min(Math.max(p.length, q.length, MIN_RESAMPLE), MAX_RESAMPLE);
    p = resample(counterClockwise(p), n);
    q = resample(counterClockwise(q), n);
    if (p === null || q === null) return null;
    const k = bestShift(p, q);
    pairs.push([p, q.slice(k).concat(q.slice(0, k))]);
  }
  return pairs;
}

function blender(type, a, b) {
  if (type === "box") {
    const start = a.geometry;
    const delta = b.geometry.map((v, i) => v - start[i]);
    return (t) => start.map((v, i) => v + delta[i] * t);
  }
  const pairs = polygonPairs(a.geometry, b.geometry);
  if (pairs === null) return null;
  return (t) =>
    pairs.map(([p, q]) => {
      const ring = new Array(p.length * 2);
      for (let i = 0; i < p.length; i++) {
        ring[2 * i] = p[i][0] + (q[i][0] - p[i][0]) * t;
        ring[2 * i + 1] = p[i][1] + (q[i][1] - p[i][1]) * t;
      }
      return ring;
    });
}

// The track's shape on every frame it is in view, from its first keyframe to end (exclusive).
export function interpolate(track, end) {
  const keys = track.keyframes;
  const shapes = [];
  for (let i = 0; i < keys.length; i++) {
    const a = keys[i];
    const b = i + 1 < keys.length ? keys[i + 1] : null;
    const stop = b !== null ? Math.min(b.frame, end) : end;
    if (a.outside) continue;
    const blend = b !== null && !b.outside ? blender(track.type, a, b) : null;
    const occluded = Boolean(a.occluded);
    for (let frame = a.frame; frame < stop; frame++) {
      const geometry =
        frame === a.frame || blend === null
          ? copyGeometry(a.geometry)
          : blend((frame - a.frame) / (b.frame - a.frame));
      shapes.push({ frame, geometry, occluded, keyframe: frame === a.frame });
    }
  }
  return shapes;
}

// The track's shape on one frame, or null when it is not in view there.
export function shapeAt(track, frame, end) {
  if (frame < 0 || frame >= end) return null;
  const keys = track.keyframes;
  let index = -1;
  for (let i = 0; i < keys.length; i++) if (keys[i].frame <= frame) index = i;
  if (index < 0 || keys[index].outside) return null;
  const a = keys[index];
  const b = index + 1 < keys.length ? keys[index + 1] : null;
  const occluded = Boolean(a.occluded);
  if (frame === a.frame || b === null || b.outside) {
    return { frame, geometry: copyGeometry(a.geometry), occluded, keyframe: frame === a.frame };
  }
  const blend = blender(track.type, a, b);
  const geometry = blend === null ? copyGeometry(a.geometry) : blend((frame - a.frame) / (b.frame - a.frame));
  return { frame, geometry, occluded, keyframe: false };
}
