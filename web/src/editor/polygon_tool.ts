// Polygons: click vertices to draw an outline, close it on the first vertex or with Enter; drag a vertex,
// drag an edge to insert one, Alt+click (or right-click) a vertex to delete it; drag inside a shape to
// move it (the editor); H adds a hole (or another part) to the selected shape; B, then a box dragged
// around an object, asks the server for an outline (GrabCut) to accept and edit.
// Geometry: rings [[x0, y0, x1, y1, ...], ...] in image pixels, filled even-odd.
import { h } from "../api.js";
import { clamp, clampShift, cloneRings, colorOf, flatToRing, nearestOnSegment, ringArea, ringToFlat } from "./geometry.js";
import type { Pt, Ring } from "./geometry.js";
import type { Hit, Obj, Painter, Tool, ToolHost, ToolKey, ToolPointer } from "./tool.js";

export interface PolygonObj extends Obj { rings: Ring[] }

/** The box-to-polygon helper: (item id, [x, y, w, h]) → flat rings. */
export type Assist = (itemId: string, box: number[]) => Promise<number[][]>;

const HIT = 8; // stage px
const CLOSE = 10; // stage px from the first vertex that closes the outline
const MIN_AREA_PX = 4; // stage px² below which a closed ring is dropped as a mis-click
const HANDLE = 4; // vertex half-size, stage px

type Drag = { kind: "vertex"; id: number; ring: number; index: number; moved: boolean } |
  { kind: "assist"; start: Pt; cur: Pt };

export class PolygonTool implements Tool<PolygonObj> {
  readonly noun = "shape";
  readonly plural = "shapes";
  readonly title = "Shapes";
  readonly stageLabel = "Image: click to add vertices of a polygon, click the first vertex or press Enter to close it; " +
    "drag a vertex to move it, drag an edge to add one, drag inside a shape to move it";
  readonly help = ["Click on the image to add vertices; click the first vertex or press Enter to close.",
    "Backspace removes the last vertex while drawing; Escape cancels.",
    "H, then click: a hole (or another part) in the selected shape.",
    "B, then drag a box around an object: a suggested outline to accept and edit.",
    "Drag a vertex to move it; drag an edge to insert a vertex; Alt+click or right-click a vertex to delete it.",
    "Drag inside a shape to move it. 1–9 pick the label (and relabel the selected shape).",
    "Delete removes the clicked vertex, or the selected shape.",
    "Wheel zooms at the cursor; Space+drag or middle button pans; F fits.",
    "N / P: next / previous image.", "Ctrl+Z undo, Ctrl+Shift+Z redo, Ctrl+Enter submit."];
  readonly crosshair = false;
  /** The outline being clicked: its points, and the shape it becomes a hole of (or null: a new shape). */
  drawing: { points: Pt[]; into: number | null } | null = null;
  /** The vertex Delete removes. */
  active: { id: number; ring: number; index: number } | null = null;
  /** B: the next drag is a box for the assist. */
  boxMode = false;
  drag: Drag | null = null;
  private holeBtn: HTMLButtonElement | null = null;
  private boxBtn: HTMLButtonElement | null = null;

  constructor(private readonly assist: Assist | null = null) {}

  geometry(o: PolygonObj): number[][] { return o.rings.map(ringToFlat); }

  fromGeometry(g: unknown): Partial<PolygonObj> | null {
    if (!Array.isArray(g) || !g.every((r) => Array.isArray(r) && r.length >= 6)) return null;
    return { rings: (g as number[][]).map(flatToRing) };
  }

  describe(o: PolygonObj, label: string): string {
    const vertices = o.rings.reduce((sum, ring) => sum + ring.length, 0);
    return `${label} — ${vertices} vertices` + (o.rings.length > 1 ? `, ${o.rings.length} rings` : "");
  }

  area(o: PolygonObj): number { return o.rings.length ? Math.abs(ringArea(o.rings[0])) : 0; }
  clone(o: PolygonObj): PolygonObj { return { ...o, rings: cloneRings(o.rings) }; }

  translate(o: PolygonObj, orig: PolygonObj, dx: number, dy: number, host: ToolHost): void {
    const d = clampShift(orig.rings.flat(), dx, dy, host.width, host.height);
    o.rings = orig.rings.map((ring) => ring.map((q) => ({ x: q.x + d.x, y: q.y + d.y })));
  }

  // -- drawing on the stage -------------------------------------------------------------------------

  paint(o: PolygonObj, selected: boolean, host: ToolHost, painter: Painter): void {
    const color = colorOf(o.label);
    const rings = o.rings.map((ring) => ring.map((p) => host.toScreen(p)));
    painter.rings(rings, { color, width: selected ? 3 : 2, fill: color, fillAlpha: selected ? 0.35 : 0.22 }, { id: o.id });
    if (rings[0] && rings[0][0]) painter.tag(host.labels[o.label] ?? "", rings[0][0].x, rings[0][0].y, color);
  }

