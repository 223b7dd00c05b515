// Tiled classification (ImageNet's "browsing" layout): a class on top, a grid of images to toggle.
// Two labels: one pass, selected images get the first label, the others the second.
// More labels: one pass per label; an image's answer is the set of labels it was selected under.
// Per image it records hover enter/leave times, throttled mouse positions (image pixels) and toggle times.
import { h } from "./api.js";
import type { AssignmentItem, Instructions, ItemAnswer, PageEditor } from "./types.js";

const MOUSE_EVERY_MS = 100;
const MAX_EVENTS = 2000;
const MAX_MOUSE = 10000;
const YES = new Set(["yes", "y", "true", "1", "positive", "present"]);

interface Hover { enter_ms: number; leave_ms: number | null }
interface Tile {
  id: string; width: number; height: number; url: string; selected: boolean[];
  hovers: Hover[]; mouse: [number, number, number][]; clicks: number[]; lastMouse: number;
  hoverStart: number | null; focusStart: number | null; timeMs: number;
}

export class TiledEditor implements PageEditor {
  onChange: () => void;
  items: Tile[] = [];
  focus = 0;
  pass = 0;
  passes: string[] = [];
  labels: string[] = [];
  none: boolean[] = [];
  tiles: HTMLElement[] = [];
  yesNo = false;
  question = "";
  shownAt = 0;
  className: HTMLElement;
  classHint: HTMLElement;
  description: HTMLElement;
  passInfo: HTMLElement;
  grid: HTMLElement;
  noneBtn: HTMLButtonElement;
  nextPassBtn: HTMLButtonElement;
  status: HTMLElement;
  lead: HTMLElement;
  onDocKey: (e: KeyboardEvent) => void;

  constructor(root: HTMLElement, { onChange }: { onChange?: () => void } = {}) {
    this.onChange = onChange || (() => {});
    this.items = [];
    this.focus = 0;
    this.pass = 0;
    this.className = h("div", { class: "class-name", id: "tiled-class" });
    this.classHint = h("p", { class: "muted", id: "tiled-hint" });
    this.description = h("p", { class: "task-desc" });
    this.passInfo = h("span", { class: "muted" });
    this.grid = h("div", { class: "tiles", role: "group", "aria-labelledby": "tiled-class",
      "aria-describedby": "tiled-hint" });
    this.noneBtn = h("button", { type: "button", class: "none-of-these", "aria-pressed": "false",
      onclick: () => this.toggleNone() }, "None of these (N)");
    this.nextPassBtn = h("button", { type: "button", hidden: true, onclick: () => this.advance() }, "Next class");
    this.status = h("span", { role: "status", "aria-live": "polite", class: "muted" });
    this.lead = h("div", { class: "lead" });
    root.replaceChildren(
      h("div", { class: "tiled-head" }, this.lead, this.className,
        this.description, this.classHint, this.passInfo),
      this.grid,
      h("div", { class: "tiled-actions" }, this.noneBtn, this.nextPassBtn, this.status),
    );
    this.grid.addEventListener("keydown", (e) => this.onKey(e));
    this.onDocKey = (e: KeyboardEvent) => {
      const tag = e.target instanceof Element ? e.target.tagName : "";
      if (tag === "INPUT" || tag === "TEXTAREA" || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "n" || e.key === "N") { e.preventDefault(); this.toggleNone(); }
    };
    document.addEventListener("keydown", this.onDocKey);
  }

  destroy(): void { document.removeEventListener("keydown", this.onDocKey); }

  setItems(items: AssignmentItem[], images: Map<string, HTMLImageElement>, labels: string[],
    instructions?: Instructions): void {
    this.labels = labels;
    this.passes = labels.length === 2 ? [labels[0]] : labels.slice();
    // a yes/no job asks its title ("Is there a dog?"); otherwise each label is the class shown on top
    this.yesNo = labels.length === 2 && YES.has(labels[0].trim().toLowerCase());
    this.question = (instructions && instructions.title) || labels[0];
    this.pass = 0;
    this.shownAt = performance.now();
    this.items = items.map((item) => ({
      id: item.item_id, width: item.width, height: item.height, url: item.image_url,
      selected: this.passes.map(() => false),
      hovers: [], mouse: [], clicks: [], lastMouse: -Infinity, hoverStart: null, focusStart: null, timeMs: 0,
    }));
    this.none = this.passes.map(() => false);
    this.description.textContent = instructions ? instructions.description || "" : "";
    this.focus = 0;
    this.tiles = this.items.map((item, i) => this.buildTile(item, i, images.get(item.id)));
    this.grid.replaceChildren(...this.tiles);
    this.showPass();
    this.focusTile(0);
  }

  buildTile(item: Tile, i: number, img: HTMLImageElement | undefined): HTMLElement {
    const image = img ? (img.cloneNode() as HTMLImageElement) : h("img", { src: item.url });
    image.alt = `Image ${i + 1} of ${this.items.length}`;
    image.draggable = false;
    const tile = h("div", { class: "tile", role: "checkbox", "aria-checked": "false", tabindex: i === 0 ? "0" : "-1",
      "aria-label": `Image ${i + 1} of ${this.items.length}`, dataset: { index: String(i) } }, image);
    tile.addEventListener("click", () => { this.focusTile(i, false); this.toggle(i); });
    tile.addEventListener("pointerenter", () => {
      item.hoverStart = this.now();
      if (item.hovers.length < MAX_EVENTS) item.hovers.push({ enter_ms: item.hoverStart, leave_ms: null });
    });
    tile.addEventListener("pointerleave", () => {
      const now = this.now();
      const last = item.hovers[item.hovers.length - 1];
      if (last && last.leave_ms === null) last.leave_ms = now;
      if (item.hoverStart !== null) item.timeMs += now - item.hoverStart;
      item.hoverStart = null;
    });
    tile.addEventListener("pointermove", (e) => {
      const t = this.now();
      if (t - item.lastMouse < MOUSE_EVERY_MS || item.mouse.length >= MAX_MOUSE) return;
      item.lastMouse = t;
      const rect = tile.getBoundingClientRect();
      const scale = Math.min(rect.width / item.width, rect.height / item.height);
      const x = (e.clientX - rect.left - (rect.width - item.width * scale) / 2) / scale;
      const y = (e.clientY - rect.top - (rect.height - item.height * scale) / 2) / scale;
      item.mouse.push([t, Math.round(x * 10) / 10, Math.round(y * 10) / 10]);
    });
    tile.addEventListener("focus", () => { item.focusStart = this.now(); });
    tile.addEventListener("blur", () => {
      if (item.focusStart !== null) item.timeMs += this.now() - item.focusStart;
      item.focusStart = null;
    });
    return tile;
  }

