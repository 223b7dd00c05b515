// The requester's pipelines (staff see every pipeline): title, status, stages, items approved of all.
import { byId, errorText, get, h, one } from "./api.js";
import { PIPELINE_STATUS } from "./pipeline/stage_card.js";
import type { PipelineView } from "./pipeline/types.js";

async function load(): Promise<void> {
  const status = byId("pipelines-status");
  if (document.body.dataset.role === "reviewer") document.querySelector("a[href='/pipelines/new']")?.remove();
  const table = byId("pipelines");
  let pipelines: PipelineView[];
  try {
    pipelines = await get("/api/pipelines?limit=500");
  } catch (err) {
    status.replaceChildren(h("p", { class: "notice bad" }, `Could not load pipelines: ${errorText(err)}`));
    return;
  }
  document.body.dataset.loaded = "1";
  if (!pipelines.length) {
    status.replaceChildren(h("p", { class: "empty" }, "No pipelines yet. ",
      h("a", { href: "/pipelines/new" }, "Create one"), "."));
    return;
  }
  one(table, "tbody").replaceChildren(...pipelines.map((p) => {
    const total = Object.values(p.items).reduce((a, b) => a + b, 0);
    return h("tr", {},
      h("td", {}, h("a", { href: `/pipelines/${p.id}` }, p.title)),
      h("td", {}, h("span", { class: `status ${p.status}` }, PIPELINE_STATUS[p.status] || p.status)),
      h("td", {}, p.stages.map((s) => s.name).join(" → ")),
      h("td", { class: "num" }, `${p.items.approved || 0} of ${total}`),
      h("td", { class: "num" }, p.open_issues),
      h("td", {}, new Date(p.created_at).toLocaleDateString()),
    );
  }));
  table.hidden = false;
}

load();