  paintParts(o: PolygonObj, host: ToolHost, painter: Painter): void {
    const color = colorOf(o.label);
    const rings = o.rings.map((ring) => ring.map((p) => host.toScreen(p)));
    const none = { color: "rgba(0,0,0,0)", width: 1 };
    rings.forEach((ring, r) => ring.forEach((a, i) => {
      painter.line([a, ring[(i + 1) % ring.length]], none, { id: o.id, part: "edge", ring: r, index: i + 1 }, HIT);
    }));
    const active = this.active && this.active.id === o.id ? this.active : null;
    rings.forEach((ring, r) => ring.forEach((s, i) => {
      const on = active !== null && active.ring === r && active.index === i;
      painter.rect(s.x - HANDLE, s.y - HANDLE, HANDLE * 2, HANDLE * 2, { color, width: 3, fill: on ? color : "#fff" });
      painter.circle(s.x, s.y, HIT, { color: "rgba(0,0,0,0)", width: 0, fill: "rgba(0,0,0,0)" },
        { id: o.id, part: "vertex", ring: r, index: i });
    }));
  }

  paintOverlay(host: ToolHost, painter: Painter, cursor: Pt | null): void {
    const box = this.drag && this.drag.kind === "assist" ? this.drag : null;
    if (box) {
      const a = host.toScreen({ x: Math.min(box.start.x, box.cur.x), y: Math.min(box.start.y, box.cur.y) });
      const b = host.toScreen({ x: Math.max(box.start.x, box.cur.x), y: Math.max(box.start.y, box.cur.y) });
      painter.rect(a.x, a.y, b.x - a.x, b.y - a.y, { color: "#fff", width: 2, dash: [5, 4] });
    }
    const d = this.drawing;
    if (!d) return;
    const color = colorOf(host.labelIndex);
    const pts = d.points.map((p) => host.toScreen(p));
    if (pts.length) painter.line(cursor ? [...pts, cursor] : pts, { color, width: 2, dash: cursor ? [5, 4] : undefined });
    pts.forEach((p, i) => {
      const fill = i === 0 && pts.length >= 3 ? "#fff" : color;
      painter.rect(p.x - 4, p.y - 4, 8, 8, { color: fill, width: 0, fill });
    });
  }

  // -- outlines ---------------------------------------------------------------------------------------

  startHole(host: ToolHost): void {
    const sel = host.selected();
    if (!sel || this.drawing) return;
    this.drawing = { points: [], into: sel.id };
    host.render();
  }

  addVertex(host: ToolHost, p: Pt): void {
    const d = this.drawing;
    if (!d) return;
    const first = d.points[0];
    if (first && d.points.length >= 3) {
      const a = host.toScreen(first);
      const s = host.toScreen(p);
      if (Math.hypot(a.x - s.x, a.y - s.y) <= CLOSE) { this.finishDrawing(host); return; }
    }
    const last = d.points[d.points.length - 1];
    if (last && Math.hypot(last.x - p.x, last.y - p.y) * host.scale < 1) return; // a double click
    d.points.push({ x: clamp(p.x, 0, host.width), y: clamp(p.y, 0, host.height) });
    host.render();
  }

  finishDrawing(host: ToolHost): void {
    const d = this.drawing;
    if (!d) return;
    this.drawing = null;
    if (d.points.length < 3 || Math.abs(ringArea(d.points)) * host.scale * host.scale < MIN_AREA_PX) {
      host.render();
      return;
    }
    host.remember();
    const target = d.into !== null ? (host.objects().find((o) => o.id === d.into) as PolygonObj | undefined) : undefined;
    if (target) target.rings = [...cloneRings(target.rings), d.points];
    else host.add({ label: host.labelIndex, rings: [d.points] } as Omit<PolygonObj, "id">);
    host.changed();
  }

  deleteVertex(host: ToolHost, id: number, r: number, index: number): void {
    const o = host.objects().find((x) => x.id === id) as PolygonObj | undefined;
    if (!o) return;
    host.remember();
    const rings = cloneRings(o.rings);
    rings[r].splice(index, 1);
    o.rings = rings.filter((ring) => ring.length >= 3); // a ring of two vertices is gone
    if (!o.rings.length) host.remove(id);
    this.active = null;
    host.changed();
  }

  deletePart(host: ToolHost): boolean {
    if (!this.active) return false;
    this.deleteVertex(host, this.active.id, this.active.ring, this.active.index);
    return true;
  }

  // -- the box-to-polygon assist ------------------------------------------------------------------

  toggleBoxMode(host: ToolHost): void {
    this.boxMode = Boolean(this.assist) && !this.boxMode && !this.drawing;
    if (this.boxBtn) this.boxBtn.setAttribute("aria-pressed", this.boxMode ? "true" : "false");
    host.render();
  }

