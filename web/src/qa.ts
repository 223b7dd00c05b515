// The QA page of multi-stage pipelines: claim the next item, see every annotate stage's boxes on it,
// flag boxes (click one, say what is wrong, "Raise issue") or missing objects (drag where one is), then
// send the issues back to the annotators; or approve, discard, reopen issues whose fix did not fix
// them, or route the item to one of the QA stage's custom statuses (with a reason). The next item
// follows without a page load.
import { ApiError, byId, errorText, field, formatDuration, h, post } from "./api.js";
import { QaView } from "./pipeline/qa_view.js";
import type { ShownBox } from "./pipeline/qa_view.js";
import { stageColor } from "./pipeline/qa_view.js";
import type { IssueDraft, PipelineItem } from "./pipeline/types.js";

const $ = byId;

const NOTHING: Record<string, [string, string]> = {
  nothing_to_review: ["Nothing to review right now",
    "No pipeline item waits for your review. Items come when the annotators finish them, or when fixes to your issues come back."],
  qa_stopped: ["QA is closed to you here",
    "You missed too many of the known defects hidden among the items, so this pipeline takes no more reviews from you."],
};

const state: { item: PipelineItem | null; drafts: IssueDraft[]; busy: boolean; decided: number;
  timer: ReturnType<typeof setInterval> | null } = { item: null, drafts: [], busy: false, decided: 0, timer: null };

const view = new QaView($("qa-stage"), () => showSelection());

function notice(text: string, kind = ""): void {
  $("notice").replaceChildren(text ? h("p", { class: `notice ${kind}` }, text) : "");
}

// -- showing an item --------------------------------------------------------------------------------

function stageBoxes(item: PipelineItem): ShownBox[] {
  return item.work.flatMap((w, stage) => w.objects.map((o, index) => ({
    box: o.geometry, text: `${w.stage}: ${o.label}`, stage, stageJobId: w.stage_job_id, index })));
}

function marks(item: PipelineItem): ShownBox[] {
  const stageOf = (id: number) => Math.max(0, item.work.findIndex((w) => w.stage_job_id === id));
  const fixed = item.issues.filter((i) => i.status === "fixed" && i.geometry).map((i) => ({
    box: i.geometry as number[], text: `fixed #${i.id}`, stage: stageOf(i.stage_job_id), stageJobId: i.stage_job_id,
    index: null, color: "#69db7c" }));
  const drafts = state.drafts.map((d, n) => ({
    box: d.geometry || item.work[stageOf(d.stage_job_id)].objects[d.object_index ?? 0].geometry,
    text: `issue ${n + 1}`, stage: stageOf(d.stage_job_id), stageJobId: d.stage_job_id, index: null }));
  return [...fixed, ...drafts];
}

async function show(item: PipelineItem): Promise<void> {
  const img = new Image();
  img.src = item.image_url;
  await img.decode().catch(() => {});
  state.item = item;
  state.drafts = [];
  $("loading").hidden = true;
  $("nothing").hidden = true;
  $("qa").hidden = false;
  const back = item.issues.some((i) => i.status === "fixed");
  $("qa-info").textContent = `item #${item.id}${back ? " · fixes came back" : ""}` +
    `${item.route ? ` · routed to you: ${item.route}` : ""}`;
  const routes = item.routes || [];
  $("route-card").hidden = !routes.length;
  field("route-comment").value = "";
  $("route-buttons").replaceChildren(...routes.map((status) => h("button", { type: "button", class: "decision",
    onclick: () => route(status) }, `Route to ${status}`)));
  view.show(img, item.width, item.height, stageBoxes(item));
  $("stage-legend").replaceChildren(...item.work.map((w, stage) => h("li", {},
    h("span", { class: "swatch", dataset: { color: stageColor(stage) } }), ` ${w.stage} (${w.labels.join(", ")}): `,
    `${w.objects.length} ${w.objects.length === 1 ? "box" : "boxes"}`)));
  for (const swatch of $("stage-legend").querySelectorAll<HTMLElement>(".swatch")) {
    swatch.style.background = swatch.dataset.color || "";
  }
  const missingStage = field("missing-stage");
  missingStage.replaceChildren(...item.work.map((w) => h("option", { value: String(w.stage_job_id) }, w.stage)));
  const fixed = item.issues.filter((i) => i.status === "fixed");
  $("fixed-card").hidden = !fixed.length;
  $("fixed-list").replaceChildren(...fixed.map((i) => h("li", {}, h("label", {},
    h("input", { type: "checkbox", value: String(i.id), class: "reopen-pick" }),
    ` #${i.id} ${i.object_index === null ? "missing object" : `box ${i.object_index + 1}`}: “${i.comment}”`))));
  field("issue-comment").value = "";
  refreshDrafts();
  showSelection();
  notice("");
  tick();
  document.body.dataset.itemId = String(item.id);
  window.dispatchEvent(new CustomEvent("tilework:item", { detail: { itemId: item.id } }));
}

function showNothing(reason: string, detail: string): void {
  state.item = null;
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  $("loading").hidden = true;
  $("qa").hidden = true;
  $("nothing").hidden = false;
  const [title, text] = NOTHING[reason] || ["Nothing to review", detail];
  $("nothing-title").textContent = state.decided ? `${state.decided} decided. ${title}` : title;
  $("nothing-text").textContent = text;
  document.body.dataset.itemId = "none";
  document.body.dataset.qaReason = reason || "error";
}

