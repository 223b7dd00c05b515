// The QA page's image view: every stage's boxes (a colour per stage, labelled), fixed issues and the
// issues being written marked with dashed outlines. Click a box to select it; drag on the image to
// mark where an object is missing. Read-only otherwise: QA never edits the annotators' boxes.
import Konva from "konva/lib/Core";
import { Image as KonvaImage } from "konva/lib/shapes/Image";
import { Rect } from "konva/lib/shapes/Rect";
import { boxFromCorners, clamp, COLORS } from "../editor/geometry.js";
import type { Pt } from "../editor/geometry.js";
import { KonvaPainter } from "../editor/konva_painter.js";

/** A box the view draws: an annotator's object (pickable) or a mark (dashed, not pickable). */
export interface ShownBox {
  box: number[];
  text: string;
  stage: number; // the stage's position: its colour
  stageJobId: number;
  index: number | null; // the object's index in its stage; null for a mark
  dashed?: boolean;
  color?: string;
}

const HIT = 6; // pick tolerance around a box's edge, stage px
const MIN_DRAW = 4; // smallest drawn box, stage px (smaller is a click)

export const stageColor = (stage: number): string => COLORS[stage % COLORS.length];

export class QaView {
  readonly stage: HTMLElement;
  boxes: ShownBox[] = [];
  marks: ShownBox[] = [];
  selected: number | null = null; // index into boxes
  drawn: number[] | null = null; // the missing object being marked
  private konva: Konva.Stage;
  private imageLayer = new Konva.Layer({ listening: false });
  private objectLayer = new Konva.Layer();
  private img: HTMLImageElement | null = null;
  private width = 1;
  private height = 1;
  private view = { scale: 1, tx: 0, ty: 0 };
  private drag: { start: Pt; cur: Pt } | null = null;
  private readonly resizes = new ResizeObserver(() => this.resize());

  constructor(root: HTMLElement, private readonly onSelect: () => void) {
    const host = document.createElement("div");
    host.className = "konva-host";
    this.stage = document.createElement("div");
    Object.assign(this.stage, { className: "stage", tabIndex: 0 });
    this.stage.setAttribute("role", "application");
    this.stage.setAttribute("aria-label", "Image: click a box to select it, drag where an object is missing");
    this.stage.append(host);
    root.replaceChildren(this.stage);
    this.konva = new Konva.Stage({ container: host, width: 1, height: 1 });
    this.konva.add(this.imageLayer, this.objectLayer);
    this.stage.addEventListener("pointerdown", (e) => this.onDown(e));
    this.stage.addEventListener("pointermove", (e) => this.onMove(e));
    this.stage.addEventListener("pointerup", (e) => this.onUp(e));
    this.stage.addEventListener("contextmenu", (e) => e.preventDefault());
    this.resizes.observe(this.stage);
  }

  show(img: HTMLImageElement, width: number, height: number, boxes: ShownBox[]): void {
    Object.assign(this, { img, width, height, boxes, marks: [], selected: null, drawn: null, drag: null });
    if (!img.complete) img.addEventListener("load", () => this.render(), { once: true });
    this.resize();
  }

  setMarks(marks: ShownBox[]): void { this.marks = marks; this.render(); }

  select(index: number | null): void {
    this.selected = index;
    if (index !== null) this.drawn = null;
    this.render();
    this.onSelect();
  }

  /** Client (page) coordinates of an image point (tests). */
  imageToClient(x: number, y: number): Pt {
    const rect = this.stage.getBoundingClientRect();
    return { x: rect.left + this.stage.clientLeft + x * this.view.scale + this.view.tx,
      y: rect.top + this.stage.clientTop + y * this.view.scale + this.view.ty };
  }

  private resize(): void {
    const w = this.stage.clientWidth;
    const h = this.stage.clientHeight;
    if (!w || !h) return;
    this.konva.size({ width: w, height: h });
    const scale = Math.min(w / this.width, h / this.height) * 0.96;
    this.view = { scale, tx: (w - this.width * scale) / 2, ty: (h - this.height * scale) / 2 };
    this.render();
  }

