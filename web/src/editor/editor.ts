// The image editor of the annotation page: a Konva stage (the image layer, the objects layer whose hit
// canvas answers what is under the pointer, an overlay for what is being drawn), zoom at the cursor, pan,
// selection, moving, undo/redo, hide/lock, brightness/contrast, the side panel and the filmstrip. What an
// object is and how it is drawn and created belongs to its Tool (box, point, polygon); the editor never
// asks which kind it holds. Geometry is kept in image pixels; the view maps image to stage pixels.
import Konva from "konva/lib/Core";
import { Rect } from "konva/lib/shapes/Rect";
import { History } from "./history.js";
import { clamp } from "./geometry.js";
import type { Pt } from "./geometry.js";
import { KonvaPainter } from "./konva_painter.js";
import { Panel } from "./panel.js";
import type { AssignmentItem, AttributeSpec, AttributeValues, Instructions, ItemAnswer, PageEditor } from "../types.js";
import type { Hit, Obj, Tool, ToolHost, ToolPointer } from "./tool.js";

interface View { scale: number; tx: number; ty: number }
interface Snapshot { objects: Obj[]; selected: number | null }

/** One image of the assignment and what the worker did on it. */
export interface EditorItem {
  id: string; width: number; height: number; img: HTMLImageElement | null; thumb: string;
  objects: Obj[]; history: History<Snapshot>; selected: number | null; view: View | null; fitted: boolean;
  timeMs: number; clicks: number[]; seen: boolean;
  /** Earlier pipeline stages' boxes on this image: drawn dotted under the objects, never picked or sent. */
  context: { label: string; geometry: number[] }[];
}

type Drag = { kind: "pan"; start: Pt; orig: View } | { kind: "move"; id: number; start: Pt; orig: Obj; moved: boolean } |
  { kind: "tool" };

export interface EditorOptions { labels: string[]; onChange?: () => void }

export class Editor implements PageEditor, ToolHost {
  readonly tool: Tool;
  labels: string[];
  /** What every object carries besides its label (the job's attributes; often none). */
  attributeSpecs: AttributeSpec[] = [];
  labelIndex = 0;
  /** Dashed outlines with a note over the image (the fixes page: where QA raised issues); not objects. */
  marks: { box: number[]; text: string }[] = [];
  items: EditorItem[] = [];
  index = 0;
  onChange: () => void;
  look = { brightness: 100, contrast: 100 }; // percent, for reading dark or flat images
  stage: HTMLElement;
  panel: Panel;
  private konva: Konva.Stage;
  private imageLayer: Konva.Layer;
  private objectLayer: Konva.Layer;
  private overlayLayer: Konva.Layer;
  private drag: Drag | null = null;
  private spaceDown = false;
  private nextId = 1;
  private shownAt = performance.now();
  private itemShownAt = 0;
  private cursorAt: Pt | null = null; // the pointer over the stage, in stage pixels
  private readonly resizes = new ResizeObserver(() => this.resize());
  private cssW = 0;
  private cssH = 0;
  private readonly keydown = (e: KeyboardEvent) => this.onKey(e);
  private readonly keyup = (e: KeyboardEvent) => { if (e.code === "Space") this.spaceDown = false; };

  constructor(root: HTMLElement, tool: Tool, { labels, onChange }: EditorOptions) {
    this.tool = tool;
    this.labels = labels;
    this.onChange = onChange || (() => {});
    const host = document.createElement("div");
    host.className = "konva-host";
    this.stage = document.createElement("div");
    Object.assign(this.stage, { className: "stage", tabIndex: 0 });
    this.stage.setAttribute("role", "application");
    this.stage.setAttribute("aria-label", tool.stageLabel);
    this.stage.append(host);
    this.panel = new Panel(this);
    this.panel.build(root, this.stage);
    this.konva = new Konva.Stage({ container: host, width: 1, height: 1 });
    this.imageLayer = new Konva.Layer({ listening: false });
    this.objectLayer = new Konva.Layer();
    this.overlayLayer = new Konva.Layer({ listening: false });
    this.konva.add(this.imageLayer, this.objectLayer, this.overlayLayer);
    const on = <K extends keyof HTMLElementEventMap>(type: K, fn: (e: HTMLElementEventMap[K]) => void, opts?: AddEventListenerOptions) =>
      this.stage.addEventListener(type, fn, opts);
    on("pointerdown", (e) => this.onDown(e));
    on("pointermove", (e) => this.onMove(e));
    on("pointerup", (e) => this.onUp(e));
    on("pointercancel", (e) => this.onUp(e));
    on("pointerleave", () => { this.cursorAt = null; this.renderOverlay(); });
    on("wheel", (e) => this.onWheel(e), { passive: false });
    on("dblclick", (e) => this.onDblClick(e));
    on("auxclick", (e) => e.preventDefault());
    on("contextmenu", (e) => e.preventDefault());
    this.resizes.observe(this.stage);
    document.addEventListener("keydown", this.keydown);
    document.addEventListener("keyup", this.keyup);
  }