async function next(): Promise<void> {
  try {
    await show(await post("/api/pipelines/qa/claim"));
  } catch (err) {
    if (err instanceof ApiError && (err.status === 409 || err.status === 403)) showNothing(err.reason || "", err.message);
    else {
      $("loading").hidden = true;
      notice(`Could not get an item: ${errorText(err)}`, "bad");
    }
  }
}

function tick(): void {
  if (!state.timer) state.timer = setInterval(tick, 1000);
  const item = state.item;
  if (!item || !item.deadline) { $("deadline").textContent = "—"; return; }
  const left = (Date.parse(item.deadline) - Date.now()) / 1000;
  $("deadline").textContent = left > 0 ? formatDuration(left) : "time is up";
  $("deadline").classList.toggle("warn", left < 120);
}

// -- selecting and raising issues -------------------------------------------------------------------

function showSelection(): void {
  const sel = view.selected === null ? null : view.boxes[view.selected];
  $("missing-field").hidden = !view.drawn;
  if (sel && sel.index !== null) $("selected-text").textContent = `${sel.text}, box ${sel.index + 1} of its stage`;
  else if (view.drawn) $("selected-text").textContent = "A missing object here: choose its stage.";
  else $("selected-text").textContent = "Nothing selected: click a box, or drag where an object is missing.";
  $("raise-btn", HTMLButtonElement).disabled = !(sel || view.drawn);
}

function raise(): void {
  const item = state.item;
  const comment = field("issue-comment").value.trim();
  if (!item) return;
  if (!comment) { notice("Say what is wrong before raising the issue.", "warn"); field("issue-comment").focus(); return; }
  const sel = view.selected === null ? null : view.boxes[view.selected];
  if (sel && sel.index !== null) {
    state.drafts.push({ stage_job_id: sel.stageJobId, object_index: sel.index, comment });
  } else if (view.drawn) {
    state.drafts.push({ stage_job_id: Number(field("missing-stage").value), geometry: view.drawn, comment });
  } else return;
  field("issue-comment").value = "";
  view.select(null);
  view.drawn = null;
  refreshDrafts();
  showSelection();
  notice("");
}

function refreshDrafts(): void {
  const item = state.item;
  const stageName = (id: number) => (item?.work.find((w) => w.stage_job_id === id)?.stage) || `stage ${id}`;
  $("pending").replaceChildren(...state.drafts.map((d, n) => h("li", {},
    `${stageName(d.stage_job_id)}, ${d.object_index === undefined ? "missing object" : `box ${d.object_index + 1}`}: “${d.comment}” `,
    h("button", { type: "button", class: "link-dark", "aria-label": `Drop issue ${n + 1}`,
      onclick: () => { state.drafts.splice(n, 1); refreshDrafts(); } }, "drop"))));
  $("send-btn", HTMLButtonElement).disabled = !state.drafts.length;
  $("pending-empty").hidden = state.drafts.length > 0;
  if (item) view.setMarks(marks(item));
}

// -- deciding ---------------------------------------------------------------------------------------

async function decide(body: Record<string, unknown>, done: string): Promise<void> {
  const item = state.item;
  if (!item || state.busy) return;
  state.busy = true;
  for (const b of document.querySelectorAll<HTMLButtonElement>(".decision")) b.disabled = true;
  notice("Sending…");
  try {
    await post(`/api/pipeline-items/${item.id}/decision`, body);
  } catch (err) {
    notice(`Not sent: ${errorText(err)}`, "bad");
    return;
  } finally {
    state.busy = false;
    for (const b of document.querySelectorAll<HTMLButtonElement>(".decision")) b.disabled = false;
    refreshDrafts();
  }
  state.decided += 1;
  $("done-count").textContent = `${state.decided} decided this session · last: item #${item.id} ${done}`;
  await next();
}

/** Send the item to one of the QA stage's custom statuses (its members decide it); a reason is required. */
function route(status: string): void {
  const comment = field("route-comment").value.trim();
  if (!comment) {
    notice(`Say why the item goes to ${status} before routing it.`, "warn");
    field("route-comment").focus();
    return;
  }
  if (state.drafts.length) { notice("Send or drop the issues you raised before routing the item.", "warn"); return; }
  decide({ action: "route", status, comment }, `routed to ${status}`);
}

function reopenPicks(): number[] {
  return [...document.querySelectorAll<HTMLInputElement>(".reopen-pick:checked")].map((i) => Number(i.value));
}

$("raise-btn").addEventListener("click", raise);
$("send-btn").addEventListener("click", () => decide({ action: "issue", issues: state.drafts }, "sent back"));
$("approve-btn").addEventListener("click", () => {
  if (state.drafts.length) { notice("Send or drop the issues you raised before approving.", "warn"); return; }
  decide({ action: "approve" }, "approved");
});
$("discard-btn").addEventListener("click", () => decide({ action: "discard", comment: field("issue-comment").value.trim() },
  "discarded"));
$("reopen-btn").addEventListener("click", () => {
  const ids = reopenPicks();
  if (!ids.length) { notice("Tick the fixed issues that are still wrong.", "warn"); return; }
  decide({ action: "reopen", reopen: ids, comment: field("issue-comment").value.trim() }, "reopened");
});

// test hooks (read-only views of the page state)
window.__tilework = { editor: () => view, item: () => state.item, drafts: () => state.drafts };

next();
