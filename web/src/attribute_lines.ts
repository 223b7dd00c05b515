// The new-job form's "Object attributes" box: one attribute per line, typed the way a requester says it.
//   occluded                  a checkbox
//   colour: red, green, blue  a menu of those values
//   note: text                free text
// Pure (no DOM), so Node's test runner checks it (web/test/attribute_lines.test.ts).
import type { AttributeSpec } from "./types.js";

export type Parsed = { specs: AttributeSpec[]; error: null } | { specs: null; error: string };

export function parseAttributeLines(text: string): Parsed {
  const specs: AttributeSpec[] = [];
  const lines = text.split("\n").map((l) => l.trim());
  for (const [n, line] of lines.entries()) {
    if (!line) continue;
    const colon = line.indexOf(":");
    const name = (colon < 0 ? line : line.slice(0, colon)).trim();
    const rest = colon < 0 ? "" : line.slice(colon + 1).trim();
    if (!name) return { specs: null, error: `line ${n + 1}: give the attribute a name before the colon` };
    if (specs.some((s) => s.name === name)) return { specs: null, error: `line ${n + 1}: "${name}" is listed twice` };
    if (!rest) {
      specs.push({ name, kind: "checkbox", values: [] });
    } else if (rest.toLowerCase() === "text") {
      specs.push({ name, kind: "text", values: [] });
    } else {
      const values = rest.split(",").map((v) => v.trim()).filter(Boolean);
      if (values.length < 2) {
        return { specs: null, error: `line ${n + 1}: a menu needs at least two values, separated by commas` };
      }
      specs.push({ name, kind: "select", values });
    }
  }
  return { specs, error: null };
}
