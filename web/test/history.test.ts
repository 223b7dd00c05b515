import { test } from "node:test";
import assert from "node:assert/strict";
import { History } from "../src/editor/history.js";

test("undo goes back to the remembered state, redo forward again", () => {
  const h = new History<string>();
  assert.equal(h.undo("a"), null);
  h.remember("a"); // "a" → "b"
  h.remember("b"); // "b" → "c"
  assert.equal(h.undo("c"), "b");
  assert.equal(h.undo("b"), "a");
  assert.equal(h.undo("a"), null);
  assert.equal(h.redo("a"), "b");
  assert.equal(h.redo("b"), "c");
  assert.equal(h.redo("c"), null);
});

test("a new change forgets what was undone", () => {
  const h = new History<string>();
  h.remember("a");
  assert.equal(h.undo("b"), "a");
  assert.ok(h.canRedo);
  h.remember("a");
  assert.ok(!h.canRedo);
});

test("forget drops a remembered change that did not happen", () => {
  const h = new History<string>();
  h.remember("a");
  h.remember("b");
  h.forget();
  assert.equal(h.undo("b"), "a");
  assert.ok(!h.canUndo);
});

test("the history keeps at most `limit` steps, dropping the oldest", () => {
  const h = new History<number>(3);
  for (let i = 0; i < 5; i++) h.remember(i);
  assert.equal(h.undo(5), 4);
  assert.equal(h.undo(4), 3);
  assert.equal(h.undo(3), 2);
  assert.equal(h.undo(2), null);
});