  destroy(): void {
    document.removeEventListener("keydown", this.keydown);
    document.removeEventListener("keyup", this.keyup);
    this.resizes.disconnect();
    this.konva.destroy();
  }

  focusStage(): void { this.stage.focus({ preventScroll: true }); }

  // -- data -----------------------------------------------------------------------------------------

  setItems(items: AssignmentItem[], images: Map<string, HTMLImageElement>, labels: string[],
    _instructions?: Instructions, attributes: AttributeSpec[] = []): void {
    this.attributeSpecs = attributes;
    if (labels && labels.join("\n") !== this.labels.join("\n")) {
      this.labels = labels;
      this.labelIndex = 0;
      this.panel.buildLabels();
    }
    this.items = items.map((item) => ({
      id: item.item_id, width: item.width, height: item.height, img: images.get(item.item_id) || null,
      thumb: item.image_url, objects: [], history: new History<Snapshot>(), selected: null, view: null, fitted: true,
      timeMs: 0, clicks: [], seen: false, context: item.context || [],
    }));
    // images still loading (all but the first may be) redraw the view when they arrive
    for (const item of this.items) {
      if (item.img && !item.img.complete) {
        item.img.addEventListener("load", () => { if (this.item === item) this.render(); }, { once: true });
      }
    }
    this.tool.reset(true);
    this.shownAt = performance.now();
    this.itemShownAt = this.shownAt;
    this.index = 0;
    this.items[0].seen = true;
    this.panel.buildFilmstrip();
    this.resize(true);
    this.refreshList();
  }

  get item(): EditorItem { return this.items[this.index]; }
  get width(): number { return this.item.width; }
  get height(): number { return this.item.height; }
  get itemId(): string { return this.item.id; }
  get scale(): number { return this.item.view ? this.item.view.scale : 1; }

  objects(): Obj[] { return this.item.objects; }

  showItem(index: number): void {
    if (index < 0 || index >= this.items.length || index === this.index) return;
    this.accountTime();
    this.tool.reset(true);
    this.index = index;
    this.item.seen = true;
    this.drag = null;
    if (!this.item.view) this.fit();
    this.render();
    this.refreshList();
    this.panel.buildFilmstrip();
  }

  private accountTime(): void {
    const now = performance.now();
    if (this.item) this.item.timeMs += now - this.itemShownAt;
    this.itemShownAt = now;
  }

  /** The submission's items: every item answered (an empty list means "nothing here"). */
  answers(): ItemAnswer[] {
    this.accountTime();
    return this.items.map((item) => ({
      item_id: item.id,
      annotations: item.objects.map((o) => ({ label: this.labels[o.label], geometry: this.tool.geometry(o),
        ...(this.attributeSpecs.length ? { attributes: { ...o.attributes } } : {}) })),
      interactions: { time_on_item_ms: Math.round(item.timeMs), clicks_ms: item.clicks.slice(0, 2000) },
    }));
  }

  /** Load objects on the current image (a resumed draft, tests): [{label, geometry}]. */
  setObjects(objects: { label: string; geometry: unknown; attributes?: AttributeValues }[]): void {
    this.item.objects = objects.flatMap((o) => {
      const g = this.tool.fromGeometry(o.geometry);
      const attributes = o.attributes ? { attributes: { ...o.attributes } } : {};
      return g ? [{ ...g, ...attributes, id: this.nextId++, label: Math.max(0, this.labels.indexOf(o.label)) } as Obj]
        : [];
    });
    this.changed();
  }

  setMarks(marks: { box: number[]; text: string }[]): void { this.marks = marks; this.render(); }

  beforeSubmit(): string | null { return this.tool.beforeSubmit ? this.tool.beforeSubmit() : null; }

