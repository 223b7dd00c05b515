// Points: click on the image to place one (and keep the button down to drag it into place), drag a
// point to move it (the editor). Geometry [x, y] in image pixels.
import { clamp, colorOf, round2 } from "./geometry.js";
import type { Pt } from "./geometry.js";
import type { Hit, Obj, Painter, Tool, ToolHost, ToolKey, ToolPointer } from "./tool.js";

export interface PointObj extends Obj, Pt {}

const HIT = 8; // pick tolerance from the centre, stage px

export class PointTool implements Tool<PointObj> {
  readonly noun = "point";
  readonly plural = "points";
  readonly title = "Points";
  readonly stageLabel = "Image: click to place a point, drag a point to move it";
  readonly help = ["Click on the image to place a point; drag a point to move it.",
    "1–9 pick the label (and relabel the selected point).", "Delete removes the selected point.",
    "Wheel zooms at the cursor; drag outside the image, Space+drag or middle button pans; F fits.",
    "N / P: next / previous image.", "Ctrl+Z undo, Ctrl+Shift+Z redo, Ctrl+Enter submit."];
  readonly crosshair = false;
  drag: { id: number; start: Pt; orig: PointObj } | null = null;

  geometry(o: PointObj): number[] { return [round2(o.x), round2(o.y)]; }

  fromGeometry(g: unknown): Partial<PointObj> | null {
    if (!Array.isArray(g) || g.length !== 2 || !g.every((v) => typeof v === "number")) return null;
    return { x: g[0], y: g[1] };
  }

  describe(o: PointObj, label: string): string { return `${label} — (${Math.round(o.x)}, ${Math.round(o.y)})`; }
  area(): number { return 0; }
  clone(o: PointObj): PointObj { return { ...o }; }

  translate(o: PointObj, orig: PointObj, dx: number, dy: number, host: ToolHost): void {
    o.x = clamp(orig.x + dx, 0, host.width);
    o.y = clamp(orig.y + dy, 0, host.height);
  }

  paint(o: PointObj, selected: boolean, host: ToolHost, painter: Painter): void {
    const color = colorOf(o.label);
    const s = host.toScreen(o);
    const r = selected ? 7 : 5;
    painter.circle(s.x, s.y, r, { color: selected ? "#fff" : "#000", width: selected ? 3 : 2, fill: color },
      { id: o.id }, HIT - r);
    painter.tag(host.labels[o.label] ?? "", s.x + 8, s.y - 8, color);
  }

  paintParts(): void {}
  paintOverlay(): void {}

  grab(): boolean { return false; }

  create(host: ToolHost, e: ToolPointer): boolean {
    if (e.button !== 0) return false;
    host.remember();
    const point = host.add({ label: host.labelIndex, x: clamp(e.p.x, 0, host.width), y: clamp(e.p.y, 0, host.height) } as
      Omit<PointObj, "id">) as PointObj;
    this.drag = { id: point.id, start: e.p, orig: { ...point } };
    host.changed();
    return true;
  }

  busy(): boolean { return false; }

  move(host: ToolHost, e: ToolPointer): void {
    const d = this.drag;
    const o = d && (host.objects().find((x) => x.id === d.id) as PointObj | undefined);
    if (!d || !o) return;
    this.translate(o, d.orig, e.p.x - d.start.x, e.p.y - d.start.y, host);
    host.render();
  }

  up(host: ToolHost): void {
    if (this.drag) host.changed();
    this.drag = null;
  }

  key(_host: ToolHost, _e: ToolKey): boolean { return false; }
  cursor(): string | null { return null; }
  reset(): void { this.drag = null; }
  fitOnDoubleClick(inside: boolean): boolean { return !inside; }
}
