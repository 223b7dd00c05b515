// Polygon outlines of the video editor (job type video_polygons): pure helpers on rings (flat
// [x0, y0, x1, y1, ...] lists in the video's original pixels), unit-tested in web/test/, and the
// canvas drawing of an outline. The editor (editor.ts) keeps the pointer state. Area, inside and
// clamped shifts are the image polygon editor's (editor/geometry.ts), on points.
import { clampShift, insideRings as insidePoints, ringArea as signedArea } from "../editor/geometry.js";
import type { Pt } from "../editor/geometry.js";

export type { Pt };

/** A vertex of a polygon: ring r, vertex i (its x at ring[2 * i]). */
export interface VertexRef { ring: number; index: number }

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** A flat ring from points, each clamped into the width × height frame. */
export function ringFromPoints(points: Pt[], width: number, height: number): number[] {
  const ring: number[] = [];
  for (const p of points) ring.push(clamp(p.x, 0, width), clamp(p.y, 0, height));
  return ring;
}

/** The vertex of `rings` nearest to p within `tol` (original pixels), or null. */
export function vertexAt(rings: number[][], p: Pt, tol: number): VertexRef | null {
  let best: VertexRef | null = null;
  let bestD = tol * tol;
  rings.forEach((ring, r) => {
    for (let i = 0; i + 1 < ring.length; i += 2) {
      const d = (ring[i] - p.x) ** 2 + (ring[i + 1] - p.y) ** 2;
      if (d <= bestD) { best = { ring: r, index: i / 2 }; bestD = d; }
    }
  });
  return best;
}

/** Rings with one vertex moved to p (clamped into the frame); the input is left as it was. */
export function moveVertex(rings: number[][], v: VertexRef, p: Pt, width: number, height: number): number[][] {
  return rings.map((ring, r) => {
    if (r !== v.ring) return ring.slice();
    const out = ring.slice();
    out[2 * v.index] = clamp(p.x, 0, width);
    out[2 * v.index + 1] = clamp(p.y, 0, height);
    return out;
  });
}

/** A flat ring as points (the image editor's form, editor/geometry.ts). */
export function ringPoints(ring: number[]): Pt[] {
  const out: Pt[] = [];
  for (let i = 0; i + 1 < ring.length; i += 2) out.push({ x: ring[i], y: ring[i + 1] });
  return out;
}

/** Rings moved by (dx, dy), kept inside the frame as a whole (the shift is cut at the edges). */
export function translateRings(rings: number[][], dx: number, dy: number, width: number, height: number): number[][] {
  const s = clampShift(rings.flatMap(ringPoints), dx, dy, width, height);
  return rings.map((r) => r.map((v, i) => v + (i % 2 === 0 ? s.x : s.y)));
}

/** The absolute area of a flat ring. */
export const ringArea = (ring: number[]): number => Math.abs(signedArea(ringPoints(ring)));

/** Whether p is inside the polygon (even-odd over all its rings: a hole is outside). */
export const insideRings = (rings: number[][], p: Pt): boolean => insidePoints(rings.map(ringPoints), p);

/** Whether a drawn outline can be closed: three distinct vertices enclosing some area. */
export function canClose(points: Pt[]): boolean {
  return points.length >= 3 && ringArea(ringFromPoints(points, Infinity, Infinity)) > 1e-6;
}

/** Stroke the rings (scaled by k into CSS pixels) on the canvas; the handles when `handles`. */
export function strokeRings(ctx: CanvasRenderingContext2D, rings: number[][], k: number, color: string,
  opts: { dashed: boolean; width: number; handles: boolean; fill?: boolean; small?: boolean }): void {
  ctx.strokeStyle = color;
  ctx.lineWidth = opts.width;
  ctx.setLineDash(opts.dashed ? [6, 4] : []);
  ctx.beginPath();
  for (const ring of rings) {
    for (let i = 0; i + 1 < ring.length; i += 2) {
      if (i === 0) ctx.moveTo(ring[i] * k, ring[i + 1] * k);
      else ctx.lineTo(ring[i] * k, ring[i + 1] * k);
    }
    ctx.closePath();
  }
  if (opts.fill) {
    ctx.globalAlpha *= 0.15;
    ctx.fillStyle = color;
    ctx.fill("evenodd");
    ctx.globalAlpha /= 0.15;
  }
  ctx.stroke();
  ctx.setLineDash([]);
  if (!opts.handles) return;
  const s = opts.small ? 2.5 : 4; // an interpolated outline's many resampled vertices: small handles
  for (const ring of rings) {
    for (let i = 0; i + 1 < ring.length; i += 2) {
      ctx.fillStyle = "#fff";
      ctx.fillRect(ring[i] * k - s, ring[i + 1] * k - s, 2 * s, 2 * s);
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.strokeRect(ring[i] * k - s, ring[i + 1] * k - s, 2 * s, 2 * s);
    }
  }
}

/** Draw an outline being drawn: its vertices so far, the line to the pointer, the first vertex marked. */
export function strokeDraft(ctx: CanvasRenderingContext2D, points: Pt[], pointer: Pt | null, k: number,
  color: string): void {
  if (!points.length) return;
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.setLineDash([]);
  ctx.beginPath();
  points.forEach((p, i) => (i === 0 ? ctx.moveTo(p.x * k, p.y * k) : ctx.lineTo(p.x * k, p.y * k)));
  if (pointer) ctx.lineTo(pointer.x * k, pointer.y * k);
  ctx.stroke();
  ctx.fillStyle = color;
  for (const p of points) ctx.fillRect(p.x * k - 3, p.y * k - 3, 6, 6);
  ctx.beginPath();
  ctx.arc(points[0].x * k, points[0].y * k, 6, 0, 2 * Math.PI);
  ctx.stroke();
}