  unseenCount(): number { return this.items.filter((i) => !i.seen).length; }

  // -- history and editing (the ToolHost side) ---------------------------------------------------------

  private snapshot(): Snapshot {
    return { objects: this.item.objects.map((o) => this.tool.clone(o)), selected: this.item.selected };
  }

  remember(): void { this.item.history.remember(this.snapshot()); }
  forget(): void { this.item.history.forget(); }

  private restore(state: Snapshot): void {
    // hidden/locked are view settings: undo and redo keep what the worker set now
    const flags = new Map(this.item.objects.map((o) => [o.id, { hidden: o.hidden, locked: o.locked }]));
    this.item.objects = state.objects.map((o) => ({ ...this.tool.clone(o), hidden: false, locked: false, ...flags.get(o.id) }));
    this.item.selected = this.item.objects.some((o) => o.id === state.selected) ? state.selected : null;
    this.tool.reset(false);
  }

  undo(): void {
    const state = this.item ? this.item.history.undo(this.snapshot()) : null;
    if (state) { this.restore(state); this.changed(); }
  }

  redo(): void {
    const state = this.item ? this.item.history.redo(this.snapshot()) : null;
    if (state) { this.restore(state); this.changed(); }
  }

  changed(): void {
    this.render();
    this.refreshList();
    this.panel.buildFilmstrip();
    this.onChange();
  }

  add(o: Omit<Obj, "id">): Obj {
    const obj = { ...o, id: this.nextId++ } as Obj;
    this.item.objects.push(obj);
    this.item.selected = obj.id;
    return obj;
  }

  remove(id: number): void {
    this.item.objects = this.item.objects.filter((o) => o.id !== id);
    if (this.item.selected === id) this.item.selected = null;
  }

  selected(): Obj | null {
    const item = this.item;
    return item ? item.objects.find((o) => o.id === item.selected) || null : null;
  }

  select(id: number | null): void {
    this.item.selected = id;
    const obj = this.selected();
    if (obj) this.panel.showLabel(obj.label);
    this.render();
    this.refreshList();
  }

  /** Pick a label (1–9, the radio buttons): new objects get it, and the selected object is relabelled. */
  chooseLabel(i: number): void {
    if (i < 0 || i >= this.labels.length) return;
    this.labelIndex = i;
    this.panel.showLabel(i);
    const sel = this.selected();
    if (sel && sel.label !== i) {
      this.remember();
      sel.label = i;
      this.changed();
    }
  }

  /** Hide/show or lock/unlock one object: a view setting, not part of the answer or of the history. */
  toggleFlag(id: number, flag: "hidden" | "locked"): void {
    const o = this.item.objects.find((x) => x.id === id);
    if (!o) return;
    o[flag] = !o[flag];
    if (o[flag] && this.item.selected === id) this.item.selected = null;
    this.render();
    this.refreshList();
  }

  /** Relabel one object (the object list's label menu). */
  relabel(id: number, label: number): void {
    const o = this.item.objects.find((x) => x.id === id);
    if (!o || o.label === label || label < 0 || label >= this.labels.length) return;
    this.remember();
    o.label = label;
    this.changed();
  }

  /** Set one attribute of one object (the attributes card); undoable like a relabel. */
  setAttribute(id: number, name: string, value: boolean | string): void {
    const o = this.item.objects.find((x) => x.id === id);
    if (!o || (o.attributes && o.attributes[name] === value)) return;
    this.remember();
    o.attributes = { ...o.attributes, [name]: value }; // a new object: the undo snapshot keeps the old one
    this.changed();
  }

  /** Delete one object (the object list's ✕), selected or not, hidden or locked. */
  deleteObject(id: number): void {
    if (!this.item.objects.some((o) => o.id === id)) return;
    this.remember();
    this.remove(id);
    this.tool.reset(false);
    this.changed();
  }

  deleteSelected(): void {
    if (this.tool.deletePart && this.tool.deletePart(this)) return;
    const sel = this.selected();
    if (!sel) return;
    this.remember();
    this.remove(sel.id);
    this.changed();
  }

  say(text: string): void { this.panel.say(text); }
  refreshList(): void { if (this.item) this.panel.refresh(); }

  // -- view -----------------------------------------------------------------------------------------

