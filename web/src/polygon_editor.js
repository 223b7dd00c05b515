// Polygons on the canvas editor: draw an outline by clicking its vertices, close it on the first vertex
// or with Enter; drag a vertex, drag an edge to insert one, Alt+click (or right-click) a vertex to delete
// it; drag inside a shape to move it; H adds a hole (or another part) to the selected shape; B, then a
// box dragged around an object, asks the server for an outline (GrabCut) to accept and edit. Zoom, pan,
// labels, hide/lock, undo/redo and the filmstrip are the canvas editor's.
//
// An object is {id, label, rings: [[{x, y}, ...], ...]} in image pixels; its rings are filled with the
// even-odd rule (a ring inside another is a hole), which is how the server reads them too.
import { h } from "./api.js";
import { CanvasEditor } from "./canvas_editor.js";
import { COLORS, ringArea } from "./editor_draw.js";

const HIT = 8; // screen px
const CLOSE = 10; // screen px from the first vertex that closes the outline
const MIN_AREA_PX = 4; // screen px² below which a closed ring is dropped as a mis-click

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const round2 = (v) => Math.round(v * 100) / 100;
const cloneRings = (rings) => rings.map((ring) => ring.map((p) => ({ x: p.x, y: p.y })));

function insideRings(rings, p) {
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

function nearestOnSegment(p, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 ? clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0, 1) : 0;
  return { x: a.x + t * dx, y: a.y + t * dy };
}

export class PolygonEditor extends CanvasEditor {
  /** options.assist(itemId, [x, y, w, h]) → Promise of rings: the box-to-polygon helper (optional). */
  constructor(root, options) {
    super(root, { ...options, mode: "polygons" });
    this.drawing = null; // {points, into: object id | null} while an outline is being clicked
    this.active = null; // {id, ring, index}: the vertex Delete removes
    this.assist = options.assist || null;
    this.boxMode = false; // B: the next drag is a box for the assist
  }

  build(root) {
    super.build(root);
    this.stage.setAttribute("aria-label",
      "Image: click to add vertices of a polygon, click the first vertex or press Enter to close it; " +
      "drag a vertex to move it, drag an edge to add one, drag inside a shape to move it");
    this.deleteBtn.textContent = "Delete shape";
    this.holeBtn = h("button", { type: "button", onclick: () => this.startHole(),
      title: "H: draw a hole (or another part) in the selected shape" }, "Add hole");
    this.boxBtn = h("button", { type: "button", onclick: () => this.toggleBoxMode(),
      title: "B: drag a box around an object to get an outline to edit" }, "Box → polygon");
    this.deleteBtn.after(this.holeBtn, this.boxBtn);
    const help = ["Click on the image to add vertices; click the first vertex or press Enter to close.",
      "Backspace removes the last vertex while drawing; Escape cancels.",
      "H, then click: a hole (or another part) in the selected shape.",
      "B, then drag a box around an object: a suggested outline to accept and edit.",
      "Drag a vertex to move it; drag an edge to insert a vertex; Alt+click or right-click a vertex to delete it.",
      "Drag inside a shape to move it. 1–9 pick the label (and relabel the selected shape).",
      "Delete removes the clicked vertex, or the selected shape.",
      "Wheel zooms at the cursor; Space+drag or middle button pans; F fits.",
      "N / P: next / previous image.", "Ctrl+Z undo, Ctrl+Shift+Z redo, Ctrl+Enter submit."];
    const helpCard = root.querySelector(".help");
    helpCard.replaceChildren(h("h2", {}, "Shortcuts"), ...help.map((t) => h("div", {}, t)));
  }

  // -- data -----------------------------------------------------------------------------------------

  answers() {
    const out = super.answers();
    out.forEach((answer, n) => {
      answer.annotations = this.items[n].objects.map((o) => ({
        label: this.labels[o.label],
        geometry: o.rings.map((ring) => ring.flatMap((p) => [round2(p.x), round2(p.y)])),
      }));
    });
    return out;
  }

