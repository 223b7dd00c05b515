// Geometry of the editor's objects in image pixels: pure functions (no DOM, no Konva), unit-tested in
// web/test/. A point is {x, y}; a polygon is a list of rings, each a list of points, filled even-odd (a
// ring inside another is a hole), which is how the server reads them too.

export interface Pt { x: number; y: number }
export type Ring = Pt[];

/** One colour per label, in label order (the editor, its label picker and the results browser). */
export const COLORS = ["#ff6b6b", "#4dabf7", "#69db7c", "#ffd43b", "#da77f2", "#ff922b", "#3bc9db", "#a9e34b",
  "#f783ac"];

export const colorOf = (label: number): string => COLORS[label % COLORS.length];
export const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
export const round2 = (v: number): number => Math.round(v * 100) / 100;
export const cloneRings = (rings: Ring[]): Ring[] => rings.map((ring) => ring.map((p) => ({ x: p.x, y: p.y })));

/** Twice the signed area of a ring of {x, y} points (shoelace), halved: the signed area. */
export function ringArea(ring: Ring): number {
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) sum += (ring[j].x + ring[i].x) * (ring[j].y - ring[i].y);
  return sum / 2;
}

/** An SVG path of flat rings [[x0, y0, x1, y1, ...], ...] (fill it with fill-rule="evenodd"). */
export function ringsPath(rings: number[][]): string {
  return rings.map((ring) => {
    const pts: string[] = [];
    for (let k = 0; k + 1 < ring.length; k += 2) pts.push(`${ring[k]} ${ring[k + 1]}`);
    return `M${pts.join("L")}Z`;
  }).join("");
}

/** A flat ring [x0, y0, x1, y1, ...] as points, and back (rounded to 1/100 px, as submitted). */
export const flatToRing = (flat: number[]): Ring =>
  Array.from({ length: Math.floor(flat.length / 2) }, (_, k) => ({ x: flat[2 * k], y: flat[2 * k + 1] }));
export const ringToFlat = (ring: Ring): number[] => ring.flatMap((p) => [round2(p.x), round2(p.y)]);

/** Is p inside the rings, by the even-odd rule? */
export function insideRings(rings: Ring[], p: Pt): boolean {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const a = ring[i];
      const b = ring[j];
      if ((a.y > p.y) !== (b.y > p.y) && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
    }
  }
  return inside;
}

/** The point of segment ab nearest to p. */
export function nearestOnSegment(p: Pt, a: Pt, b: Pt): Pt {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 ? clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0, 1) : 0;
  return { x: a.x + t * dx, y: a.y + t * dy };
}

export interface Rect { x: number; y: number; w: number; h: number }

/** The box spanned by two corners, in any order. */
export function boxFromCorners(a: Pt, b: Pt): Rect {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(b.x - a.x), h: Math.abs(b.y - a.y) };
}

/** The compass names of a box's eight resize handles. */
export const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"] as const;
export type Handle = (typeof HANDLES)[number];

/** Where a box's handles are. */
export function handlePoints(r: Rect): Record<Handle, Pt> {
  const mx = r.x + r.w / 2;
  const my = r.y + r.h / 2;
  const x1 = r.x + r.w;
  const y1 = r.y + r.h;
  return { nw: { x: r.x, y: r.y }, n: { x: mx, y: r.y }, ne: { x: x1, y: r.y }, e: { x: x1, y: my },
    se: { x: x1, y: y1 }, s: { x: mx, y: y1 }, sw: { x: r.x, y: y1 }, w: { x: r.x, y: my } };
}

/** The box `orig` with one handle dragged to p (p kept inside the image); dragging past the opposite
 * edge flips the box; it never gets thinner than `min`. */
export function resizeBox(orig: Rect, handle: Handle, p: Pt, width: number, height: number, min: number): Rect {
  let x0 = orig.x;
  let y0 = orig.y;
  let x1 = orig.x + orig.w;
  let y1 = orig.y + orig.h;
  const px = clamp(p.x, 0, width);
  const py = clamp(p.y, 0, height);
  if (handle.includes("w")) x0 = px;
  if (handle.includes("e")) x1 = px;
  if (handle.includes("n")) y0 = py;
  if (handle.includes("s")) y1 = py;
  return { x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.max(min, Math.abs(x1 - x0)), h: Math.max(min, Math.abs(y1 - y0)) };
}

/** The shift (dx, dy) that moves points by at most (dx, dy) while keeping all of them inside the image. */
export function clampShift(points: Pt[], dx: number, dy: number, width: number, height: number): Pt {
  if (!points.length) return { x: dx, y: dy };
  const xs = points.map((q) => q.x);
  const ys = points.map((q) => q.y);
  return { x: clamp(dx, -Math.min(...xs), width - Math.max(...xs)), y: clamp(dy, -Math.min(...ys), height - Math.max(...ys)) };
}