  resize(refit = false): void {
    const w = this.stage.clientWidth;
    const hgt = this.stage.clientHeight;
    if (!w || !hgt) return;
    if (w !== this.cssW || hgt !== this.cssH) this.konva.size({ width: w, height: hgt }); // reallocates canvases
    this.cssW = w;
    this.cssH = hgt;
    if (this.item && (refit || !this.item.view || this.item.fitted)) this.fit();
    this.render();
  }

  fit(): void {
    const item = this.item;
    if (!item || !this.cssW) return;
    const scale = Math.min(this.cssW / item.width, this.cssH / item.height) * 0.96;
    item.view = { scale, tx: (this.cssW - item.width * scale) / 2, ty: (this.cssH - item.height * scale) / 2 };
    item.fitted = true;
  }

  toImage(s: Pt): Pt {
    const v = this.item.view || { scale: 1, tx: 0, ty: 0 };
    return { x: (s.x - v.tx) / v.scale, y: (s.y - v.ty) / v.scale };
  }

  toScreen(p: Pt): Pt {
    const v = this.item.view || { scale: 1, tx: 0, ty: 0 };
    return { x: p.x * v.scale + v.tx, y: p.y * v.scale + v.ty };
  }

  /** Client (page) coordinates of an image point: used by tests and the benchmark. */
  imageToClient(x: number, y: number): Pt {
    const rect = this.stage.getBoundingClientRect();
    const s = this.toScreen({ x, y });
    return { x: rect.left + this.stage.clientLeft + s.x, y: rect.top + this.stage.clientTop + s.y };
  }

  /** The colour shown at an image point, [r, g, b, a] (tests: what the worker sees there). */
  pixelAt(x: number, y: number): number[] {
    const ratio = window.devicePixelRatio || 1;
    const canvas = this.konva.toCanvas({ pixelRatio: ratio });
    const s = this.toScreen({ x, y });
    const ctx = canvas.getContext("2d");
    return ctx ? [...ctx.getImageData(Math.round(s.x * ratio), Math.round(s.y * ratio), 1, 1).data] : [];
  }

  zoomAt(s: Pt, factor: number): void {
    const item = this.item;
    const v = item.view;
    if (!v) return;
    const fitScale = Math.min(this.cssW / item.width, this.cssH / item.height);
    const scale = clamp(v.scale * factor, fitScale * 0.2, fitScale * 40);
    const p = this.toImage(s);
    v.tx = s.x - p.x * scale;
    v.ty = s.y - p.y * scale;
    v.scale = scale;
    item.fitted = false;
    this.render();
  }

  insideImage(p: Pt): boolean { return p.x >= 0 && p.y >= 0 && p.x <= this.item.width && p.y <= this.item.height; }

  /** The object or part under a stage point: Konva's hit canvas of the objects layer. */
  hitAt(s: Pt): Hit | null {
    const shape = this.objectLayer.getIntersection(s);
    return shape ? (shape.getAttr("hit") as Hit | undefined) || null : null;
  }

  // -- pointer --------------------------------------------------------------------------------------

  private local(e: MouseEvent): Pt {
    const rect = this.stage.getBoundingClientRect();
    return { x: e.clientX - rect.left - this.stage.clientLeft, y: e.clientY - rect.top - this.stage.clientTop };
  }

  private pointer(e: PointerEvent | MouseEvent): ToolPointer {
    const s = this.local(e);
    return { s, p: this.toImage(s), button: e.button, altKey: e.altKey };
  }

  private onDown(e: PointerEvent): void {
    if (!this.item || !this.item.view) return;
    const ev = this.pointer(e);
    this.focusStage();
    this.item.clicks.push(Math.round(performance.now() - this.shownAt));
    e.preventDefault();
    const panning = e.button === 1 || (e.button === 0 && this.spaceDown);
    const capture = () => this.stage.setPointerCapture(e.pointerId);
    if (panning) { capture(); this.drag = { kind: "pan", start: ev.s, orig: { ...this.item.view } }; return; }
    const hit = this.hitAt(ev.s);
    if (this.tool.grab(this, ev, hit)) { capture(); this.drag = { kind: "tool" }; return; }
    if (e.button !== 0) return;
    const obj = hit && !hit.part ? this.item.objects.find((o) => o.id === hit.id) : undefined;
    if (obj) {
      this.select(obj.id);
      this.remember();
      capture();
      this.drag = { kind: "move", id: obj.id, start: ev.p, orig: this.tool.clone(obj), moved: false };
      return;
    }
    if (this.insideImage(ev.p) && this.tool.create(this, ev)) { capture(); this.drag = { kind: "tool" }; return; }
    capture();
    this.drag = { kind: "pan", start: ev.s, orig: { ...this.item.view } };
  }

