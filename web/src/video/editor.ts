// The video editor of the annotation page (job types video_boxes and video_polygons): the frame-exact
// player with box or polygon tracks drawn over it. Drawing a box (or clicking an outline's vertices) on
// a frame starts a track with the picked label; moving or resizing a box, or dragging an outline or
// one of its vertices, sets a keyframe on the frame shown; frames between keyframes show the shared
// interpolation (dashed). Geometry is kept and submitted in the video's original pixels (served frame pixels
// divided by the segment's scale).
import { COLORS } from "../editor/geometry.js";
import type { AssignmentItem, ItemAnswer, PageEditor, VideoSegment } from "../types.js";
import { VideoPanel } from "./panel.js";
import { Player } from "./player.js";
import type { TimelineMark } from "./player.js";
import { canClose, insideRings, moveVertex, ringArea, ringFromPoints, strokeDraft, strokeRings, translateRings,
  vertexAt } from "./outline.js";
import type { Pt, VertexRef } from "./outline.js";
import { boxAt, clampBox, copyToNext, keyframeAt, mergeTracks, outsideRanges, removeKeyframe, setKeyframe,
  splitTrack, toAnswer, toggleOccluded, toggleOutside } from "./tracks.js";
import type { Geometry, Track } from "./tracks.js";

type Drag = { kind: "draw"; start: Pt; now: Pt } |
  { kind: "move"; id: number; start: Pt; orig: Geometry; moved: boolean } |
  { kind: "resize"; id: number; corner: number; orig: number[] } |
  { kind: "vertex"; id: number; v: VertexRef; orig: number[][] };

const HANDLE_PX = 8; // pick tolerance of a corner, CSS pixels
const MIN_BOX_PX = 4; // a drawn box smaller than this (CSS pixels) is a click, not a box

export class VideoEditor implements PageEditor {
  readonly player = new Player();
  readonly panel: VideoPanel;
  labels: string[] = [];
  labelIndex = 0;
  tracks: Track[] = [];
  selectedId: number | null = null;
  itemId = "";
  seg: VideoSegment | null = null;
  /** Original pixel size of the video (geometry's space). */
  width = 0;
  height = 0;
  private nextId = 1;
  private drag: Drag | null = null;
  private live: { id: number | null; geometry: Geometry } | null = null; // the shape being dragged
  /** video_polygons: the outline being drawn (its vertices so far) and where the pointer is. */
  draft: Pt[] = [];
  private pointer: Pt | null = null;
  private shownAt = performance.now();
  private readonly undoStack: string[] = [];
  private readonly keydown = (e: KeyboardEvent) => this.onKey(e);

  constructor(root: HTMLElement, private readonly onChange: () => void = () => {},
    readonly type: "box" | "polygon" = "box") {
    this.panel = new VideoPanel(this);
    this.panel.build(root, this.player.root);
    this.player.onFrame = () => this.render();
    this.player.onError = (message) => { this.panel.info.textContent = `Could not show the frame: ${message}`; };
    const ov = this.player.overlay;
    ov.addEventListener("pointerdown", (e) => this.onDown(e));
    ov.addEventListener("pointermove", (e) => this.onMove(e));
    ov.addEventListener("pointerup", (e) => this.onUp(e));
    ov.addEventListener("pointercancel", () => { this.drag = null; this.live = null; this.render(); });
    ov.addEventListener("pointerleave", () => { this.pointer = null; if (this.draft.length) this.render(); });
    document.addEventListener("keydown", this.keydown);
  }

  get end(): number { return this.seg ? this.seg.end_frame : 0; }

  setItems(items: AssignmentItem[], _images: Map<string, HTMLImageElement>, labels: string[]): void {
    const item = items[0];
    if (!item || !item.video) throw new Error("a video assignment has one item with a video segment");
    this.itemId = item.item_id;
    this.seg = item.video;
    this.width = item.width;
    this.height = item.height;
    this.labels = labels;
    this.labelIndex = 0;
    this.tracks = [];
    this.selectedId = null;
    this.nextId = 1;
    this.undoStack.length = 0;
    this.draft = [];
    this.shownAt = performance.now();
    this.panel.buildLabels();
    this.player.load(item.video);
    this.render();
  }

  answers(): ItemAnswer[] {
    return [{ item_id: this.itemId, tracks: toAnswer(this.tracks),
      interactions: { time_on_item_ms: Math.round(performance.now() - this.shownAt) } }];
  }

  beforeSubmit(): string | null {
    this.player.pause();
    return null;
  }

