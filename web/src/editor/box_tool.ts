// Boxes: drag on the image to draw one, drag a box to move it (the editor), drag a handle of the
// selected box to resize it. Geometry [x, y, w, h] in image pixels.
import { boxFromCorners, clamp, colorOf, HANDLES, handlePoints, resizeBox, round2 } from "./geometry.js";
import type { Handle, Pt, Rect } from "./geometry.js";
import type { Hit, Obj, Painter, Tool, ToolHost, ToolKey, ToolPointer } from "./tool.js";

export interface BoxObj extends Obj, Rect {}

const MIN_BOX = 2; // smallest box, image px
const MIN_SCREEN = 4; // smallest box drawn, stage px (smaller is a click)
const HIT = 8; // pick tolerance, stage px
const HANDLE = 5; // handle half-size, stage px
const CURSORS: Record<Handle, string> = { nw: "nwse-resize", se: "nwse-resize", ne: "nesw-resize", sw: "nesw-resize",
  n: "ns-resize", s: "ns-resize", e: "ew-resize", w: "ew-resize" };

type Drag = { kind: "draw"; start: Pt; cur: Pt } | { kind: "resize"; handle: Handle; id: number; orig: Rect; moved: boolean };

const isHandle = (part: string | undefined): part is Handle => (HANDLES as readonly string[]).includes(part || "");

export class BoxTool implements Tool<BoxObj> {
  readonly noun = "box";
  readonly plural = "boxes";
  readonly title = "Boxes";
  readonly stageLabel = "Image: drag to draw a box, drag a box to move it, drag its handles to resize";
  readonly help = ["Drag on the image to draw a box.", "Drag a box to move it, its handles to resize it.",
    "1–9 pick the label (and relabel the selected box).", "Delete removes the selected box.",
    "Wheel zooms at the cursor; drag outside the image, Space+drag or middle button pans; double-click fits.",
    "N / P: next / previous image.", "Ctrl+Z undo, Ctrl+Shift+Z redo, Ctrl+Enter submit."];
  readonly crosshair = true;
  drag: Drag | null = null;

  geometry(o: BoxObj): number[] { return [round2(o.x), round2(o.y), round2(o.w), round2(o.h)]; }

  fromGeometry(g: unknown): Partial<BoxObj> | null {
    if (!Array.isArray(g) || g.length !== 4 || !g.every((v) => typeof v === "number")) return null;
    return { x: g[0], y: g[1], w: g[2], h: g[3] };
  }

  describe(o: BoxObj, label: string): string {
    return `${label} — ${Math.round(o.w)}×${Math.round(o.h)} at (${Math.round(o.x)}, ${Math.round(o.y)})`;
  }

  area(o: BoxObj): number { return o.w * o.h; }
  clone(o: BoxObj): BoxObj { return { ...o }; }

  translate(o: BoxObj, orig: BoxObj, dx: number, dy: number, host: ToolHost): void {
    o.x = clamp(orig.x + dx, 0, host.width - o.w);
    o.y = clamp(orig.y + dy, 0, host.height - o.h);
  }

  paint(o: BoxObj, selected: boolean, host: ToolHost, painter: Painter): void {
    const color = colorOf(o.label);
    const a = host.toScreen({ x: o.x, y: o.y });
    const b = host.toScreen({ x: o.x + o.w, y: o.y + o.h });
    const width = selected ? 3 : 2;
    painter.rect(a.x, a.y, b.x - a.x, b.y - a.y,
      { color, width, fill: selected ? "rgba(255,255,255,0.12)" : "rgba(0,0,0,0)" }, { id: o.id }, HIT);
    painter.tag(host.labels[o.label] ?? "", a.x, a.y, color);
  }

  paintParts(o: BoxObj, host: ToolHost, painter: Painter): void {
    const color = colorOf(o.label);
    const width = 3;
    const a = host.toScreen({ x: o.x, y: o.y });
    const b = host.toScreen({ x: o.x + o.w, y: o.y + o.h });
    const corners = handlePoints({ x: a.x, y: a.y, w: b.x - a.x, h: b.y - a.y });
    for (const name of HANDLES) {
      const c = corners[name];
      painter.rect(c.x - HANDLE, c.y - HANDLE, HANDLE * 2, HANDLE * 2, { color, width, fill: "#fff" },
        { id: o.id, part: name }, HIT - HANDLE);
    }
  }

  paintOverlay(host: ToolHost, painter: Painter): void {
    const d = this.drag;
    if (!d || d.kind !== "draw") return;
    const r = boxFromCorners(host.toScreen(d.start), host.toScreen(d.cur));
    painter.rect(r.x, r.y, r.w, r.h, { color: colorOf(host.labelIndex), width: 2, dash: [5, 4] });
  }

  grab(host: ToolHost, e: ToolPointer, hit: Hit | null): boolean {
    const sel = host.selected() as BoxObj | null;
    if (e.button !== 0 || !hit || !sel || hit.id !== sel.id || !isHandle(hit.part)) return false;
    host.remember();
    this.drag = { kind: "resize", handle: hit.part, id: sel.id, orig: { x: sel.x, y: sel.y, w: sel.w, h: sel.h }, moved: false };
    return true;
  }

  create(host: ToolHost, e: ToolPointer): boolean {
    if (e.button !== 0) return false;
    this.drag = { kind: "draw", start: e.p, cur: e.p };
    return true;
  }

  busy(): boolean { return false; }

  move(host: ToolHost, e: ToolPointer): void {
    const d = this.drag;
    if (!d) return;
    if (d.kind === "draw") {
      d.cur = { x: clamp(e.p.x, 0, host.width), y: clamp(e.p.y, 0, host.height) };
      host.renderOverlay();
      return;
    }
    const o = host.objects().find((x) => x.id === d.id) as BoxObj | undefined;
    if (!o) return;
    Object.assign(o, resizeBox(d.orig, d.handle, e.p, host.width, host.height, MIN_BOX / 4));
    d.moved = true;
    host.render();
  }

  up(host: ToolHost): void {
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    if (d.kind === "resize") {
      if (d.moved) host.changed(); else host.forget();
      return;
    }
    const r = boxFromCorners(d.start, d.cur);
    if (r.w >= MIN_BOX / 2 && r.h >= MIN_BOX / 2 && Math.min(r.w, r.h) * host.scale >= MIN_SCREEN) {
      host.remember();
      host.add({ label: host.labelIndex, ...r } as Omit<BoxObj, "id">);
      host.changed();
    } else {
      host.select(null); // a click on empty image deselects
    }
  }

  key(_host: ToolHost, _e: ToolKey): boolean { return false; }

  cursor(_host: ToolHost, hit: Hit | null): string | null {
    return hit && isHandle(hit.part) ? CURSORS[hit.part] : null;
  }

  reset(): void { this.drag = null; }
  fitOnDoubleClick(): boolean { return true; }
}