  /** Load objects (tests, a resumed draft): [{label, geometry: [[x0, y0, ...], ...]}]. */
  setObjects(objects) {
    this.item.objects = objects.map((o) => ({ id: this.nextId++, label: Math.max(0, this.labels.indexOf(o.label)),
      rings: o.geometry.map((ring) => Array.from({ length: ring.length / 2 }, (_, k) => ({ x: ring[2 * k], y: ring[2 * k + 1] }))) }));
    this.changed();
  }

  beforeSubmit() {
    return this.drawing ? "Finish the polygon you are drawing (click its first vertex or press Enter) or press Escape." : null;
  }

  snapshot() {
    return { objects: this.item.objects.map((o) => ({ ...o, rings: cloneRings(o.rings) })), selected: this.item.selected };
  }

  restore(state) {
    super.restore({ ...state, objects: state.objects.map((o) => ({ ...o, rings: cloneRings(o.rings) })) });
    this.active = null;
  }

  showItem(index) {
    this.drawing = null;
    this.active = null;
    super.showItem(index);
  }

  // -- drawing outlines -----------------------------------------------------------------------------

  startHole() {
    const sel = this.selectedObject();
    if (!sel || this.drawing) return;
    this.drawing = { points: [], into: sel.id };
    this.render();
  }

  addVertex(p) {
    const d = this.drawing;
    const first = d.points[0];
    if (first && d.points.length >= 3) {
      const a = this.toScreen(first.x, first.y);
      const s = this.toScreen(p.x, p.y);
      if (Math.hypot(a.x - s.x, a.y - s.y) <= CLOSE) { this.finishDrawing(); return; }
    }
    const last = d.points[d.points.length - 1];
    if (last && Math.hypot(last.x - p.x, last.y - p.y) * this.item.view.scale < 1) return; // a double click
    d.points.push({ x: clamp(p.x, 0, this.item.width), y: clamp(p.y, 0, this.item.height) });
    this.render();
  }

  finishDrawing() {
    const d = this.drawing;
    if (!d) return;
    this.drawing = null;
    const scale = this.item.view ? this.item.view.scale : 1;
    if (d.points.length < 3 || Math.abs(ringArea(d.points)) * scale * scale < MIN_AREA_PX) { this.render(); return; }
    this.remember();
    const target = d.into !== null ? this.item.objects.find((o) => o.id === d.into) : null;
    if (target) target.rings = [...cloneRings(target.rings), d.points];
    else {
      const shape = { id: this.nextId++, label: this.labelIndex, rings: [d.points] };
      this.item.objects.push(shape);
      this.item.selected = shape.id;
    }
    this.changed();
  }

  // -- the box-to-polygon assist ------------------------------------------------------------------

  toggleBoxMode() {
    this.boxMode = Boolean(this.assist) && !this.boxMode && !this.drawing;
    if (this.boxBtn) this.boxBtn.setAttribute("aria-pressed", this.boxMode ? "true" : "false");
    this.render();
  }

  async askAssist(box) {
    const item = this.item;
    this.imageInfo.textContent = "Finding the outline…";
    let rings;
    try {
      rings = await this.assist(item.id, box.map(round2));
    } catch (err) {
      this.imageInfo.textContent = `No outline: ${err.message}`;
      return;
    }
    if (this.item !== item || !rings.length) { this.refreshList(); return; }
    this.remember();
    const shape = { id: this.nextId++, label: this.labelIndex,
      rings: rings.map((ring) => Array.from({ length: ring.length / 2 }, (_, k) => ({ x: ring[2 * k], y: ring[2 * k + 1] }))) };
    item.objects.push(shape);
    item.selected = shape.id;
    this.changed();
    window.dispatchEvent(new CustomEvent("tilework:assisted", { detail: { id: shape.id } }));
  }

  // -- picking --------------------------------------------------------------------------------------