  private onMove(e: PointerEvent): void {
    if (!this.item || !this.item.view) return;
    const ev = this.pointer(e);
    this.cursorAt = ev.s;
    const d = this.drag;
    if (!d) {
      this.stage.style.cursor = this.hoverCursor(ev);
      if (this.tool.crosshair || this.tool.busy()) this.renderOverlay();
      return;
    }
    if (d.kind === "tool") { this.tool.move(this, ev); return; }
    if (d.kind === "pan") {
      this.item.view.tx = d.orig.tx + (ev.s.x - d.start.x);
      this.item.view.ty = d.orig.ty + (ev.s.y - d.start.y);
      this.item.fitted = false;
    } else {
      const o = this.item.objects.find((x) => x.id === d.id);
      if (!o) return;
      this.tool.translate(o, d.orig, ev.p.x - d.start.x, ev.p.y - d.start.y, this);
      d.moved = true;
    }
    this.render();
  }

  private onUp(e: PointerEvent): void {
    const d = this.drag;
    this.drag = null;
    if (this.stage.hasPointerCapture(e.pointerId)) this.stage.releasePointerCapture(e.pointerId);
    if (!d || !this.item) return;
    if (d.kind === "tool") this.tool.up(this, this.pointer(e));
    else if (d.kind === "move") {
      if (d.moved) this.changed(); else this.forget(); // a click that changed nothing leaves no history
    }
    this.render();
  }

  private hoverCursor(ev: ToolPointer): string {
    if (this.spaceDown) return "grab";
    const hit = this.hitAt(ev.s);
    const own = this.tool.cursor(this, hit);
    if (own) return own;
    if (hit) return "move";
    return this.insideImage(ev.p) ? "crosshair" : "grab";
  }

  private onWheel(e: WheelEvent): void {
    if (!this.item || !this.item.view) return;
    e.preventDefault();
    const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    this.zoomAt(this.local(e), Math.exp(-delta * 0.0015));
  }

  private onDblClick(e: MouseEvent): void {
    if (!this.item || !this.item.view) return;
    if (!this.tool.fitOnDoubleClick(this.insideImage(this.toImage(this.local(e))))) return;
    this.fit();
    this.render();
  }

  // -- keyboard -------------------------------------------------------------------------------------

