// One pipeline as its requester sees it: items per status, then per stage its progress, counts, books
// and workers, with the forms that move open work between a stage's members (pipeline/stage_card.ts);
// downloads of the approved results and of every item's history. Refreshed every 10 s until it completes.
import { byId, errorText, get, h, pageConfig } from "./api.js";
import type { Json } from "./api.js";
import { PIPELINE_STATUS, setProgress, StageCard, stat } from "./pipeline/stage_card.js";
import type { PipelineView, StageWorker } from "./pipeline/types.js";

const cfg = pageConfig();
const id: number = cfg.pipeline_id;
const $ = byId;
const POLL_MS = 10_000;
const cards = new Map<number, StageCard>();
let timer: ReturnType<typeof setTimeout> | null = null;
let loads = 0;

const ITEM_STATUS: [string, string][] = [
  ["annotating", "being annotated"], ["completed", "waiting for QA"], ["reviewing", "held by QA"],
  ["issue_open", "with open issues"], ["for_review", "fixed, waiting for re-review"], ["routed", "routed"],
  ["approved", "approved"], ["discarded", "discarded"]];

function say(text: string, kind = ""): void {
  $("pipeline-notice").replaceChildren(text ? h("p", { class: `notice ${kind}` }, text) : "");
}

function showPipeline(p: PipelineView): void {
  $("pipeline-title").textContent = p.title;
  document.title = `${p.title} · Tilework`;
  const status = $("pipeline-status");
  status.className = `status ${p.status}`;
  status.textContent = PIPELINE_STATUS[p.status] || p.status;
  const total = Object.values(p.items).reduce((a, b) => a + b, 0);
  $("pipeline-meta").textContent = `${p.stages.length} stages · ${total} data items · ${p.currency} · ` +
    `created ${new Date(p.created_at).toLocaleDateString()}`;
  setProgress($("items-progress"), $("items-progress-text"), (p.items.approved || 0) + (p.items.discarded || 0), total,
    "data items decided (approved or discarded)");
  $("item-counts").replaceChildren(...ITEM_STATUS.map(([key, text]) => stat(p.items[key] || 0, `items ${text}`)),
    stat(p.open_issues, "issues not yet resolved"));
  const c = p.qa_checks;
  $("checks-text").textContent = `Hidden QA checks: ${c.checks} known defects among the items; ${c.caught} caught in ` +
    `${c.decisions} decisions on them; ${c.stopped_workers} QA worker(s) stopped for missing too many.`;
}

async function load(): Promise<void> {
  clearTimeout(timer ?? undefined);
  let p: PipelineView;
  let workers: StageWorker[];
  try {
    [p, workers] = await Promise.all([get(`/api/pipelines/${id}`), get(`/api/pipelines/${id}/workers`)]);
  } catch (err) {
    say(`Could not load the pipeline: ${errorText(err)}`, "bad");
    timer = setTimeout(load, POLL_MS);
    return;
  }
  showPipeline(p);
  const progress = await Promise.all(p.stages.map((s): Promise<Json | null> => s.kind === "qa"
    ? Promise.resolve(null) : get(`/api/jobs/${s.job_id}/progress`).catch(() => null)));
  for (const [k, stage] of p.stages.entries()) {
    let card = cards.get(stage.index);
    if (!card) {
      card = new StageCard(stage, id, Boolean(cfg.can_manage), load);
      cards.set(stage.index, card);
      $("stages").append(card.root);
    }
    card.update({ stage, books: p.books.find((b) => b.job_id === stage.job_id), progress: progress[k],
      workers: workers.filter((w) => w.stage_job_id === stage.job_id), items: p.items, currency: p.currency,
      routes: p.routes });
  }
  say("");
  loads += 1;
  document.body.dataset.loaded = String(loads);
  if (p.status !== "completed") timer = setTimeout(load, document.hidden ? POLL_MS * 4 : POLL_MS);
}

$("refresh").addEventListener("click", () => { load(); });
load();