  private local(e: MouseEvent): Pt {
    const rect = this.stage.getBoundingClientRect();
    return { x: e.clientX - rect.left - this.stage.clientLeft, y: e.clientY - rect.top - this.stage.clientTop };
  }

  private toImage(s: Pt): Pt {
    return { x: clamp((s.x - this.view.tx) / this.view.scale, 0, this.width),
      y: clamp((s.y - this.view.ty) / this.view.scale, 0, this.height) };
  }

  private onDown(e: PointerEvent): void {
    if (e.button !== 0 || !this.img) return;
    e.preventDefault();
    this.stage.focus({ preventScroll: true });
    const s = this.local(e);
    const shape = this.objectLayer.getIntersection(s);
    const hit = shape ? (shape.getAttr("hit") as { id: number } | undefined) : undefined;
    if (hit) { this.select(hit.id); return; }
    this.stage.setPointerCapture(e.pointerId);
    this.drag = { start: this.toImage(s), cur: this.toImage(s) };
  }

  private onMove(e: PointerEvent): void {
    if (!this.drag) return;
    this.drag.cur = this.toImage(this.local(e));
    this.render();
  }

  private onUp(e: PointerEvent): void {
    const d = this.drag;
    this.drag = null;
    if (this.stage.hasPointerCapture(e.pointerId)) this.stage.releasePointerCapture(e.pointerId);
    if (!d) return;
    const r = boxFromCorners(d.start, d.cur);
    if (Math.min(r.w, r.h) * this.view.scale >= MIN_DRAW) {
      this.drawn = [r.x, r.y, r.w, r.h].map((v) => Math.round(v * 100) / 100);
      this.selected = null;
    } else {
      this.drawn = null;
      this.selected = null;
    }
    this.render();
    this.onSelect();
  }

  private screen(box: number[]): number[] {
    const { scale, tx, ty } = this.view;
    return [box[0] * scale + tx, box[1] * scale + ty, box[2] * scale, box[3] * scale];
  }

  render(): void {
    this.imageLayer.destroyChildren();
    this.objectLayer.destroyChildren();
    const { scale, tx, ty } = this.view;
    this.imageLayer.add(new Rect({ width: this.konva.width(), height: this.konva.height(), fill: "#20242c" }));
    const img = this.img;
    if (img && img.complete && img.naturalWidth) {
      this.imageLayer.add(new KonvaImage({ image: img, x: tx, y: ty, width: this.width * scale, height: this.height * scale }));
    }
    const painter = new KonvaPainter(this.objectLayer);
    // larger boxes first: the smallest one under the pointer is on top, so it is the one picked
    const order = this.boxes.map((b, n) => ({ b, n })).sort((p, q) => q.b.box[2] * q.b.box[3] - p.b.box[2] * p.b.box[3] || p.n - q.n);
    for (const { b, n } of order) {
      const [x, y, w, h] = this.screen(b.box);
      const color = b.color || stageColor(b.stage);
      const sel = n === this.selected;
      painter.rect(x, y, w, h, { color: sel ? "#ffffff" : color, width: sel ? 4 : 2,
        fill: sel ? "rgba(255,255,255,0.18)" : "rgba(0,0,0,0)" }, { id: n }, HIT);
      painter.tag(b.text, x, y, color);
    }
    painter.pickable = false;
    const marks = this.drawn ? [...this.marks, { box: this.drawn, text: "missing?", stage: 0, stageJobId: 0, index: null,
      color: "#ffffff" }] : this.marks;
    for (const m of marks) {
      const [x, y, w, h] = this.screen(m.box);
      const color = m.color || "#ff922b";
      painter.rect(x, y, w, h, { color, width: 2, dash: [6, 4] });
      painter.tag(m.text, x, y + h + 18, color);
    }
    if (this.drag) {
      const r = boxFromCorners(this.drag.start, this.drag.cur);
      const [x, y, w, h] = this.screen([r.x, r.y, r.w, r.h]);
      painter.rect(x, y, w, h, { color: "#ffffff", width: 2, dash: [5, 4] });
    }
    this.imageLayer.draw();
    this.objectLayer.draw();
  }
}