  private onKey(e: KeyboardEvent): void {
    if (!this.items.length) return;
    if (this.panel.sheet.open) { // the shortcut sheet is modal: "?" or Escape close it, nothing else acts
      if (e.key === "?") { e.preventDefault(); this.panel.toggleSheet(); }
      return;
    }
    const target = e.target instanceof HTMLElement ? e.target : null;
    const tag = target ? target.tagName : "";
    if ((tag === "INPUT" && (target as HTMLInputElement).type !== "radio") || tag === "TEXTAREA" || tag === "SELECT") return;
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && (e.key === "z" || e.key === "Z")) {
      e.preventDefault();
      if (e.shiftKey) this.redo(); else this.undo();
      return;
    }
    if (ctrl && (e.key === "y" || e.key === "Y")) { e.preventDefault(); this.redo(); return; }
    if (this.tool.key(this, { key: e.key, plain: !(ctrl || e.altKey), preventDefault: () => e.preventDefault() })) return;
    if (ctrl || e.altKey) return;
    if (e.code === "Space" && (e.target === this.stage || e.target === document.body)) {
      this.spaceDown = true;
      e.preventDefault();
      return;
    }
    if (e.key === "?") { e.preventDefault(); this.panel.toggleSheet(); return; }
    if (/^[1-9]$/.test(e.key)) { e.preventDefault(); this.chooseLabel(Number(e.key) - 1); return; }
    if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); this.deleteSelected(); return; }
    if (e.key === "Escape") { this.select(null); return; }
    if (e.key === "f" || e.key === "F" || e.key === "0") { this.fit(); this.render(); return; }
    if (e.key === "n" || e.key === "N" || e.key === "PageDown") { e.preventDefault(); this.showItem(this.index + 1); return; }
    if (e.key === "p" || e.key === "P" || e.key === "PageUp") { e.preventDefault(); this.showItem(this.index - 1); return; }
    const middle = { x: this.cssW / 2, y: this.cssH / 2 };
    if (e.key === "+" || e.key === "=") { this.zoomAt(middle, 1.25); return; }
    if (e.key === "-") this.zoomAt(middle, 0.8);
  }

  // -- drawing --------------------------------------------------------------------------------------

  render(): void {
    for (const layer of [this.imageLayer, this.objectLayer]) layer.destroyChildren();
    const item = this.item;
    this.imageLayer.add(new Rect({ width: this.cssW, height: this.cssH, fill: "#20242c", listening: false }));
    if (item && item.view) {
      this.drawImage(item, item.view);
      const painter = new KonvaPainter(this.objectLayer);
      for (const { label, geometry } of item.context) {
        if (geometry.length !== 4) continue;
        const [x, y, w, h] = geometry;
        const a = this.toScreen({ x, y });
        const b = this.toScreen({ x: x + w, y: y + h });
        painter.rect(a.x, a.y, b.x - a.x, b.y - a.y, { color: "#ced4da", width: 1.5, dash: [2, 3] });
        painter.tag(label, a.x, a.y, "#ced4da");
      }
      const shown = item.objects.filter((o) => !o.hidden);
      // larger objects first: the smallest one under the pointer is on top, so it is the one picked
      const order = shown.map((o, n) => ({ o, n, area: this.tool.area(o) })).sort((a, b) => b.area - a.area || a.n - b.n);
      for (const { o } of order) {
        painter.pickable = !o.locked;
        this.tool.paint(o, o.id === item.selected, this, painter);
      }
      for (const { box: [x, y, w, h], text } of this.marks) {
        const a = this.toScreen({ x, y });
        const b = this.toScreen({ x: x + w, y: y + h });
        painter.rect(a.x - 3, a.y - 3, b.x - a.x + 6, b.y - a.y + 6, { color: "#ff922b", width: 2, dash: [6, 4] });
        painter.tag(text, a.x - 3, b.y + 21, "#ff922b");
      }
      const sel = this.selected();
      painter.pickable = true;
      if (sel && !sel.hidden && !sel.locked) this.tool.paintParts(sel, this, painter);
    }
    this.imageLayer.draw();
    this.objectLayer.draw(); // now, not at the next frame: the hit canvas answers the next pointerdown
    this.renderOverlay();
  }

  /** Only what is drawn over the objects: the crosshair, a rubber band, an outline in progress (pointer
   * moves that change nothing else redraw just this layer). */
  renderOverlay(): void {
    this.overlayLayer.destroyChildren();
    if (this.item && this.item.view) {
      const overlay = new KonvaPainter(this.overlayLayer);
      this.drawCrosshair(overlay);
      this.tool.paintOverlay(this, overlay, this.cursorAt);
    }
    this.overlayLayer.draw();
  }

  private drawImage(item: EditorItem, view: View): void {
    const { img, width, height } = item;
    const filter = `brightness(${this.look.brightness}%) contrast(${this.look.contrast}%)`;
    this.imageLayer.add(new Konva.Shape({
      listening: false,
      sceneFunc: (ctx) => {
        const c = ctx._context;
        c.save();
        c.imageSmoothingEnabled = view.scale < 4;
        c.filter = filter;
        if (img && img.complete && img.naturalWidth) c.drawImage(img, view.tx, view.ty, width * view.scale, height * view.scale);
        else { c.fillStyle = "#444"; c.fillRect(view.tx, view.ty, width * view.scale, height * view.scale); }
        c.restore();
      },
    }));
  }

  /** Lines through the pointer across the image while nothing is dragged, when the tool wants them. */
  private drawCrosshair(painter: KonvaPainter): void {
    const c = this.cursorAt;
    const dragging = this.drag !== null && this.drag.kind !== "tool"; // moving or panning hides it
    if (!this.tool.crosshair || !c || dragging || !this.insideImage(this.toImage(c))) return;
    const a = this.toScreen({ x: 0, y: 0 });
    const b = this.toScreen({ x: this.item.width, y: this.item.height });
    const style = { color: "rgba(255,255,255,0.7)", width: 1, dash: [4, 4] };
    painter.line([{ x: a.x, y: c.y }, { x: b.x, y: c.y }], style);
    painter.line([{ x: c.x, y: a.y }, { x: c.x, y: b.y }], style);
  }
}
