// Bundle the page modules of src/ into ../marketplace/web/static/js/ (or the folder given as the first
// argument): one ES module per page, the code they share in content-hashed chunks. The output is
// committed so `pip install .` needs no Node; tests/web/test_web_build.py rebuilds into a temporary
// folder and fails when the committed files differ.
import { readdirSync, rmSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
// The pages (the `module=` of marketplace/web/pages.py); everything else is imported by them.
export const PAGES = ["annotate", "board", "earnings", "fixes", "job", "job_new", "jobs", "pipeline", "pipeline_new", "pipelines", "qa", "results", "review"];
const outdir = resolve(process.argv[2] || join(here, "..", "marketplace", "web", "static", "js"));

mkdirSync(outdir, { recursive: true });
for (const name of readdirSync(outdir)) if (name.endsWith(".js")) rmSync(join(outdir, name));

const result = await esbuild.build({
  entryPoints: PAGES.map((page) => join(here, "src", `${page}.ts`)),
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  legalComments: "none",
  chunkNames: "chunk-[hash]",
  metafile: true,
  logLevel: "warning",
});
const sizes = Object.entries(result.metafile.outputs).map(([file, out]) => `${file.split("/").pop()} ${out.bytes} B`);
console.log(sizes.join("\n"));
