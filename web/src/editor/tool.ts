// The editor's interface to its tools: one Tool per geometry (box, point, polygon; a track later). A tool
// knows its objects' geometry, how to draw them (through a Painter, so this module and the tools need no
// canvas library and run under Node's test runner) and its gestures; the Editor (editor.ts) owns the
// view, selection, moving, history and the side panel, and never asks which kind of object it holds.
import type { AttributeValues } from "../types.js";
import type { Pt } from "./geometry.js";

/** An object on an image; each tool adds its geometry (x/y/w/h, x/y, rings). */
export interface Obj {
  id: number;
  label: number;
  hidden?: boolean;
  locked?: boolean;
  /** The job's per-object attributes set on this object (the others take their defaults). */
  attributes?: AttributeValues;
}

/** What is under the pointer: an object, or a part of the selected one (a handle, a vertex, an edge). */
export interface Hit {
  id: number;
  part?: string;
  ring?: number;
  index?: number;
}

/** A pointer event as tools see it: in stage (s) and image (p) coordinates. */
export interface ToolPointer {
  s: Pt;
  p: Pt;
  button: number;
  altKey: boolean;
}

/** A key press as tools see it. */
export interface ToolKey {
  key: string;
  plain: boolean; // no Ctrl, Meta or Alt
  preventDefault(): void;
}

export interface Stroke {
  color: string;
  width: number;
  dash?: number[];
  fill?: string;
  /** Opacity of the fill only. */
  fillAlpha?: number;
}

/** Drawing in stage pixels; `hit` makes the shape pickable (hitPad: extra pickable px around it). */
export interface Painter {
  rect(x: number, y: number, w: number, h: number, style: Stroke, hit?: Hit, hitPad?: number): void;
  circle(x: number, y: number, r: number, style: Stroke, hit?: Hit, hitPad?: number): void;
  /** Closed rings filled even-odd. */
  rings(rings: Pt[][], style: Stroke, hit?: Hit): void;
  /** An open polyline (not pickable unless hit is given). */
  line(points: Pt[], style: Stroke, hit?: Hit, hitPad?: number): void;
  /** A label tag with its top-left corner near (x, y). */
  tag(text: string, x: number, y: number, color: string): void;
}

/** What a tool may ask of the editor. */
export interface ToolHost {
  readonly width: number; // of the current image
  readonly height: number;
  readonly scale: number; // stage px per image px
  readonly labelIndex: number;
  readonly labels: string[];
  /** The current image's item id (it changes when another image is shown). */
  readonly itemId: string;
  objects(): Obj[];
  selected(): Obj | null;
  toScreen(p: Pt): Pt;
  insideImage(p: Pt): boolean;
  /** The object or part under a stage point (the canvas library's hit test). */
  hitAt(s: Pt): Hit | null;
  /** Keep the current state for undo, before a change. */
  remember(): void;
  /** The remembered change did not happen (a click that changed nothing). */
  forget(): void;
  /** Add an object (an id is given) and select it. */
  add(o: Omit<Obj, "id">): Obj;
  remove(id: number): void;
  select(id: number | null): void;
  /** Something changed: redraw, refresh the panel, tell the page. */
  changed(): void;
  render(): void;
  /** Redraw only what paintOverlay draws (a rubber band follows the pointer). */
  renderOverlay(): void;
  refreshList(): void;
  say(text: string): void;
}

export interface Tool<O extends Obj = Obj> {
  readonly noun: string; // "box"
  readonly plural: string; // "boxes"
  readonly title: string; // "Boxes"
  readonly stageLabel: string;
  readonly help: string[];
  /** Draw lines through the pointer while nothing is dragged (lining up a box's edges). */
  readonly crosshair: boolean;

  geometry(o: O): unknown;
  fromGeometry(g: unknown): Partial<O> | null;
  describe(o: O, label: string): string;
  /** Larger objects are drawn first, so the smallest under the pointer is the one picked. */
  area(o: O): number;
  clone(o: O): O;
  /** o becomes orig shifted by (dx, dy) in image px, kept inside the image. */
  translate(o: O, orig: O, dx: number, dy: number, host: ToolHost): void;

  /** Draw an object (its body: the editor draws larger ones first). */
  paint(o: O, selected: boolean, host: ToolHost, painter: Painter): void;
  /** Draw the selected object's handles (on top of every object, so they win the pick). */
  paintParts(o: O, host: ToolHost, painter: Painter): void;
  /** What is being drawn right now (a rubber band, an outline in progress). */
  paintOverlay(host: ToolHost, painter: Painter, cursor: Pt | null): void;

  /** Pointer down on a part of the selected object or with a tool mode on; true when the tool takes the
   * gesture (then it gets move/up until the button is released). */
  grab(host: ToolHost, e: ToolPointer, hit: Hit | null): boolean;
  /** Pointer down on empty image: start a new object; true when the tool takes the gesture. */
  create(host: ToolHost, e: ToolPointer): boolean;
  /** Pointer down while the tool is in the middle of something (drawing an outline): true to take it. */
  busy(): boolean;
  move(host: ToolHost, e: ToolPointer): void;
  up(host: ToolHost, e: ToolPointer): void;
  key(host: ToolHost, e: ToolKey): boolean;
  cursor(host: ToolHost, hit: Hit | null): string | null;
  /** Forget the gesture in progress; `all`: also what is being drawn (another image is shown). */
  reset(all: boolean): void;
  /** Does a double click at a point (inside the image or not) fit the image to the view? */
  fitOnDoubleClick(inside: boolean): boolean;
  /** Before Delete removes the selected object: true when the tool deleted something smaller (a vertex). */
  deletePart?(host: ToolHost): boolean;
  beforeSubmit?(): string | null;
  /** Extra buttons for the side panel, and their refresh. */
  buttons?(host: ToolHost): HTMLElement[];
  refreshButtons?(host: ToolHost): void;
}