  focusStage(): void { this.player.overlay.focus({ preventScroll: true }); }

  destroy(): void {
    document.removeEventListener("keydown", this.keydown);
    this.player.destroy();
  }

  // -- coordinates --------------------------------------------------------------------------------

  /** CSS pixels of the view per original pixel. */
  private get k(): number { return this.player.zoom * (this.seg ? this.seg.scale : 1); }

  /** Where original point (x, y) is on the page (client pixels): for tests. */
  origToClient(x: number, y: number): Pt {
    const r = this.player.overlay.getBoundingClientRect();
    return { x: r.left + x * this.k, y: r.top + y * this.k };
  }

  private toOrig(e: PointerEvent): Pt {
    const r = this.player.overlay.getBoundingClientRect();
    return { x: (e.clientX - r.left) / this.k, y: (e.clientY - r.top) / this.k };
  }

  // -- tracks -------------------------------------------------------------------------------------

  selectedTrack(): Track | undefined { return this.tracks.find((t) => t.id === this.selectedId); }

  /** The boxes (or outlines' rings) on the frame shown (original pixels), for tests and the overlay. */
  shownBoxes(): { id: number; label: string; geometry: Geometry; keyframe: boolean; occluded: boolean }[] {
    const out = [];
    for (const t of this.tracks) {
      const box = boxAt(t, this.player.frame, this.end);
      if (box) out.push({ id: t.id, label: t.label, geometry: box.geometry, keyframe: box.keyframe, occluded: box.occluded });
    }
    return out;
  }

  private remember(): void {
    this.undoStack.push(JSON.stringify({ tracks: this.tracks, nextId: this.nextId, selectedId: this.selectedId }));
    if (this.undoStack.length > 200) this.undoStack.shift();
  }

  undo(): void {
    const last = this.undoStack.pop();
    if (!last) return;
    const s = JSON.parse(last) as { tracks: Track[]; nextId: number; selectedId: number | null };
    Object.assign(this, { tracks: s.tracks, nextId: s.nextId, selectedId: s.selectedId });
    this.changed();
  }

  private changed(): void {
    this.render();
    this.onChange();
  }

  select(id: number | null): void {
    this.selectedId = id;
    const t = this.selectedTrack();
    if (t) {
      const i = this.labels.indexOf(t.label);
      if (i >= 0) { this.labelIndex = i; this.panel.showLabel(i); }
    }
    this.render();
  }

  chooseLabel(i: number): void {
    if (i < 0 || i >= this.labels.length) return;
    this.labelIndex = i;
    this.panel.showLabel(i);
    const t = this.selectedTrack();
    if (t && t.label !== this.labels[i]) this.relabel(t.id, this.labels[i]);
  }

  relabel(id: number, label: string): void {
    const t = this.tracks.find((x) => x.id === id);
    if (!t || !this.labels.includes(label)) return;
    this.remember();
    t.label = label;
    this.changed();
  }

  deleteTrack(id: number | null = this.selectedId): void {
    if (id === null || !this.tracks.some((t) => t.id === id)) return;
    this.remember();
    this.tracks = this.tracks.filter((t) => t.id !== id);
    if (this.selectedId === id) this.selectedId = null;
    this.changed();
  }

  /** Delete the selected track's keyframe on this frame (the track goes when it was its last). */
  deleteKeyframe(): void {
    const t = this.selectedTrack();
    if (!t || !keyframeAt(t, this.player.frame)) return;
    this.remember();
    removeKeyframe(t, this.player.frame);
    if (!t.keyframes.length || t.keyframes.every((k) => k.outside)) {
      this.tracks = this.tracks.filter((x) => x !== t);
      this.selectedId = null;
    }
    this.changed();
  }

  toggleOutside(): void {
    const t = this.selectedTrack();
    if (!t) return;
    this.remember();
    toggleOutside(t, this.player.frame, this.end);
    this.changed();
  }

  toggleOccluded(): void {
    const t = this.selectedTrack();
    if (!t) return;
    this.remember();
    if (!toggleOccluded(t, this.player.frame, this.end)) { this.undoStack.pop(); return; }
    this.changed();
  }

  /** Cut the selected track here: from this frame on it is a new track (selected). */
  split(): void {
    const t = this.selectedTrack();
    if (!t) return;
    this.remember();
    const after = splitTrack(t, this.player.frame, this.end, this.nextId);
    if (!after) { this.undoStack.pop(); return; }
    this.nextId += 1;
    this.tracks.splice(this.tracks.indexOf(t) + 1, 0, after);
    this.selectedId = after.id;
    this.changed();
  }

