// The tools' gestures and drawing against a fake editor (ToolHost) and a recording Painter: no DOM, no
// Konva. The view is the identity (1 stage px per image px) unless a test sets another scale.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BoxTool } from "../src/editor/box_tool.js";
import type { BoxObj } from "../src/editor/box_tool.js";
import type { Pt } from "../src/editor/geometry.js";
import { PointTool } from "../src/editor/point_tool.js";
import type { PointObj } from "../src/editor/point_tool.js";
import { PolygonTool } from "../src/editor/polygon_tool.js";
import type { PolygonObj } from "../src/editor/polygon_tool.js";
import type { Hit, Obj, Painter, Stroke, ToolHost, ToolKey, ToolPointer } from "../src/editor/tool.js";

class FakeHost implements ToolHost {
  width = 100;
  height = 80;
  scale = 1;
  labelIndex = 0;
  labels = ["cat", "dog"];
  itemId = "1";
  items: Obj[] = [];
  sel: number | null = null;
  undo: Obj[][] = [];
  changes = 0;
  said = "";
  private next = 1;

  objects(): Obj[] { return this.items; }
  selected(): Obj | null { return this.items.find((o) => o.id === this.sel) || null; }
  toScreen(p: Pt): Pt { return { x: p.x * this.scale, y: p.y * this.scale }; }
  insideImage(p: Pt): boolean { return p.x >= 0 && p.y >= 0 && p.x <= this.width && p.y <= this.height; }
  hitAt(): Hit | null { return null; }
  remember(): void { this.undo.push(structuredClone(this.items)); }
  forget(): void { this.undo.pop(); }
  add(o: Omit<Obj, "id">): Obj {
    const obj = { ...o, id: this.next++ } as Obj;
    this.items.push(obj);
    this.sel = obj.id;
    return obj;
  }
  remove(id: number): void { this.items = this.items.filter((o) => o.id !== id); }
  select(id: number | null): void { this.sel = id; }
  changed(): void { this.changes += 1; }
  render(): void {}
  renderOverlay(): void {}
  refreshList(): void {}
  say(text: string): void { this.said = text; }
}

const at = (x: number, y: number, button = 0, altKey = false): ToolPointer => ({ s: { x, y }, p: { x, y }, button, altKey });
const key = (k: string): ToolKey => ({ key: k, plain: true, preventDefault() {} });

class RecordingPainter implements Painter {
  calls: { shape: string; hit?: Hit; style: Stroke }[] = [];
  rect(_x: number, _y: number, _w: number, _h: number, style: Stroke, hit?: Hit): void { this.calls.push({ shape: "rect", hit, style }); }
  circle(_x: number, _y: number, _r: number, style: Stroke, hit?: Hit): void { this.calls.push({ shape: "circle", hit, style }); }
  rings(_r: Pt[][], style: Stroke, hit?: Hit): void { this.calls.push({ shape: "rings", hit, style }); }
  line(_p: Pt[], style: Stroke, hit?: Hit): void { this.calls.push({ shape: "line", hit, style }); }
  tag(): void { this.calls.push({ shape: "tag", style: { color: "", width: 0 } }); }
}

test("box: a drag on the image draws a box with the current label, in one undo step", () => {
  const host = new FakeHost();
  const tool = new BoxTool();
  host.labelIndex = 1;
  assert.ok(tool.create(host, at(30, 20)));
  tool.move(host, at(10, 5));
  tool.move(host, at(-20, 90)); // past the image's edge: clamped
  tool.up(host);
  assert.deepEqual(host.items, [{ id: 1, label: 1, x: 0, y: 20, w: 30, h: 60 }]);
  assert.equal(host.sel, 1);
  assert.equal(host.undo.length, 1);
  assert.deepEqual(tool.geometry(host.items[0] as BoxObj), [0, 20, 30, 60]);
});

test("box: a click (a drag under 4 stage px) draws nothing and deselects", () => {
  const host = new FakeHost();
  const tool = new BoxTool();
  host.sel = 7;
  tool.create(host, at(10, 10));
  tool.move(host, at(13, 40));
  tool.up(host);
  assert.equal(host.items.length, 0);
  assert.equal(host.sel, null);
  assert.equal(host.undo.length, 0);
});