  hitObject(s) {
    const p = this.toImage(s.x, s.y);
    let best = null;
    let bestArea = Infinity;
    for (const o of this.item.objects) {
      if (o.hidden || o.locked || !insideRings(o.rings, p)) continue;
      const area = Math.abs(ringArea(o.rings[0])); // the smallest shape under the cursor wins
      if (area < bestArea) { best = o; bestArea = area; }
    }
    return best;
  }

  /** A vertex or an edge of the selected shape under the pointer. */
  hitPart(s) {
    const sel = this.selectedObject();
    if (!sel) return null;
    for (let r = 0; r < sel.rings.length; r++) {
      const ring = sel.rings[r];
      for (let i = 0; i < ring.length; i++) {
        const v = this.toScreen(ring[i].x, ring[i].y);
        if (Math.hypot(v.x - s.x, v.y - s.y) <= HIT) return { kind: "vertex", ring: r, index: i };
      }
    }
    const p = this.toImage(s.x, s.y);
    for (let r = 0; r < sel.rings.length; r++) {
      const ring = sel.rings[r];
      for (let i = 0; i < ring.length; i++) {
        const q = nearestOnSegment(p, ring[i], ring[(i + 1) % ring.length]);
        const sq = this.toScreen(q.x, q.y);
        if (Math.hypot(sq.x - s.x, sq.y - s.y) <= HIT) return { kind: "edge", ring: r, index: i + 1, at: q };
      }
    }
    return null;
  }

  deleteVertex(id, r, index) {
    const o = this.item.objects.find((x) => x.id === id);
    if (!o) return;
    this.remember();
    const rings = cloneRings(o.rings);
    rings[r].splice(index, 1);
    o.rings = rings.filter((ring) => ring.length >= 3); // a ring of two vertices is gone
    if (!o.rings.length) {
      this.item.objects = this.item.objects.filter((x) => x.id !== id);
      this.item.selected = null;
    }
    this.active = null;
    this.changed();
  }

  deleteSelected() {
    if (this.active) { this.deleteVertex(this.active.id, this.active.ring, this.active.index); return; }
    super.deleteSelected();
  }

  // -- pointer --------------------------------------------------------------------------------------

  onDown(e) {
    if (!this.item || !this.item.view) return;
    const s = this.local(e);
    const p = this.toImage(s.x, s.y);
    const panning = e.button === 1 || (e.button === 0 && this.spaceDown);
    if (this.drawing && !panning && e.button === 0) {
      this.stage.focus({ preventScroll: true });
      this.item.clicks.push(Math.round(performance.now() - this.shownAt));
      e.preventDefault();
      this.addVertex(p);
      return;
    }
    if (!panning && (e.button === 0 || e.button === 2)) {
      const part = this.hitPart(s);
      if (part && part.kind === "vertex" && (e.altKey || e.button === 2)) {
        e.preventDefault();
        this.deleteVertex(this.item.selected, part.ring, part.index);
        return;
      }
      if (part && e.button === 0) {
        e.preventDefault();
        this.stage.focus({ preventScroll: true });
        this.canvas.setPointerCapture(e.pointerId);
        this.item.clicks.push(Math.round(performance.now() - this.shownAt));
        this.remember();
        const o = this.selectedObject();
        o.rings = cloneRings(o.rings);
        if (part.kind === "edge") o.rings[part.ring].splice(part.index, 0, { ...part.at });
        this.active = { id: o.id, ring: part.ring, index: part.index };
        this.drag = { kind: "vertex", id: o.id, ring: part.ring, index: part.index, moved: part.kind === "edge" };
        this.render();
        return;
      }
      if (e.button === 2) return;
    }
    this.active = null;
    if (this.boxMode && !panning && e.button === 0 && this.insideImage(p)) {
      e.preventDefault();
      this.canvas.setPointerCapture(e.pointerId);
      this.drag = { kind: "assist", start: p, cur: p };
      return;
    }
    const hit = panning ? null : this.hitObject(s);
    if (hit) {
      super.onDown(e); // select and move (the canvas editor's "move" drag)
      const d = this.drag;
      if (d && d.kind === "move") d.orig = { ...d.orig, rings: cloneRings(hit.rings) };
      return;
    }
    if (!panning && e.button === 0 && this.insideImage(p)) {
      this.stage.focus({ preventScroll: true });
      this.item.clicks.push(Math.round(performance.now() - this.shownAt));
      e.preventDefault();
      this.item.selected = null;
      this.drawing = { points: [], into: null };
      this.addVertex(p);
      this.refreshList();
      return;
    }
    super.onDown(e); // pan
  }