  /** Join the selected track and track `id` (one object under two ids): see mergeTracks. */
  mergeWith(id: number): void {
    const t = this.selectedTrack();
    const other = this.tracks.find((x) => x.id === id);
    if (!t || !other || other === t) return;
    this.remember();
    mergeTracks(t, other);
    this.tracks = this.tracks.filter((x) => x !== other);
    this.selectedId = t.id;
    this.changed();
  }

  copyToNext(): void {
    const t = this.selectedTrack();
    if (!t) return;
    this.remember();
    if (!copyToNext(t, this.player.frame, this.end)) { this.undoStack.pop(); return; }
    this.changed();
    this.player.step(1);
  }

  // -- pointer ------------------------------------------------------------------------------------

  /** The corner (0 tl, 1 tr, 2 br, 3 bl) of the selected box under p, or -1 (always -1 for outlines). */
  private cornerAt(p: Pt): number {
    const t = this.selectedTrack();
    const box = t && this.type === "box" ? boxAt(t, this.player.frame, this.end) : null;
    if (!box) return -1;
    const [x1, y1, x2, y2] = box.geometry as number[];
    const tol = HANDLE_PX / this.k;
    const corners = [[x1, y1], [x2, y1], [x2, y2], [x1, y2]];
    return corners.findIndex(([x, y]) => Math.abs(p.x - x) <= tol && Math.abs(p.y - y) <= tol);
  }

  /** The vertex of the selected outline under p on this frame, or null. */
  private vertexUnder(p: Pt): { track: Track; v: VertexRef; rings: number[][] } | null {
    const t = this.selectedTrack();
    const shape = t && this.type === "polygon" ? boxAt(t, this.player.frame, this.end) : null;
    if (!t || !shape) return null;
    const rings = shape.geometry as number[][];
    const v = vertexAt(rings, p, HANDLE_PX / this.k);
    return v ? { track: t, v, rings } : null;
  }

  /** The smallest box (or outline) under p on this frame (nested ones stay reachable). */
  private trackAt(p: Pt): Track | null {
    let best: Track | null = null;
    let bestArea = Infinity;
    for (const t of this.tracks) {
      const shape = boxAt(t, this.player.frame, this.end);
      if (!shape) continue;
      let area = Infinity;
      if (this.type === "polygon") {
        const rings = shape.geometry as number[][];
        if (insideRings(rings, p)) area = rings.reduce((sum, r) => sum + ringArea(r), 0);
      } else {
        const [x1, y1, x2, y2] = shape.geometry as number[];
        if (p.x >= x1 && p.x <= x2 && p.y >= y1 && p.y <= y2) area = (x2 - x1) * (y2 - y1);
      }
      if (area < bestArea) { best = t; bestArea = area; }
    }
    return best;
  }

  private onDown(e: PointerEvent): void {
    if (e.button !== 0 || !this.seg || this.player.frame < 0) return;
    this.player.pause();
    this.player.overlay.setPointerCapture(e.pointerId);
    const p = this.toOrig(e);
    if (this.type === "polygon" && this.draft.length) { this.addVertex(p); return; }
    const corner = this.cornerAt(p);
    const sel = this.selectedTrack();
    if (corner >= 0 && sel) {
      const box = boxAt(sel, this.player.frame, this.end);
      if (box) { this.drag = { kind: "resize", id: sel.id, corner, orig: box.geometry as number[] }; return; }
    }
    const vertex = this.vertexUnder(p);
    if (vertex) { this.drag = { kind: "vertex", id: vertex.track.id, v: vertex.v, orig: vertex.rings }; return; }
    const hit = this.trackAt(p);
    if (hit) {
      this.select(hit.id);
      const box = boxAt(hit, this.player.frame, this.end);
      if (box) this.drag = { kind: "move", id: hit.id, start: p, orig: box.geometry, moved: false };
      return;
    }
    const hadSelection = this.selectedId !== null;
    this.select(null);
    if (this.type === "polygon") { // a click beside the selected outline only deselects it
      if (!hadSelection) this.addVertex(p);
      return;
    }
    this.drag = { kind: "draw", start: p, now: p };
  }

  /** A vertex of the outline being drawn (the first one again closes it). */
  private addVertex(p: Pt): void {
    const first = this.draft[0];
    if (first && this.draft.length >= 3 && Math.hypot(p.x - first.x, p.y - first.y) * this.k <= HANDLE_PX) {
      this.closeDraft();
      return;
    }
    this.draft.push({ x: Math.min(this.width, Math.max(0, p.x)), y: Math.min(this.height, Math.max(0, p.y)) });
    this.render();
  }