test("box: dragging a handle of the selected box resizes it; a click on a handle leaves no history", () => {
  const host = new FakeHost();
  const tool = new BoxTool();
  host.add({ label: 0, x: 10, y: 10, w: 20, h: 20 } as Omit<BoxObj, "id">);
  assert.ok(!tool.grab(host, at(30, 30), { id: 1 })); // the body: the editor moves it
  assert.ok(tool.grab(host, at(30, 30), { id: 1, part: "se" }));
  tool.up(host);
  assert.equal(host.undo.length, 0);
  tool.grab(host, at(30, 30), { id: 1, part: "se" });
  tool.move(host, at(50, 45));
  tool.up(host);
  assert.deepEqual(host.items[0], { id: 1, label: 0, x: 10, y: 10, w: 40, h: 35 });
  assert.equal(host.undo.length, 1);
  assert.equal(tool.cursor(host, { id: 1, part: "ne" }), "nesw-resize");
});

test("box: drawing picks the box by its body, the selected one's handles by name", () => {
  const host = new FakeHost();
  const tool = new BoxTool();
  const box = host.add({ label: 0, x: 10, y: 10, w: 20, h: 20 } as Omit<BoxObj, "id">) as BoxObj;
  const painter = new RecordingPainter();
  tool.paint(box, true, host, painter);
  tool.paintParts(box, host, painter);
  assert.deepEqual(painter.calls.filter((c) => c.hit).map((c) => c.hit?.part ?? "body"),
    ["body", "nw", "n", "ne", "e", "se", "s", "sw", "w"]);
});

test("point: a click places a point (clamped to the image) and a drag moves it", () => {
  const host = new FakeHost();
  const tool = new PointTool();
  tool.create(host, at(50, 79.5));
  tool.move(host, at(60, 120));
  tool.up(host);
  assert.deepEqual(host.items, [{ id: 1, label: 0, x: 60, y: 80 }]);
  assert.equal(host.undo.length, 1);
  assert.equal(tool.describe(host.items[0] as PointObj, "cat"), "cat — (60, 80)");
  assert.ok(!tool.fitOnDoubleClick(true) && tool.fitOnDoubleClick(false));
});

function outline(host: FakeHost, tool: PolygonTool, pts: [number, number][]): void {
  for (const [x, y] of pts) assert.ok(tool.grab(host, at(x, y), null) || tool.create(host, at(x, y)));
}

test("polygon: vertices by clicks, closed on the first vertex; Enter closes too", () => {
  const host = new FakeHost();
  const tool = new PolygonTool();
  outline(host, tool, [[10, 10], [60, 10], [60, 50], [10, 50]]);
  assert.equal(host.items.length, 0);
  assert.ok(tool.busy());
  assert.match(tool.beforeSubmit() || "", /Finish the polygon/);
  tool.grab(host, at(13, 12), null); // within 10 px of the first vertex
  assert.ok(!tool.busy());
  const shape = host.items[0] as PolygonObj;
  assert.deepEqual(tool.geometry(shape), [[10, 10, 60, 10, 60, 50, 10, 50]]);
  outline(host, tool, [[70, 60], [90, 60], [80, 75]]);
  tool.key(host, key("Enter"));
  assert.equal(host.items.length, 2);
  assert.equal(tool.describe(shape, "cat"), "cat — 4 vertices");
});

test("polygon: Backspace takes back a vertex, Escape drops the outline, a sliver is a mis-click", () => {
  const host = new FakeHost();
  const tool = new PolygonTool();
  outline(host, tool, [[10, 10], [60, 10], [60, 50]]);
  tool.key(host, key("Backspace"));
  assert.equal(tool.drawing?.points.length, 2);
  tool.key(host, key("Escape"));
  assert.equal(tool.drawing, null);
  outline(host, tool, [[10, 10], [20, 10], [30, 10.01]]); // on a line: no area
  tool.key(host, key("Enter"));
  assert.equal(host.items.length, 0);
});