  onMove(e) {
    if (!this.item || !this.item.view) return;
    const d = this.drag;
    const s = this.local(e);
    if (d && d.kind === "assist") {
      const p = this.toImage(s.x, s.y);
      d.cur = { x: clamp(p.x, 0, this.item.width), y: clamp(p.y, 0, this.item.height) };
      this.render();
      return;
    }
    if (d && d.kind === "vertex") {
      const o = this.item.objects.find((x) => x.id === d.id);
      const p = this.toImage(s.x, s.y);
      if (o) o.rings[d.ring][d.index] = { x: clamp(p.x, 0, this.item.width), y: clamp(p.y, 0, this.item.height) };
      d.moved = true;
      this.render();
      return;
    }
    if (d && d.kind === "move") {
      const o = this.item.objects.find((x) => x.id === d.id);
      if (!o) return;
      const p = this.toImage(s.x, s.y);
      const pts = d.orig.rings.flat();
      // keep the whole shape inside the image
      const dx = clamp(p.x - d.start.x, -Math.min(...pts.map((q) => q.x)), this.item.width - Math.max(...pts.map((q) => q.x)));
      const dy = clamp(p.y - d.start.y, -Math.min(...pts.map((q) => q.y)), this.item.height - Math.max(...pts.map((q) => q.y)));
      o.rings = d.orig.rings.map((ring) => ring.map((q) => ({ x: q.x + dx, y: q.y + dy })));
      d.moved = true;
      this.cursor = s;
      this.render();
      return;
    }
    super.onMove(e);
    if (this.drawing) this.render();
  }

  onUp(e) {
    const d = this.drag;
    if (d && d.kind === "assist") {
      this.drag = null;
      if (this.canvas.hasPointerCapture && this.canvas.hasPointerCapture(e.pointerId)) {
        this.canvas.releasePointerCapture(e.pointerId);
      }
      this.toggleBoxMode();
      const x = Math.min(d.start.x, d.cur.x);
      const y = Math.min(d.start.y, d.cur.y);
      this.askAssist([x, y, Math.abs(d.cur.x - d.start.x), Math.abs(d.cur.y - d.start.y)]);
      return;
    }
    if (d && d.kind === "vertex") {
      this.drag = null;
      if (this.canvas.hasPointerCapture && this.canvas.hasPointerCapture(e.pointerId)) {
        this.canvas.releasePointerCapture(e.pointerId);
      }
      if (!d.moved) this.item.undo.pop(); // clicking a vertex only picks it (for Delete)
      else { this.item.redo = []; this.changed(); }
      this.render();
      return;
    }
    super.onUp(e);
  }

  hoverCursor(s) {
    if (this.spaceDown) return "grab";
    if (this.drawing || this.boxMode) return "crosshair";
    const part = this.hitPart(s);
    if (part) return part.kind === "vertex" ? "move" : "copy";
    if (this.hitObject(s)) return "move";
    return this.insideImage(this.toImage(s.x, s.y)) ? "crosshair" : "grab";
  }

  onDblClick(e) {
    if (!this.item || !this.item.view) return;
    const s = this.local(e);
    if (this.drawing || this.insideImage(this.toImage(s.x, s.y))) return; // double clicks add vertices
    super.onDblClick(e);
  }

