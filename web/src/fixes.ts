// The annotator's fixes: the items where QA raised issues on their work. Opening one shows the image
// in the box editor with the stage's boxes, the flagged box selected and every issue's place marked
// with QA's comment; "Submit fix" sends the stage's corrected boxes (the item goes back to QA once no
// issue of it is open).
import { ApiError, byId, errorText, formatDuration, get, h, post } from "./api.js";
import type { Editor } from "./editor/editor.js";
import type { PipelineItem, StageWork } from "./pipeline/types.js";

const $ = byId;
const editorModule = import("./editor/index.js");
const state: { open: { item: PipelineItem; work: StageWork } | null; editor: Editor | null; busy: boolean } =
  { open: null, editor: null, busy: false };

function notice(text: string, kind = ""): void {
  $("notice").replaceChildren(text ? h("p", { class: `notice ${kind}` }, text) : "");
}

function due(at: string): string {
  const left = (Date.parse(at) - Date.now()) / 1000;
  return left > 0 ? `in ${formatDuration(left)}` : "overdue";
}

async function list(message = ""): Promise<void> {
  state.open = null;
  $("fix").hidden = true;
  $("fix-list").hidden = false;
  document.body.dataset.fixItem = "none";
  const status = $("fixes-status");
  const table = $("fixes");
  if (message) status.replaceChildren(h("p", { class: "notice" }, message));
  let items: PipelineItem[];
  try {
    items = await get("/api/pipeline-items/fixes");
  } catch (err) {
    status.replaceChildren(h("p", { class: "notice bad" }, `Could not load your fixes: ${errorText(err)}`));
    return;
  }
  const rows = items.flatMap((item) => item.work.filter((w) => item.issues.some((i) => i.stage_job_id === w.stage_job_id))
    .map((work) => ({ item, work, issues: item.issues.filter((i) => i.stage_job_id === work.stage_job_id) })));
  if (!rows.length) {
    status.replaceChildren(...(message ? [h("p", { class: "notice" }, message)] : []),
      h("p", { class: "empty" }, "No issues on your work. Nothing to fix."));
    table.hidden = true;
    document.body.dataset.fixes = "0";
    return;
  }
  if (!message) status.replaceChildren();
  table.querySelector("tbody")?.replaceChildren(...rows.map(({ item, work, issues }) => h("tr", { dataset: { itemId: String(item.id) } },
    h("td", {}, `#${item.id}`),
    h("td", {}, work.stage),
    h("td", {}, h("ul", { class: "plain" }, issues.map((i) => h("li", {}, `“${i.comment}”`)))),
    h("td", {}, due(issues.map((i) => i.due_at).sort()[0])),
    h("td", {}, h("button", { type: "button", class: "primary", "aria-label": `Fix item ${item.id} (${work.stage})`,
      onclick: () => open(item, work) }, "Fix")))));
  table.hidden = false;
  document.body.dataset.fixes = String(rows.length);
}

async function open(item: PipelineItem, work: StageWork): Promise<void> {
  const img = new Image();
  img.src = item.image_url;
  const [editors] = await Promise.all([editorModule, img.decode().catch(() => {})]);
  $("fix-list").hidden = true;
  $("fix").hidden = false;
  if (!state.editor) {
    state.editor = editors.imageEditor($("editor-root"), "boxes", { onChange: () => notice(""),
      assist: () => Promise.reject(new Error("no assist here")) });
  }
  const editor = state.editor;
  state.open = { item, work };
  const key = String(item.id);
  editor.setItems([{ item_id: key, width: item.width, height: item.height, image_url: item.image_url }],
    new Map([[key, img]]), work.labels);
  editor.setObjects(work.objects);
  const issues = item.issues.filter((i) => i.stage_job_id === work.stage_job_id);
  editor.setMarks(issues.flatMap((i, n) => i.geometry ? [{ box: i.geometry, text: `issue ${n + 1}: ${i.comment}` }] : []));
  const flagged = issues.find((i) => i.object_index !== null && i.object_index < editor.item.objects.length);
  editor.select(flagged && flagged.object_index !== null ? editor.item.objects[flagged.object_index].id : null);
  $("fix-title").textContent = `Fix item #${item.id} · ${work.stage}`;
  $("issue-list").replaceChildren(...issues.map((i, n) => h("li", {},
    h("strong", {}, `Issue ${n + 1}`), ` (${i.object_index === null ? "a missing object, marked on the image" :
      `box ${i.object_index + 1}, selected`}): “${i.comment}”`)));
  notice("");
  editor.focusStage();
  document.body.dataset.fixItem = key;
}

async function submit(): Promise<void> {
  const open = state.open;
  const editor = state.editor;
  if (!open || !editor || state.busy) return;
  const answer = editor.answers()[0];
  const objects = (answer.annotations || []).map((a) => ({ label: a.label, geometry: a.geometry }));
  state.busy = true;
  $("submit-fix", HTMLButtonElement).disabled = true;
  notice("Sending the fix…");
  try {
    await post(`/api/pipeline-items/${open.item.id}/fix`, { stage_job_id: open.work.stage_job_id, objects });
  } catch (err) {
    notice(`Not sent: ${err instanceof ApiError ? err.message : errorText(err)}`, "bad");
    return;
  } finally {
    state.busy = false;
    $("submit-fix", HTMLButtonElement).disabled = false;
  }
  await list(`Fix of item #${open.item.id} sent: it goes back to QA.`);
}

$("submit-fix").addEventListener("click", () => submit());
$("back-btn").addEventListener("click", () => list());
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && state.open) { e.preventDefault(); submit(); }
});

// test hooks (read-only views of the page state)
window.__tilework = { editor: () => state.editor, open: () => state.open };

list();