  now() { return Math.round((performance.now() - this.shownAt) * 10) / 10; }

  showPass() {
    const label = this.passes[this.pass];
    if (this.yesNo) {
      this.lead.textContent = `Select every image where the answer is "${label}":`;
      this.className.textContent = this.question;
    } else {
      this.lead.textContent = "Select every image showing:";
      this.className.textContent = label;
    }
    this.classHint.textContent = this.labels.length === 2
      ? `Images you do not select are answered "${this.labels[1]}". Arrow keys move, Space selects, ` +
        "N means none of these, Ctrl+Enter submits."
      : "Arrow keys move, Space selects, N means none of these, Ctrl+Enter goes on.";
    this.passInfo.textContent = this.passes.length > 1 ? `Class ${this.pass + 1} of ${this.passes.length}` : "";
    this.nextPassBtn.hidden = this.pass >= this.passes.length - 1;
    this.refresh();
  }

  refresh() {
    this.tiles.forEach((tile, i) => {
      tile.setAttribute("aria-checked", this.items[i].selected[this.pass] ? "true" : "false");
    });
    this.noneBtn.setAttribute("aria-pressed", this.none[this.pass] ? "true" : "false");
    const count = this.items.filter((it) => it.selected[this.pass]).length;
    this.status.textContent = this.none[this.pass] ? "Answer: none of these images" : `${count} selected`;
  }

  toggle(i: number): void {
    const item = this.items[i];
    item.selected[this.pass] = !item.selected[this.pass];
    if (item.clicks.length < MAX_EVENTS) item.clicks.push(this.now());
    if (item.selected[this.pass]) this.none[this.pass] = false;
    this.refresh();
    this.onChange();
  }

  toggleNone() {
    if (!this.items.length) return;
    this.none[this.pass] = !this.none[this.pass];
    if (this.none[this.pass]) this.items.forEach((it) => { it.selected[this.pass] = false; });
    this.refresh();
    this.onChange();
  }

  columns() {
    const template = getComputedStyle(this.grid).gridTemplateColumns;
    return Math.max(1, template.split(" ").filter(Boolean).length);
  }

  focusTile(i: number, move = true): void {
    if (!this.tiles.length) return;
    this.focus = Math.max(0, Math.min(this.tiles.length - 1, i));
    this.tiles.forEach((tile, n) => {
      tile.tabIndex = n === this.focus ? 0 : -1;
      tile.classList.toggle("focused", n === this.focus);
    });
    if (move) this.tiles[this.focus].focus({ preventScroll: false });
  }

  onKey(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const cols = this.columns();
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
    if (e.key in moves) {
      e.preventDefault();
      const target = this.focus + moves[e.key];
      // up/down stay put at the edge of the grid; left/right stop at the first/last image
      if (Math.abs(moves[e.key]) > 1 && (target < 0 || target >= this.tiles.length)) return;
      this.focusTile(target);
    } else if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      this.toggle(this.focus);
    } else if (e.key === "Home") {
      e.preventDefault();
      this.focusTile(0);
    } else if (e.key === "End") {
      e.preventDefault();
      this.focusTile(this.tiles.length - 1);
    }
  }

  passAnswered(p: number): boolean { return this.none[p] || this.items.some((it) => it.selected[p]); }

  advance() {
    if (!this.passAnswered(this.pass)) return false;
    if (this.pass < this.passes.length - 1) {
      this.pass += 1;
      this.showPass();
      this.focusTile(0);
      return true;
    }
    return false;
  }

  /** Before a submit: null when ready; "advanced" when it moved to the next class; else a message. */
  beforeSubmit(): string | null {
    if (!this.passAnswered(this.pass)) {
      this.noneBtn.focus();
      return `Select the images showing "${this.passes[this.pass]}", or choose "None of these".`;
    }
    if (this.pass < this.passes.length - 1) {
      this.advance();
      return "advanced";
    }
    return null;
  }

  answers(): ItemAnswer[] {
    const now = this.now();
    return this.items.map((item) => {
      let labels: string[];
      if (this.labels.length === 2) labels = [item.selected[0] ? this.labels[0] : this.labels[1]];
      else labels = this.passes.filter((_, p) => item.selected[p]);
      let time = item.timeMs;
      if (item.hoverStart !== null) time += now - item.hoverStart;
      if (item.focusStart !== null) time += now - item.focusStart;
      return {
        item_id: item.id,
        annotations: labels.map((label) => ({ label })),
        interactions: {
          time_on_item_ms: Math.round(time),
          hovers: item.hovers.map((hv) => ({ enter_ms: hv.enter_ms, leave_ms: hv.leave_ms ?? now })),
          clicks_ms: item.clicks,
          mouse: item.mouse,
        },
      };
    });
  }
}