  /** Close the outline being drawn: a new track with the picked label and a keyframe on this frame. */
  closeDraft(): void {
    if (!canClose(this.draft)) return;
    this.remember();
    const track: Track = { id: this.nextId++, label: this.labels[this.labelIndex], keyframes: [] };
    const ring = ringFromPoints(this.draft, this.width, this.height);
    setKeyframe(track, { frame: this.player.frame, geometry: [ring], outside: false, occluded: false });
    this.tracks.push(track);
    this.selectedId = track.id;
    this.draft = [];
    this.changed();
  }

  private onMove(e: PointerEvent): void {
    const d = this.drag;
    if (!d) { this.hover(e); return; }
    const p = this.toOrig(e);
    const W = this.width;
    const H = this.height;
    if (d.kind === "draw") {
      d.now = p;
      this.live = { id: null, geometry: clampBox([d.start.x, d.start.y, p.x, p.y], W, H) };
    } else if (d.kind === "vertex") {
      this.live = { id: d.id, geometry: moveVertex(d.orig, d.v, p, W, H) };
    } else if (d.kind === "move") {
      d.moved = d.moved || Math.abs(p.x - d.start.x) * this.k > 1 || Math.abs(p.y - d.start.y) * this.k > 1;
      if (!d.moved) return;
      if (this.type === "polygon") {
        this.live = { id: d.id, geometry: translateRings(d.orig as number[][], p.x - d.start.x, p.y - d.start.y, W, H) };
      } else {
        const [x1, y1, x2, y2] = d.orig as number[];
        const dx = Math.min(W - x2, Math.max(-x1, p.x - d.start.x));
        const dy = Math.min(H - y2, Math.max(-y1, p.y - d.start.y));
        this.live = { id: d.id, geometry: [x1 + dx, y1 + dy, x2 + dx, y2 + dy] };
      }
    } else {
      const g = d.orig.slice();
      const xs = [0, 2, 2, 0][d.corner];
      const ys = [1, 1, 3, 3][d.corner];
      g[xs] = p.x;
      g[ys] = p.y;
      this.live = { id: d.id, geometry: clampBox(g, W, H) };
    }
    this.render();
  }

  private hover(e: PointerEvent): void {
    const p = this.toOrig(e);
    if (this.draft.length) { this.pointer = p; this.render(); }
    this.player.overlay.style.cursor = this.cornerAt(p) >= 0 ? "nwse-resize"
      : this.vertexUnder(p) ? "grab" : this.trackAt(p) && !this.draft.length ? "move" : "crosshair";
  }

  private onUp(e: PointerEvent): void {
    const d = this.drag;
    const live = this.live;
    this.drag = null;
    this.live = null;
    if (this.player.overlay.hasPointerCapture(e.pointerId)) this.player.overlay.releasePointerCapture(e.pointerId);
    if (!d || !live) { this.render(); return; }
    const frame = this.player.frame;
    if (d.kind === "draw") {
      const [x1, y1, x2, y2] = live.geometry as number[];
      if ((x2 - x1) * this.k < MIN_BOX_PX || (y2 - y1) * this.k < MIN_BOX_PX) { this.render(); return; }
      this.remember();
      const track: Track = { id: this.nextId++, label: this.labels[this.labelIndex], keyframes: [] };
      setKeyframe(track, { frame, geometry: live.geometry, outside: false, occluded: false });
      this.tracks.push(track);
      this.selectedId = track.id;
    } else {
      const t = this.tracks.find((x) => x.id === d.id);
      if (!t) return;
      this.remember();
      const occluded = boxAt(t, frame, this.end)?.occluded ?? false;
      const geometry = this.type === "polygon" ? live.geometry
        : clampBox(live.geometry as number[], this.width, this.height);
      setKeyframe(t, { frame, geometry, outside: false, occluded });
    }
    this.changed();
  }

  // -- keys ---------------------------------------------------------------------------------------