  async askAssist(host: ToolHost, box: number[]): Promise<void> {
    if (!this.assist) return;
    const itemId = host.itemId;
    host.say("Finding the outline…");
    let rings: number[][];
    try {
      rings = await this.assist(itemId, box.map((v) => Math.round(v * 100) / 100));
    } catch (err) {
      host.say(`No outline: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (host.itemId !== itemId || !rings.length) { host.refreshList(); return; }
    host.remember();
    const shape = host.add({ label: host.labelIndex, rings: rings.map(flatToRing) } as Omit<PolygonObj, "id">);
    host.changed();
    window.dispatchEvent(new CustomEvent("tilework:assisted", { detail: { id: shape.id } }));
  }

  // -- gestures ---------------------------------------------------------------------------------------

  grab(host: ToolHost, e: ToolPointer, hit: Hit | null): boolean {
    if (this.drawing && e.button === 0) { this.addVertex(host, e.p); return true; }
    const sel = host.selected() as PolygonObj | null;
    const part = hit && sel && hit.id === sel.id && (hit.part === "vertex" || hit.part === "edge") ? hit : null;
    if (part && sel && part.part === "vertex" && (e.altKey || e.button === 2)) {
      this.deleteVertex(host, sel.id, part.ring ?? 0, part.index ?? 0);
      return true;
    }
    if (part && sel && e.button === 0) {
      const r = part.ring ?? 0;
      const index = part.index ?? 0;
      host.remember();
      sel.rings = cloneRings(sel.rings);
      if (part.part === "edge") {
        const ring = sel.rings[r];
        ring.splice(index, 0, nearestOnSegment(e.p, ring[index - 1], ring[index % ring.length]));
      }
      this.active = { id: sel.id, ring: r, index };
      this.drag = { kind: "vertex", id: sel.id, ring: r, index, moved: part.part === "edge" };
      host.render();
      return true;
    }
    if (e.button === 2) return true;
    this.active = null;
    if (this.boxMode && e.button === 0 && host.insideImage(e.p)) {
      this.drag = { kind: "assist", start: e.p, cur: e.p };
      return true;
    }
    return false;
  }

  create(host: ToolHost, e: ToolPointer): boolean {
    if (e.button !== 0) return false;
    host.select(null);
    this.drawing = { points: [], into: null };
    this.addVertex(host, e.p);
    return true;
  }

  busy(): boolean { return this.drawing !== null; }

  move(host: ToolHost, e: ToolPointer): void {
    const d = this.drag;
    if (!d) return;
    const p = { x: clamp(e.p.x, 0, host.width), y: clamp(e.p.y, 0, host.height) };
    if (d.kind === "assist") { d.cur = p; host.renderOverlay(); return; }
    const o = host.objects().find((x) => x.id === d.id) as PolygonObj | undefined;
    if (o) o.rings[d.ring][d.index] = p;
    d.moved = true;
    host.render();
  }

  up(host: ToolHost): void {
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    if (d.kind === "assist") {
      this.toggleBoxMode(host);
      const x = Math.min(d.start.x, d.cur.x);
      const y = Math.min(d.start.y, d.cur.y);
      void this.askAssist(host, [x, y, Math.abs(d.cur.x - d.start.x), Math.abs(d.cur.y - d.start.y)]);
      return;
    }
    if (d.moved) host.changed(); else { host.forget(); host.render(); } // a click on a vertex picks it
  }

  key(host: ToolHost, e: ToolKey): boolean {
    if (!e.plain) return false;
    if (this.drawing) {
      if (e.key === "Enter") { e.preventDefault(); this.finishDrawing(host); return true; }
      if (e.key === "Escape") { e.preventDefault(); this.drawing = null; host.render(); return true; }
      if (e.key === "Backspace" || e.key === "Delete") {
        e.preventDefault();
        this.drawing.points.pop();
        if (!this.drawing.points.length && this.drawing.into === null) this.drawing = null;
        host.render();
        return true;
      }
    }
    if (e.key === "h" || e.key === "H") { e.preventDefault(); this.startHole(host); return true; }
    if (e.key === "b" || e.key === "B") { e.preventDefault(); this.toggleBoxMode(host); return true; }
    if (e.key === "Escape" && this.boxMode) { this.toggleBoxMode(host); return true; }
    if (e.key === "Escape") this.active = null;
    return false;
  }

  cursor(_host: ToolHost, hit: Hit | null): string | null {
    if (this.drawing || this.boxMode) return "crosshair";
    if (hit && hit.part === "vertex") return "move";
    if (hit && hit.part === "edge") return "copy";
    return null;
  }

  reset(all: boolean): void {
    this.active = null;
    if (all) { this.drawing = null; this.drag = null; }
  }

  fitOnDoubleClick(inside: boolean): boolean { return !this.drawing && !inside; }

  beforeSubmit(): string | null {
    return this.drawing ? "Finish the polygon you are drawing (click its first vertex or press Enter) or press Escape." : null;
  }

  buttons(host: ToolHost): HTMLElement[] {
    this.holeBtn = h("button", { type: "button", onclick: () => this.startHole(host),
      title: "H: draw a hole (or another part) in the selected shape" }, "Add hole");
    this.boxBtn = h("button", { type: "button", onclick: () => this.toggleBoxMode(host),
      title: "B: drag a box around an object to get an outline to edit" }, "Box → polygon");
    return [this.holeBtn, this.boxBtn];
  }

  refreshButtons(host: ToolHost): void {
    if (this.holeBtn) this.holeBtn.disabled = !host.selected();
    if (this.boxBtn) this.boxBtn.hidden = !this.assist;
  }
}
