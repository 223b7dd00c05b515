import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAttributeLines } from "../src/attribute_lines.js";

test("a name is a checkbox, values make a menu, 'text' is free text", () => {
  const parsed = parseAttributeLines("occluded\n\n colour: red, green ,blue \nnote: text\n");
  assert.deepEqual(parsed, {
    error: null,
    specs: [
      { name: "occluded", kind: "checkbox", values: [] },
      { name: "colour", kind: "select", values: ["red", "green", "blue"] },
      { name: "note", kind: "text", values: [] },
    ],
  });
});

test("nothing typed is no attributes", () => {
  assert.deepEqual(parseAttributeLines("  \n"), { specs: [], error: null });
});

test("mistakes name the line", () => {
  assert.equal(parseAttributeLines("a\n: red, green").error, "line 2: give the attribute a name before the colon");
  assert.equal(parseAttributeLines("a\nb\na").error, 'line 3: "a" is listed twice');
  assert.equal(parseAttributeLines("colour: red").error,
    "line 1: a menu needs at least two values, separated by commas");
});