  private onKey(e: KeyboardEvent): void {
    const tag = e.target instanceof Element ? e.target.tagName : "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || e.altKey) return;
    if (e.ctrlKey || e.metaKey) {
      if (e.key === "z" || e.key === "Z") { e.preventDefault(); this.undo(); }
      return;
    }
    const p = this.player;
    const big = e.shiftKey ? 10 : 1;
    const keys: Record<string, () => void> = {
      " ": () => p.toggle(),
      ".": () => p.step(big), ArrowRight: () => p.step(big),
      ",": () => p.step(-big), ArrowLeft: () => p.step(-big),
      ">": () => p.step(10), "<": () => p.step(-10),
      Home: () => p.go(p.first), End: () => p.go(p.last),
      o: () => this.toggleOutside(), O: () => this.toggleOutside(),
      q: () => this.toggleOccluded(), Q: () => this.toggleOccluded(),
      s: () => this.split(), S: () => this.split(),
      c: () => this.copyToNext(), C: () => this.copyToNext(),
      Delete: () => this.deleteKeyframe(), Backspace: () => this.deleteKeyframe(),
      Escape: () => this.select(null),
    };
    if (this.draft.length) { // an outline being drawn: Enter closes it, Escape drops it, Backspace its last vertex
      Object.assign(keys, {
        Enter: () => this.closeDraft(),
        Escape: () => { this.draft = []; this.render(); },
        Backspace: () => { this.draft.pop(); this.render(); },
      });
    }
    const action = keys[e.key];
    if (action) {
      if (tag === "BUTTON" && (e.key === " " || e.key === "Enter")) return; // the button's own click
      e.preventDefault();
      action();
    } else if (/^[1-9]$/.test(e.key)) {
      e.preventDefault();
      this.chooseLabel(Number(e.key) - 1);
    }
  }

  // -- drawing ------------------------------------------------------------------------------------

  render(): void {
    this.draw();
    this.panel.refresh();
    const marks: TimelineMark[] = [];
    for (const t of this.tracks) {
      const color = COLORS[Math.max(0, this.labels.indexOf(t.label)) % COLORS.length];
      const selected = t.id === this.selectedId;
      for (const k of t.keyframes) if (!k.outside) marks.push({ frame: k.frame, color, selected });
      for (const [from, to] of outsideRanges(t, this.end)) marks.push({ frame: from, to, color, selected });
    }
    this.player.setMarks(marks);
  }

  private draw(): void {
    const ov = this.player.overlay;
    const ctx = ov.getContext("2d");
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, ov.width, ov.height);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const k = this.k;
    const frame = this.player.frame;
    const rect = (g: number[], color: string, dashed: boolean, width: number) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.setLineDash(dashed ? [6, 4] : []);
      ctx.strokeRect(g[0] * k, g[1] * k, (g[2] - g[0]) * k, (g[3] - g[1]) * k);
    };
    for (const t of this.tracks) {
      const color = COLORS[Math.max(0, this.labels.indexOf(t.label)) % COLORS.length];
      const selected = t.id === this.selectedId;
      const box = this.live && this.live.id === t.id ? { geometry: this.live.geometry, keyframe: true }
        : boxAt(t, frame, this.end);
      if (!box) continue;
      const occluded = "occluded" in box && box.occluded;
      ctx.globalAlpha = occluded ? 0.55 : 1;
      const polygon = this.type === "polygon";
      if (polygon) {
        strokeRings(ctx, box.geometry as number[][], k, color,
          { dashed: !box.keyframe, width: selected ? 3 : 2, handles: false, fill: selected });
      } else {
        rect(box.geometry as number[], color, !box.keyframe, selected ? 3 : 2);
      }
      const g = polygon ? (box.geometry as number[][])[0] : (box.geometry as number[]);
      ctx.setLineDash([]);
      ctx.fillStyle = color;
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText(`#${t.id} ${t.label}${occluded ? " (occluded)" : ""}${box.keyframe ? "" : " (interpolated)"}`,
        g[0] * k + 2, Math.max(12, g[1] * k - 4));
      ctx.globalAlpha = 1;
      if (selected && polygon) {
        strokeRings(ctx, box.geometry as number[][], k, color, { dashed: !box.keyframe, width: 3, handles: true,
          small: !box.keyframe });
      } else if (selected) {
        for (const [x, y] of [[g[0], g[1]], [g[2], g[1]], [g[2], g[3]], [g[0], g[3]]]) {
          ctx.fillStyle = "#fff";
          ctx.fillRect(x * k - 4, y * k - 4, 8, 8);
          ctx.strokeStyle = color;
          ctx.lineWidth = 1.5;
          ctx.strokeRect(x * k - 4, y * k - 4, 8, 8);
        }
      }
    }
    if (this.live && this.live.id === null) {
      rect(this.live.geometry as number[], COLORS[this.labelIndex % COLORS.length], false, 2);
    }
    strokeDraft(ctx, this.draft, this.pointer, k, COLORS[this.labelIndex % COLORS.length]);
  }
}