test("polygon: H adds a hole to the selected shape; deleting vertices drops a ring, then the shape", () => {
  const host = new FakeHost();
  const tool = new PolygonTool();
  outline(host, tool, [[10, 10], [60, 10], [60, 50], [10, 50]]);
  tool.key(host, key("Enter"));
  tool.key(host, key("h"));
  outline(host, tool, [[20, 20], [40, 20], [30, 40]]);
  tool.key(host, key("Enter"));
  const shape = host.items[0] as PolygonObj;
  assert.equal(shape.rings.length, 2);
  assert.equal(tool.describe(shape, "cat"), "cat — 7 vertices, 2 rings");
  // right-click a vertex of the hole: a ring of two vertices is no ring
  assert.ok(tool.grab(host, at(20, 20, 2), { id: shape.id, part: "vertex", ring: 1, index: 0 }));
  assert.equal((host.items[0] as PolygonObj).rings.length, 1);
  // a click on a vertex picks it for Delete
  assert.ok(tool.grab(host, at(10, 10), { id: shape.id, part: "vertex", ring: 0, index: 0 }));
  tool.up(host);
  assert.ok(tool.deletePart(host));
  assert.equal((host.items[0] as PolygonObj).rings[0].length, 3);
  tool.grab(host, at(60, 10), { id: shape.id, part: "vertex", ring: 0, index: 0 });
  tool.up(host);
  tool.deletePart(host);
  assert.equal(host.items.length, 0);
});

test("polygon: dragging an edge inserts a vertex where it was grabbed", () => {
  const host = new FakeHost();
  const tool = new PolygonTool();
  outline(host, tool, [[10, 10], [60, 10], [60, 50], [10, 50]]);
  tool.key(host, key("Enter"));
  const id = host.items[0].id;
  assert.ok(tool.grab(host, at(35, 12), { id, part: "edge", ring: 0, index: 1 }));
  tool.move(host, at(35, 2));
  tool.up(host);
  assert.deepEqual(tool.geometry(host.items[0] as PolygonObj), [[10, 10, 35, 2, 60, 10, 60, 50, 10, 50]]);
  assert.equal(tool.cursor(host, { id, part: "edge" }), "copy");
});

test("polygon: moving keeps the whole shape inside the image", () => {
  const host = new FakeHost();
  const tool = new PolygonTool();
  outline(host, tool, [[10, 10], [60, 10], [60, 50]]);
  tool.key(host, key("Enter"));
  const shape = host.items[0] as PolygonObj;
  const orig = tool.clone(shape);
  tool.translate(shape, orig, 100, -100, host);
  assert.deepEqual(tool.geometry(shape), [[50, 0, 100, 0, 100, 40]]);
  assert.deepEqual(tool.geometry(orig), [[10, 10, 60, 10, 60, 50]]); // the clone is untouched
});

test("polygon: the selected shape's edges are drawn before its vertices, so a vertex wins the pick", () => {
  const host = new FakeHost();
  const tool = new PolygonTool();
  outline(host, tool, [[10, 10], [60, 10], [60, 50]]);
  tool.key(host, key("Enter"));
  const shape = host.items[0] as PolygonObj;
  const painter = new RecordingPainter();
  tool.paint(shape, true, host, painter);
  tool.paintParts(shape, host, painter);
  const picks = painter.calls.filter((c) => c.hit).map((c) => `${c.hit?.part ?? "body"}${c.hit?.index ?? ""}`);
  assert.deepEqual(picks, ["body", "edge1", "edge2", "edge3", "vertex0", "vertex1", "vertex2"]);
});

test("point: drawn as a pickable dot with its label's tag; a locked look is the editor's business", () => {
  const host = new FakeHost();
  const tool = new PointTool();
  tool.create(host, at(5, 5));
  tool.up(host);
  const painter = new RecordingPainter();
  tool.paint(host.items[0] as PointObj, false, host, painter);
  assert.deepEqual(painter.calls.map((c) => c.shape), ["circle", "tag"]);
  assert.deepEqual(painter.calls[0].hit, { id: 1 });
  assert.equal(painter.calls[0].style.fill, "#ff6b6b"); // the first label's colour
});
