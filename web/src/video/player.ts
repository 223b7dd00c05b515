// The frame-exact player of a video segment: the frame canvas (the served frame at its own pixel size,
// scaled by CSS), an overlay canvas the editor draws on, play/pause, frame stepping, jump to frame N, a
// frame counter and a timeline with marks. Frames come from FrameSource (chunk zips of JPEGs), never
// from a <video> element. The frame on screen is `frame`; body's `data-frame` says it once drawn.
import { h } from "../api.js";
import type { VideoSegment } from "../types.js";
import { FrameSource } from "./frames.js";

/** A mark on the timeline: a keyframe (a tick) or an outside stretch [frame, to) (a bar). */
export interface TimelineMark { frame: number; to?: number; color: string; selected: boolean }

/** Frames per second of a fraction "30000/1001" (or a plain number). */
export function parseFps(fps: string): number {
  const [num, den] = fps.split("/").map(Number);
  const value = den ? num / den : num;
  return Number.isFinite(value) && value > 0 ? value : 25;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Player {
  readonly root: HTMLElement;
  readonly view: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly overlay: HTMLCanvasElement;
  seg: VideoSegment | null = null;
  source: FrameSource | null = null;
  /** The frame on the canvas (-1 before the first one is drawn). */
  frame = -1;
  playing = false;
  /** Called after a frame is drawn, and when the overlay must be redrawn (resize). */
  onFrame: (frame: number) => void = () => {};
  /** Called when a frame cannot be shown (a chunk failed to load). */
  onError: (message: string) => void = () => {};
  private wanted = -1; // the frame last asked for: a slower, older request does not overwrite it
  private readonly ctx: CanvasRenderingContext2D;
  private readonly playBtn: HTMLButtonElement;
  private readonly counter: HTMLElement;
  private readonly jump: HTMLInputElement;
  private readonly scrub: HTMLInputElement;
  private readonly marks: HTMLElement;
  private readonly wrap: HTMLElement;
  private readonly resizes = new ResizeObserver(() => this.fit());
  private cssW = 0;
  private cssH = 0;

  constructor() {
    this.canvas = h("canvas", { class: "video-frame", "aria-label": "Video frame" });
    this.overlay = h("canvas", { class: "video-overlay", tabindex: "0", role: "application",
      "aria-label": "Video frame: drag to draw a box, drag a box to move it" });
    this.view = h("div", { class: "video-view" }, this.canvas, this.overlay);
    this.wrap = h("div", { class: "video-wrap" }, this.view);
    const ctx = this.canvas.getContext("2d");
    if (!ctx) throw new Error("this browser has no 2D canvas");
    this.ctx = ctx;
    const button = (text: string, title: string, onclick: () => void) =>
      h("button", { type: "button", title, onclick }, text);
    this.playBtn = button("Play", "Play / pause (Space)", () => this.toggle());
    this.counter = h("output", { class: "frame-counter", "aria-live": "off", id: "frame-counter" });
    this.jump = h("input", { type: "number", id: "frame-jump", class: "frame-jump", "aria-label": "Go to frame",
      step: "1", onkeydown: (e: KeyboardEvent) => { if (e.key === "Enter") { e.preventDefault(); this.jumpTo(); } } });
    this.scrub = h("input", { type: "range", class: "scrub", "aria-label": "Timeline", step: "1",
      oninput: () => { this.pause(); this.show(Number(this.scrub.value)); } });
    this.marks = h("div", { class: "timeline-marks", "aria-hidden": "true" });
    this.root = h("div", { class: "player" }, this.wrap,
      h("div", { class: "timeline" }, this.marks, this.scrub),
      h("div", { class: "player-controls" },
        button("First", "First frame (Home)", () => this.go(this.first)),
        button("◀", "Previous frame (, or ←)", () => this.step(-1)),
        this.playBtn,
        button("▶", "Next frame (. or →)", () => this.step(1)),
        button("Last", "Last frame (End)", () => this.go(this.last)),
        this.counter,
        h("label", {}, "Go to frame ", this.jump),
        button("Go", "Show the frame typed in", () => this.jumpTo())));
    this.resizes.observe(this.wrap);
  }

  get first(): number { return this.seg ? this.seg.start_frame : 0; }
  get last(): number { return this.seg ? this.seg.end_frame - 1 : 0; }

  /** Start on a segment: its first frame is fetched and shown. */
  load(seg: VideoSegment): Promise<boolean> {
    this.pause();
    this.seg = seg;
    this.source = new FrameSource(seg.chunks);
    this.canvas.width = seg.frame_width;
    this.canvas.height = seg.frame_height;
    for (const el of [this.jump, this.scrub]) {
      el.min = String(seg.start_frame);
      el.max = String(seg.end_frame - 1);
    }
    this.frame = -1;
    this.fit();
    return this.show(seg.start_frame);
  }

  /** Draw frame n (clamped to the segment); false when a newer request overtook it or it failed. */
  async show(n: number): Promise<boolean> {
    const source = this.source;
    if (!source || !this.seg) return false;
    const frame = Math.min(this.last, Math.max(this.first, Math.round(n)));
    this.wanted = frame;
    let bitmap: ImageBitmap;
    try {
      bitmap = await source.frame(frame);
    } catch (err) {
      if (this.wanted === frame) this.onError(err instanceof Error ? err.message : String(err));
      return false;
    }
    if (this.wanted !== frame || source !== this.source) { bitmap.close(); return false; }
    this.ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    this.frame = frame;
    source.prefetch(frame);
    this.scrub.value = String(frame);
    if (document.activeElement !== this.jump) this.jump.value = String(frame);
    const seg = this.seg;
    const seconds = frame / parseFps(seg.fps);
    this.counter.textContent = `Frame ${frame} · ${frame - seg.start_frame + 1} of ${seg.end_frame - seg.start_frame}` +
      ` · ${Math.floor(seconds / 60)}:${(seconds % 60).toFixed(2).padStart(5, "0")}`;
    document.body.dataset.frame = String(frame);
    this.onFrame(frame);
    return true;
  }

  go(n: number): Promise<boolean> { this.pause(); return this.show(n); }
  step(delta: number): Promise<boolean> { this.pause(); return this.show(Math.max(this.frame, this.first) + delta); }

  private jumpTo(): void {
    const n = Number(this.jump.value);
    if (this.jump.value.trim() !== "" && Number.isFinite(n)) this.go(n);
  }

  toggle(): void { if (this.playing) this.pause(); else this.play(); }

  play(): void {
    if (this.playing || !this.seg) return;
    if (this.frame >= this.last) this.frame = this.first - 1;
    this.playing = true;
    this.playBtn.textContent = "Pause";
    document.body.dataset.playing = "true";
    this.run();
  }

  pause(): void {
    if (!this.playing) return;
    this.playing = false;
    this.playBtn.textContent = "Play";
    document.body.dataset.playing = "false";
  }

  /** Playback: each frame in turn at the video's rate; a frame that is late (its chunk still loading)
   * is waited for, not skipped, and the clock restarts after it. */
  private async run(): Promise<void> {
    const interval = 1000 / parseFps(this.seg ? this.seg.fps : "25");
    let due = performance.now();
    while (this.playing) {
      if (this.frame >= this.last) { this.pause(); break; }
      const shown = await this.show(this.frame + 1);
      if (!shown && this.playing) { this.pause(); break; }
      due += interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait); else due = performance.now();
    }
  }

  /** Size the view to the space it has, keeping the frame's shape; the overlay's backing store follows
   * (device pixels). */
  fit(): void {
    if (!this.seg) return;
    const availW = this.wrap.clientWidth || this.seg.frame_width;
    const availH = Math.max(200, window.innerHeight - 320);
    const k = Math.min(availW / this.seg.frame_width, availH / this.seg.frame_height);
    this.cssW = Math.max(1, Math.floor(this.seg.frame_width * k));
    this.cssH = Math.max(1, Math.floor(this.seg.frame_height * k));
    this.view.style.width = `${this.cssW}px`;
    this.view.style.height = `${this.cssH}px`;
    const dpr = window.devicePixelRatio || 1;
    this.overlay.width = Math.round(this.cssW * dpr);
    this.overlay.height = Math.round(this.cssH * dpr);
    if (this.frame >= 0) this.onFrame(this.frame);
  }

  /** CSS pixels of the view per served frame pixel. */
  get zoom(): number { return this.seg ? this.cssW / this.seg.frame_width : 1; }

  /** Keyframe ticks and outside bars on the timeline. */
  setMarks(marks: TimelineMark[]): void {
    const span = Math.max(1, this.last - this.first);
    const at = (f: number) => `${((f - this.first) / span) * 100}%`;
    this.marks.replaceChildren(...marks.map((m) => m.to === undefined
      ? h("span", { class: `tick${m.selected ? " selected" : ""}`, style: `left:${at(m.frame)};background:${m.color}`,
        dataset: { frame: String(m.frame) } })
      : h("span", { class: `outside${m.selected ? " selected" : ""}`,
        style: `left:${at(m.frame)};width:calc(${at(Math.min(m.to, this.last))} - ${at(m.frame)});background:${m.color}` })));
  }

  destroy(): void {
    this.pause();
    this.resizes.disconnect();
    this.source = null;
  }
}