  // -- keyboard -------------------------------------------------------------------------------------

  onKey(e) {
    if (!this.items.length) return;
    const tag = (e.target && e.target.tagName) || "";
    if ((tag === "INPUT" && e.target.type !== "radio") || tag === "TEXTAREA" || tag === "SELECT") return;
    const plain = !(e.ctrlKey || e.metaKey || e.altKey);
    if (this.drawing && plain) {
      if (e.key === "Enter") { e.preventDefault(); this.finishDrawing(); return; }
      if (e.key === "Escape") { e.preventDefault(); this.drawing = null; this.render(); return; }
      if (e.key === "Backspace" || e.key === "Delete") {
        e.preventDefault();
        this.drawing.points.pop();
        if (!this.drawing.points.length && this.drawing.into === null) this.drawing = null;
        this.render();
        return;
      }
    }
    if (plain && (e.key === "h" || e.key === "H")) { e.preventDefault(); this.startHole(); return; }
    if (plain && (e.key === "b" || e.key === "B")) { e.preventDefault(); this.toggleBoxMode(); return; }
    if (plain && e.key === "Escape" && this.boxMode) { this.toggleBoxMode(); return; }
    if (plain && e.key === "Escape") this.active = null;
    super.onKey(e);
  }

  // -- drawing --------------------------------------------------------------------------------------

  render() {
    super.render();
    const box = this.drag && this.drag.kind === "assist" ? this.drag : null;
    if (box && this.item && this.item.view) {
      const a = this.toScreen(Math.min(box.start.x, box.cur.x), Math.min(box.start.y, box.cur.y));
      const b = this.toScreen(Math.max(box.start.x, box.cur.x), Math.max(box.start.y, box.cur.y));
      this.ctx.save();
      this.ctx.setLineDash([5, 4]);
      this.ctx.strokeStyle = "#fff";
      this.ctx.lineWidth = 2;
      this.ctx.strokeRect(a.x, a.y, b.x - a.x, b.y - a.y);
      this.ctx.restore();
    }
    const d = this.drawing;
    if (!d || !this.item || !this.item.view) return;
    const ctx = this.ctx;
    const color = COLORS[this.labelIndex % COLORS.length];
    const pts = d.points.map((p) => this.toScreen(p.x, p.y));
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
    if (this.cursor && pts.length) {
      ctx.setLineDash([5, 4]);
      ctx.lineTo(this.cursor.x, this.cursor.y);
    }
    ctx.stroke();
    ctx.setLineDash([]);
    pts.forEach((p, i) => {
      ctx.fillStyle = i === 0 && pts.length >= 3 ? "#fff" : color;
      ctx.fillRect(p.x - 4, p.y - 4, 8, 8);
    });
    ctx.restore();
  }

  // -- side panel -----------------------------------------------------------------------------------

  refreshList() {
    super.refreshList();
    const item = this.item;
    if (!item) return;
    const entries = this.list.querySelectorAll("li");
    item.objects.forEach((o, n) => {
      const vertices = o.rings.reduce((sum, ring) => sum + ring.length, 0);
      const text = `${this.labels[o.label]} — ${vertices} vertices` + (o.rings.length > 1 ? `, ${o.rings.length} rings` : "");
      const button = entries[n] && entries[n].querySelector("button.link-dark");
      if (button) {
        button.textContent = text;
        button.setAttribute("aria-label", `Select shape ${n + 1}: ${text}`);
      }
    });
    this.listTitle.textContent = `Shapes on this image (${item.objects.length})`;
    this.imageInfo.textContent = `Image ${this.index + 1} of ${this.items.length}` +
      (item.objects.length ? "" : " — no shapes yet: leave it empty if there is nothing to mark");
    if (this.holeBtn) this.holeBtn.disabled = !this.selectedObject();
    if (this.boxBtn) this.boxBtn.hidden = !this.assist;
  }
}
