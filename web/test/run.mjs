// Run the unit tests of web/test/*.test.ts (or *.test.js) with Node's test runner: esbuild bundles each
// test with the modules it imports (types stripped) into a temporary folder, then `node --test` runs
// them. The tested modules are the editor's pure logic (no DOM, no Konva) and money formatting.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const tests = readdirSync(here).filter((name) => /\.test\.[jt]s$/.test(name)).sort();
const outdir = mkdtempSync(join(tmpdir(), "tilework-web-test-"));
try {
  await esbuild.build({
    entryPoints: tests.map((name) => join(here, name)),
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: ["node18"],
    logLevel: "warning",
  });
  const files = tests.map((name) => join(outdir, name.replace(/\.[jt]s$/, ".mjs")));
  const run = spawnSync(process.execPath, ["--test", ...files], { stdio: "inherit" });
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
