// Boxes and points on a <canvas>: draw, select, move, resize, relabel, delete, undo/redo, zoom, pan.
// Geometry is kept in image pixels; the view is a scale + translation from image to canvas pixels.
import { h } from "./api.js";
import { COLORS, drawCrosshair, drawObject } from "./editor_draw.js";

const HIT = 8; // hit tolerance, screen px
const MIN_BOX = 2; // smallest box, image px
const HISTORY = 200;
const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
const CURSORS = { nw: "nwse-resize", se: "nwse-resize", ne: "nesw-resize", sw: "nesw-resize", n: "ns-resize",
  s: "ns-resize", e: "ew-resize", w: "ew-resize" };

const NOUNS = { boxes: "box", points: "point", polygons: "shape" };
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const round2 = (v) => Math.round(v * 100) / 100;

export class CanvasEditor {
  /**
   * @param {HTMLElement} root where the editor builds its DOM
   * @param {{mode: "boxes"|"points", labels: string[], onChange?: () => void}} options
   */
  constructor(root, { mode, labels, onChange }) {
    this.mode = mode;
    this.labels = labels;
    this.onChange = onChange || (() => {});
    this.labelIndex = 0;
    this.items = [];
    this.index = 0;
    this.drag = null;
    this.spaceDown = false;
    this.nextId = 1;
    this.shownAt = performance.now();
    this.look = { brightness: 100, contrast: 100 }; // percent, for reading dark or flat images
    this.cursor = null; // the pointer over the stage, in screen pixels (crosshair while drawing boxes)
    this.build(root);
    this.onKey = this.onKey.bind(this);
    this.onKeyUp = (e) => { if (e.code === "Space") this.spaceDown = false; };
    document.addEventListener("keydown", this.onKey);
    document.addEventListener("keyup", this.onKeyUp);
  }

  // -- DOM ------------------------------------------------------------------------------------------

