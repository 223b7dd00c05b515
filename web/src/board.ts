// The worker's job board: open jobs with pay, time limit, assignments left, guide; "Start working".
import type { Json } from "./api.js";
import { byId, errorText, formatAmount, formatDuration, get, h, one, TYPE_NAMES } from "./api.js";

async function load() {
  const status = byId("board-status");
  const table = byId("board");
  const body = one(table, "tbody");
  let jobs;
  try {
    jobs = await get("/api/work/jobs");
  } catch (err) {
    status.replaceChildren(h("p", { class: "notice bad" }, `Could not load the job board: ${errorText(err)}`));
    return;
  }
  if (!jobs.length) {
    status.replaceChildren(h("p", { class: "empty" }, "No open jobs right now. Check back later."));
    table.hidden = true;
    return;
  }
  status.replaceChildren();
  body.replaceChildren(...jobs.map((job: Json) => h("tr", {},
    h("td", {}, h("strong", {}, job.title), job.description ? h("div", { class: "muted" }, job.description) : null),
    h("td", {}, TYPE_NAMES[job.type] || job.type),
    h("td", { class: "num" }, formatAmount(job.pay_per_assignment, job.currency)),
    h("td", { class: "num" }, job.items_per_assignment),
    h("td", { class: "num" }, formatDuration(job.time_limit_s)),
    h("td", { class: "num" }, job.assignments_left),
    h("td", {}, job.guide_url ? h("a", { href: job.guide_url, target: "_blank", rel: "noopener" }, "Guide") : "—"),
    h("td", {}, h("a", { class: "button primary", href: `/work/jobs/${job.job_id}`,
      "aria-label": `Start working on ${job.title}` }, "Start working")),
  )));
  table.hidden = false;
}

load();
