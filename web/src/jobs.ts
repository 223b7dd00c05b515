// The requester's jobs (staff see every job).
import type { Json } from "./api.js";
import { byId, errorText, formatAmount, get, h, one, TYPE_NAMES } from "./api.js";

async function load() {
  const status = byId("jobs-status");
  const table = byId("jobs");
  if (document.body.dataset.role === "reviewer") document.querySelector("a[href='/jobs/new']")?.remove();
  let jobs;
  try {
    jobs = await get("/api/jobs?limit=500");
  } catch (err) {
    status.replaceChildren(h("p", { class: "notice bad" }, `Could not load jobs: ${errorText(err)}`));
    return;
  }
  if (!jobs.length) {
    status.replaceChildren(h("p", { class: "empty" }, "No jobs yet. ", h("a", { href: "/jobs/new" }, "Create one"), "."));
    return;
  }
  one(table, "tbody").replaceChildren(...jobs.map((job: Json) => h("tr", {},
    h("td", {}, h("a", { href: `/jobs/${job.id}` }, job.title)),
    h("td", {}, TYPE_NAMES[job.type] || job.type),
    h("td", {}, h("span", { class: `status ${job.status}` }, job.status.replace("_", " "))),
    h("td", { class: "num" }, job.image_count),
    h("td", { class: "num" }, formatAmount(job.bounty_amount, job.currency)),
    h("td", {}, new Date(job.created_at).toLocaleDateString()),
  )));
  table.hidden = false;
}

load();