  build(root) {
    const noun = NOUNS[this.mode] || "point";
    this.canvas = h("canvas", { "aria-hidden": "true" });
    this.stage = h("div", {
      class: "stage", tabindex: "0", role: "application",
      "aria-label": this.mode === "boxes"
        ? "Image: drag to draw a box, drag a box to move it, drag its handles to resize"
        : "Image: click to place a point, drag a point to move it",
    }, this.canvas);
    this.filmstrip = h("div", { class: "filmstrip", role: "toolbar", "aria-label": "Images in this assignment" });
    this.labelBox = h("fieldset", { class: "labels" });
    this.buildLabels();
    this.listTitle = h("h2", {}, `${noun === "box" ? "Boxes" : "Points"} on this image`);
    this.list = h("ol", { class: "objects", "aria-live": "polite" });
    this.undoBtn = h("button", { type: "button", onclick: () => this.undo(), title: "Ctrl+Z" }, "Undo");
    this.redoBtn = h("button", { type: "button", onclick: () => this.redo(), title: "Ctrl+Shift+Z" }, "Redo");
    this.deleteBtn = h("button", { type: "button", class: "danger", onclick: () => this.deleteSelected(),
      title: "Delete" }, `Delete ${noun}`);
    this.fitBtn = h("button", { type: "button", onclick: () => { this.fit(); this.render(); },
      title: "Double-click or F" }, "Fit");
    this.imageInfo = h("p", { class: "muted", role: "status" });
    const slider = (key, text) => h("label", { class: "slider" }, `${text} `,
      h("input", { type: "range", min: "30", max: "250", step: "5", value: "100", "aria-label": text,
        oninput: (e) => { this.look[key] = Number(e.target.value); this.render(); } }));
    this.lookBox = h("div", { class: "card look" }, h("h2", {}, "Image"), slider("brightness", "Brightness"),
      slider("contrast", "Contrast"));
    const help = this.mode === "boxes"
      ? ["Drag on the image to draw a box.", "Drag a box to move it, its handles to resize it.",
        "1–9 pick the label (and relabel the selected box).", "Delete removes the selected box.",
        "Wheel zooms at the cursor; drag outside the image, Space+drag or middle button pans; double-click fits.",
        "N / P: next / previous image.", "Ctrl+Z undo, Ctrl+Shift+Z redo, Ctrl+Enter submit."]
      : ["Click on the image to place a point; drag a point to move it.",
        "1–9 pick the label (and relabel the selected point).", "Delete removes the selected point.",
        "Wheel zooms at the cursor; drag outside the image, Space+drag or middle button pans; F fits.",
        "N / P: next / previous image.", "Ctrl+Z undo, Ctrl+Shift+Z redo, Ctrl+Enter submit."];
    root.replaceChildren(h("div", { class: "workspace" },
      h("div", {}, this.stage, this.filmstrip),
      h("aside", { class: "side" },
        h("div", { class: "card" }, this.labelBox),
        this.lookBox,
        h("div", { class: "card" }, this.listTitle, this.list, this.imageInfo,
          h("div", { class: "actions" }, this.undoBtn, this.redoBtn, this.deleteBtn, this.fitBtn)),
        h("div", { class: "card help" }, h("h2", {}, "Shortcuts"), help.map((t) => h("div", {}, t))))));
    this.ctx = this.canvas.getContext("2d");
    this.canvas.addEventListener("pointerdown", (e) => this.onDown(e));
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e));
    this.canvas.addEventListener("pointerup", (e) => this.onUp(e));
    this.canvas.addEventListener("pointercancel", (e) => this.onUp(e));
    this.canvas.addEventListener("pointerleave", () => { this.cursor = null; this.render(); });
    this.canvas.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    this.canvas.addEventListener("dblclick", (e) => this.onDblClick(e));
    this.canvas.addEventListener("auxclick", (e) => e.preventDefault());
    this.canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    new ResizeObserver(() => this.resize()).observe(this.stage);
  }

  buildLabels() {
    this.labelBox.replaceChildren(h("legend", {}, "Label (number keys)"),
      ...this.labels.map((label, i) => h("label", {},
        h("input", { type: "radio", name: "label-picker", value: String(i), checked: i === this.labelIndex,
          onchange: () => this.chooseLabel(i) }),
        h("span", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }),
        i < 9 ? h("kbd", {}, String(i + 1)) : null, ` ${label}`)));
  }

  focusStage() { this.stage.focus({ preventScroll: true }); }

  destroy() {
    document.removeEventListener("keydown", this.onKey);
    document.removeEventListener("keyup", this.onKeyUp);
  }

  // -- data -----------------------------------------------------------------------------------------

  /** Load an assignment: items [{item_id, width, height}], images: Map item_id → decoded HTMLImageElement. */
  setItems(items, images, labels) {
    if (labels && labels.join("\n") !== this.labels.join("\n")) {
      this.labels = labels;
      this.labelIndex = 0;
      this.buildLabels();
    }
    this.items = items.map((item) => ({
      id: item.item_id, width: item.width, height: item.height, img: images.get(item.item_id) || null,
      thumb: item.image_url, objects: [], undo: [], redo: [], selected: null, view: null, fitted: true,
      timeMs: 0, clicks: [], seen: false,
    }));
    // images still loading (all but the first may be) redraw the view when they arrive
    for (const item of this.items) {
      if (item.img && !item.img.complete) {
        item.img.addEventListener("load", () => { if (this.item === item) this.render(); }, { once: true });
      }
    }
    this.shownAt = performance.now();
    this.index = 0;
    this.items[0].seen = true;
    this.itemShownAt = this.shownAt;
    this.buildFilmstrip();
    this.resize(true);
    this.refreshList();
  }

  get item() { return this.items[this.index]; }

  showItem(index) {
    if (index < 0 || index >= this.items.length || index === this.index) return;
    this.accountTime();
    this.index = index;
    this.item.seen = true;
    this.drag = null;
    if (!this.item.view) this.fit();
    this.render();
    this.refreshList();
    this.buildFilmstrip();
  }

  accountTime() {
    const now = performance.now();
    if (this.item) this.item.timeMs += now - this.itemShownAt;
    this.itemShownAt = now;
  }

  /** The submission's items: every item answered (an empty list means "nothing here"). */
  answers() {
    this.accountTime();
    return this.items.map((item) => ({
      item_id: item.id,
      annotations: item.objects.map((o) => ({
        label: this.labels[o.label],
        geometry: this.mode === "boxes" ? [round2(o.x), round2(o.y), round2(o.w), round2(o.h)]
          : [round2(o.x), round2(o.y)],
      })),
      interactions: { time_on_item_ms: Math.round(item.timeMs), clicks_ms: item.clicks.slice(0, 2000) },
    }));
  }

  unseenCount() { return this.items.filter((i) => !i.seen).length; }

  // -- history --------------------------------------------------------------------------------------

  snapshot() { return { objects: this.item.objects.map((o) => ({ ...o })), selected: this.item.selected }; }

  remember() {
    const item = this.item;
    item.undo.push(this.snapshot());
    if (item.undo.length > HISTORY) item.undo.shift();
    item.redo = [];
  }

  restore(state) {
    // hidden/locked are view settings: undo and redo keep what the worker set now
    const flags = new Map(this.item.objects.map((o) => [o.id, { hidden: o.hidden, locked: o.locked }]));
    this.item.objects = state.objects.map((o) => ({ ...o, ...(flags.get(o.id) || { hidden: false, locked: false }) }));
    this.item.selected = this.item.objects.some((o) => o.id === state.selected) ? state.selected : null;
  }

  undo() {
    const item = this.item;
    if (!item || !item.undo.length) return;
    item.redo.push(this.snapshot());
    this.restore(item.undo.pop());
    this.changed();
  }

  redo() {
    const item = this.item;
    if (!item || !item.redo.length) return;
    item.undo.push(this.snapshot());
    this.restore(item.redo.pop());
    this.changed();
  }

  changed() {
    this.render();
    this.refreshList();
    this.buildFilmstrip();
    this.onChange();
  }

  // -- editing --------------------------------------------------------------------------------------

  chooseLabel(i) {
    if (i < 0 || i >= this.labels.length) return;
    this.labelIndex = i;
    const radio = this.labelBox.querySelector(`input[value="${i}"]`);
    if (radio) radio.checked = true;
    const sel = this.selectedObject();
    if (sel && sel.label !== i) {
      this.remember();
      this.selectedObject().label = i;
      this.changed();
    }
  }

  selectedObject() {
    const item = this.item;
    return item ? item.objects.find((o) => o.id === item.selected) || null : null;
  }

  select(id) {
    this.item.selected = id;
    const obj = this.selectedObject();
    if (obj) this.chooseLabelQuiet(obj.label);
    this.render();
    this.refreshList();
  }

  chooseLabelQuiet(i) {
    this.labelIndex = i;
    const radio = this.labelBox.querySelector(`input[value="${i}"]`);
    if (radio) radio.checked = true;
  }

  /** Hide/show or lock/unlock one object: a view setting, not part of the answer or of the history. */
  toggleFlag(id, flag) {
    const o = this.item.objects.find((x) => x.id === id);
    if (!o) return;
    o[flag] = !o[flag];
    if (o[flag] && this.item.selected === id) this.item.selected = null;
    this.render();
    this.refreshList();
  }

  deleteSelected() {
    const sel = this.selectedObject();
    if (!sel) return;
    this.remember();
    this.item.objects = this.item.objects.filter((o) => o.id !== sel.id);
    this.item.selected = null;
    this.changed();
  }

  // -- view -----------------------------------------------------------------------------------------

  resize(refit = false) {
    const dpr = window.devicePixelRatio || 1;
    const w = this.stage.clientWidth;
    const hgt = this.stage.clientHeight;
    if (!w || !hgt) return;
    this.cssW = w;
    this.cssH = hgt;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(hgt * dpr);
    this.dpr = dpr;
    if (this.item && (refit || !this.item.view || this.item.fitted)) this.fit();
    this.render();
  }

  fit() {
    const item = this.item;
    if (!item || !this.cssW) return;
    const scale = Math.min(this.cssW / item.width, this.cssH / item.height) * 0.96;
    item.view = { scale, tx: (this.cssW - item.width * scale) / 2, ty: (this.cssH - item.height * scale) / 2 };
    item.fitted = true;
  }

  toImage(sx, sy) {
    const v = this.item.view;
    return { x: (sx - v.tx) / v.scale, y: (sy - v.ty) / v.scale };
  }

  toScreen(x, y) {
    const v = this.item.view;
    return { x: x * v.scale + v.tx, y: y * v.scale + v.ty };
  }

  /** Client (page) coordinates of an image point: used by tests and the benchmark. */
  imageToClient(x, y) {
    const rect = this.canvas.getBoundingClientRect();
    const s = this.toScreen(x, y);
    return { x: rect.left + s.x, y: rect.top + s.y };
  }

  zoomAt(sx, sy, factor) {
    const item = this.item;
    const v = item.view;
    const fitScale = Math.min(this.cssW / item.width, this.cssH / item.height);
    const scale = clamp(v.scale * factor, fitScale * 0.2, fitScale * 40);
    const p = this.toImage(sx, sy);
    v.tx = sx - p.x * scale;
    v.ty = sy - p.y * scale;
    v.scale = scale;
    item.fitted = false;
    this.render();
  }

  // -- pointer --------------------------------------------------------------------------------------

  local(e) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  insideImage(p) { return p.x >= 0 && p.y >= 0 && p.x <= this.item.width && p.y <= this.item.height; }

  handlePoints(o) {
    const a = this.toScreen(o.x, o.y);
    const b = this.toScreen(o.x + o.w, o.y + o.h);
    const mx = (a.x + b.x) / 2;
    const my = (a.y + b.y) / 2;
    return { nw: [a.x, a.y], n: [mx, a.y], ne: [b.x, a.y], e: [b.x, my], se: [b.x, b.y], s: [mx, b.y],
      sw: [a.x, b.y], w: [a.x, my] };
  }

  hitHandle(s) {
    const sel = this.selectedObject();
    if (!sel || this.mode !== "boxes") return null;
    const pts = this.handlePoints(sel);
    for (const name of HANDLES) {
      const [hx, hy] = pts[name];
      if (Math.abs(s.x - hx) <= HIT && Math.abs(s.y - hy) <= HIT) return name;
    }
    return null;
  }

  hitObject(s) {
    const p = this.toImage(s.x, s.y);
    const tol = HIT / this.item.view.scale;
    let best = null;
    let bestScore = Infinity;
    for (const o of this.item.objects) {
      if (o.hidden || o.locked) continue; // what is hidden or locked cannot be picked
      if (this.mode === "boxes") {
        if (p.x >= o.x - tol && p.x <= o.x + o.w + tol && p.y >= o.y - tol && p.y <= o.y + o.h + tol) {
          const area = o.w * o.h; // the smallest box under the cursor wins (nested boxes stay reachable)
          if (area < bestScore) { best = o; bestScore = area; }
        }
      } else {
        const d = Math.hypot(p.x - o.x, p.y - o.y);
        if (d <= tol && d < bestScore) { best = o; bestScore = d; }
      }
    }
    return best;
  }

  onDown(e) {
    if (!this.item || !this.item.view) return;
    this.stage.focus({ preventScroll: true });
    const s = this.local(e);
    const p = this.toImage(s.x, s.y);
    this.item.clicks.push(Math.round(performance.now() - this.shownAt));
    this.canvas.setPointerCapture(e.pointerId);
    e.preventDefault();
    if (e.button === 1 || (e.button === 0 && this.spaceDown)) {
      this.drag = { kind: "pan", start: s, orig: { ...this.item.view } };
      return;
    }
    if (e.button !== 0) return;
    const handle = this.hitHandle(s);
    if (handle) {
      this.remember();
      this.drag = { kind: "resize", handle, id: this.item.selected, orig: { ...this.selectedObject() }, moved: false };
      return;
    }
    const hit = this.hitObject(s);
    if (hit) {
      this.select(hit.id);
      this.remember();
      this.drag = { kind: "move", id: hit.id, start: p, orig: { ...hit }, moved: false };
      return;
    }
    if (!this.insideImage(p)) {
      this.drag = { kind: "pan", start: s, orig: { ...this.item.view } };
      return;
    }
    if (this.mode === "boxes") {
      this.drag = { kind: "draw", start: p, cur: p };
    } else {
      this.remember();
      const point = { id: this.nextId++, label: this.labelIndex, x: clamp(p.x, 0, this.item.width),
        y: clamp(p.y, 0, this.item.height) };
      this.item.objects.push(point);
      this.item.selected = point.id;
      this.drag = { kind: "move", id: point.id, start: p, orig: { ...point }, moved: true };
      this.changed();
    }
  }

  onMove(e) {
    if (!this.item || !this.item.view) return;
    const s = this.local(e);
    const d = this.drag;
    this.cursor = s;
    if (!d) {
      this.canvas.style.cursor = this.hoverCursor(s);
      if (this.mode === "boxes") this.render();
      return;
    }
    const item = this.item;
    const p = this.toImage(s.x, s.y);
    if (d.kind === "pan") {
      item.view.tx = d.orig.tx + (s.x - d.start.x);
      item.view.ty = d.orig.ty + (s.y - d.start.y);
      item.fitted = false;
    } else if (d.kind === "draw") {
      d.cur = { x: clamp(p.x, 0, item.width), y: clamp(p.y, 0, item.height) };
    } else if (d.kind === "move") {
      const o = item.objects.find((x) => x.id === d.id);
      if (!o) return;
      const dx = p.x - d.start.x;
      const dy = p.y - d.start.y;
      if (this.mode === "boxes") {
        o.x = clamp(d.orig.x + dx, 0, item.width - o.w);
        o.y = clamp(d.orig.y + dy, 0, item.height - o.h);
      } else {
        o.x = clamp(d.orig.x + dx, 0, item.width);
        o.y = clamp(d.orig.y + dy, 0, item.height);
      }
      d.moved = true;
    } else if (d.kind === "resize") {
      const o = item.objects.find((x) => x.id === d.id);
      if (!o) return;
      let x0 = d.orig.x;
      let y0 = d.orig.y;
      let x1 = d.orig.x + d.orig.w;
      let y1 = d.orig.y + d.orig.h;
      const px = clamp(p.x, 0, item.width);
      const py = clamp(p.y, 0, item.height);
      if (d.handle.includes("w")) x0 = px;
      if (d.handle.includes("e")) x1 = px;
      if (d.handle.includes("n")) y0 = py;
      if (d.handle.includes("s")) y1 = py;
      o.x = Math.min(x0, x1);
      o.y = Math.min(y0, y1);
      o.w = Math.max(MIN_BOX / 4, Math.abs(x1 - x0));
      o.h = Math.max(MIN_BOX / 4, Math.abs(y1 - y0));
      d.moved = true;
    }
    this.render();
  }

  onUp(e) {
    const d = this.drag;
    this.drag = null;
    if (this.canvas.hasPointerCapture && this.canvas.hasPointerCapture(e.pointerId)) {
      this.canvas.releasePointerCapture(e.pointerId);
    }
    if (!d || !this.item) return;
    if (d.kind === "draw") {
      const x = Math.min(d.start.x, d.cur.x);
      const y = Math.min(d.start.y, d.cur.y);
      const w = Math.abs(d.cur.x - d.start.x);
      const hgt = Math.abs(d.cur.y - d.start.y);
      const screenSize = Math.min(w, hgt) * this.item.view.scale;
      if (w >= MIN_BOX / 2 && hgt >= MIN_BOX / 2 && screenSize >= 4) {
        this.remember();
        const box = { id: this.nextId++, label: this.labelIndex, x, y, w, h: hgt };
        this.item.objects.push(box);
        this.item.selected = box.id;
        this.changed();
      } else {
        this.item.selected = null; // a click on empty image deselects
        this.render();
        this.refreshList();
      }
    } else if (d.kind === "move" || d.kind === "resize") {
      if (!d.moved) this.item.undo.pop(); // a click that did not change anything leaves no history
      else {
        this.item.redo = [];
        this.changed();
      }
    }
    this.render();
  }

  hoverCursor(s) {
    if (this.spaceDown) return "grab";
    const handle = this.hitHandle(s);
    if (handle) return CURSORS[handle];
    if (this.hitObject(s)) return "move";
    return this.insideImage(this.toImage(s.x, s.y)) ? "crosshair" : "grab";
  }

  onWheel(e) {
    if (!this.item || !this.item.view) return;
    e.preventDefault();
    const s = this.local(e);
    const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    this.zoomAt(s.x, s.y, Math.exp(-delta * 0.0015));
  }

  onDblClick(e) {
    if (!this.item || !this.item.view) return;
    if (this.mode === "points" && this.insideImage(this.toImage(...Object.values(this.local(e))))) return;
    this.fit();
    this.render();
  }

  // -- keyboard -------------------------------------------------------------------------------------

  onKey(e) {
    if (!this.items.length) return;
    const tag = (e.target && e.target.tagName) || "";
    if ((tag === "INPUT" && e.target.type !== "radio") || tag === "TEXTAREA" || tag === "SELECT") return;
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && (e.key === "z" || e.key === "Z")) {
      e.preventDefault();
      if (e.shiftKey) this.redo(); else this.undo();
      return;
    }
    if (ctrl && (e.key === "y" || e.key === "Y")) { e.preventDefault(); this.redo(); return; }
    if (ctrl || e.altKey) return;
    if (e.code === "Space" && (e.target === this.stage || e.target === document.body)) {
      this.spaceDown = true;
      e.preventDefault();
      return;
    }
    if (/^[1-9]$/.test(e.key)) { e.preventDefault(); this.chooseLabel(Number(e.key) - 1); return; }
    if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); this.deleteSelected(); return; }
    if (e.key === "Escape") { this.select(null); return; }
    if (e.key === "f" || e.key === "F" || e.key === "0") { this.fit(); this.render(); return; }
    if (e.key === "n" || e.key === "N" || e.key === "PageDown") { e.preventDefault(); this.showItem(this.index + 1); return; }
    if (e.key === "p" || e.key === "P" || e.key === "PageUp") { e.preventDefault(); this.showItem(this.index - 1); return; }
    if (e.key === "+" || e.key === "=") { this.zoomAt(this.cssW / 2, this.cssH / 2, 1.25); return; }
    if (e.key === "-") { this.zoomAt(this.cssW / 2, this.cssH / 2, 0.8); }
  }

  // -- drawing --------------------------------------------------------------------------------------

  render() {
    const ctx = this.ctx;
    const item = this.item;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#20242c";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!item || !item.view) return;
    const { scale, tx, ty } = item.view;
    const dpr = this.dpr || 1;
    ctx.setTransform(dpr * scale, 0, 0, dpr * scale, dpr * tx, dpr * ty);
    ctx.imageSmoothingEnabled = scale < 4;
    ctx.filter = `brightness(${this.look.brightness}%) contrast(${this.look.contrast}%)`;
    if (item.img) ctx.drawImage(item.img, 0, 0, item.width, item.height);
    else { ctx.fillStyle = "#444"; ctx.fillRect(0, 0, item.width, item.height); }
    ctx.filter = "none";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (const o of item.objects) if (!o.hidden) drawObject(this, o, o.id === item.selected);
    drawCrosshair(this);
    const d = this.drag;
    if (d && d.kind === "draw") {
      const a = this.toScreen(Math.min(d.start.x, d.cur.x), Math.min(d.start.y, d.cur.y));
      const b = this.toScreen(Math.max(d.start.x, d.cur.x), Math.max(d.start.y, d.cur.y));
      ctx.setLineDash([5, 4]);
      ctx.strokeStyle = COLORS[this.labelIndex % COLORS.length];
      ctx.lineWidth = 2;
      ctx.strokeRect(a.x, a.y, b.x - a.x, b.y - a.y);
      ctx.setLineDash([]);
    }
  }

  // -- side panels ----------------------------------------------------------------------------------

  refreshList() {
    const item = this.item;
    if (!item) return;
    const noun = NOUNS[this.mode] || "point";
    this.list.replaceChildren(...item.objects.map((o, n) => {
      const text = this.mode === "boxes"
        ? `${this.labels[o.label]} — ${Math.round(o.w)}×${Math.round(o.h)} at (${Math.round(o.x)}, ${Math.round(o.y)})`
        : `${this.labels[o.label]} — (${Math.round(o.x)}, ${Math.round(o.y)})`;
      const toggle = (flag, on, off, what) => h("button", { type: "button", class: "toggle",
        "aria-pressed": o[flag] ? "true" : "false", "aria-label": `${o[flag] ? off : on} ${noun} ${n + 1}`,
        title: what, onclick: () => this.toggleFlag(o.id, flag) }, o[flag] ? off : on);
      return h("li", { class: [o.id === item.selected ? "selected" : "", o.hidden ? "hidden-object" : "",
        o.locked ? "locked-object" : ""].join(" ").trim(), dataset: { id: String(o.id) } },
        h("button", { type: "button", class: "link-dark", "aria-label": `Select ${noun} ${n + 1}: ${text}`,
          "aria-pressed": o.id === item.selected ? "true" : "false", disabled: o.hidden || o.locked,
          onclick: () => { this.select(o.id); } }, text),
        toggle("hidden", "Hide", "Show", "Hidden objects are not drawn (they are still submitted)"),
        toggle("locked", "Lock", "Unlock", "A locked object cannot be moved, resized or selected"));
    }));
    this.listTitle.textContent = `${this.mode === "boxes" ? "Boxes" : "Points"} on this image (${item.objects.length})`;
    const plural = this.mode === "boxes" ? "boxes" : "points";
    this.imageInfo.textContent = `Image ${this.index + 1} of ${this.items.length}` +
      (item.objects.length ? "" : ` — no ${plural} yet: leave it empty if there is nothing to mark`);
    this.undoBtn.disabled = !item.undo.length;
    this.redoBtn.disabled = !item.redo.length;
    this.deleteBtn.disabled = !this.selectedObject();
  }

  buildFilmstrip() {
    this.filmstrip.replaceChildren(...this.items.map((item, i) => h("button", {
      type: "button", "aria-current": i === this.index ? "true" : "false",
      "aria-label": `Image ${i + 1} of ${this.items.length}, ${item.objects.length} marked`,
      onclick: () => this.showItem(i),
    }, h("img", { src: item.thumb, alt: "" }), h("span", { class: "count" }, item.objects.length))));
  }
}
