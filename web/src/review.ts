// The reviewer console: a queue of disputes with filters (kind, status, job), a side-by-side view of the
// worker's annotations against the GT or the merged result (SVG overlays drawn by our own code), the
// conflicts the quality engine found, the history (who and when), and the decisions.
import type { Json } from "./api.js";
import { byId, errorText, field as formField, get, h, one, post } from "./api.js";
import { ringsPath } from "./editor/geometry.js";

const $ = byId;
const NS = "http://www.w3.org/2000/svg";

const KIND_NAMES: Record<string, string> = {
  appeal: "Worker appeal",
  chunk_failed_max_attempts: "Chunk failed too often",
  low_agreement: "Workers disagree",
  suspicious_gt: "Suspicious GT image",
  too_fast: "Too fast",
  ambiguous_stitch: "Ambiguous video stitch",
};

const ACTIONS: Record<string, string[]> = {
  uphold: ["Uphold", "The automatic outcome stands."],
  overturn: ["Overturn", "The rejected assignment becomes accepted and payable."],
  fix_gt_label: ["Fix the GT label", "Replace the GT answer of an image; failed assignments are re-scored."],
  retire_gt: ["Retire the GT image", "Never use this GT image again; failed assignments are re-scored."],
  restore_gt: ["Restore the GT image", "The GT image was right: put it back in use."],
  ban_worker: ["Ban the worker", "Stop this worker from taking assignments in this job."],
  reopen_chunk: ["Reopen the chunk", "Give the exhausted chunk fresh attempts."],
  unlink: ["Split the track", "The later segment's track starts a new id instead of continuing this one."],
};

const CONFLICT_NAMES: Record<string, string> = { missing: "Missing", extra: "Extra", wrong_label: "Wrong label", low_overlap: "Low overlap" };
const PALETTE = ["#2456d6", "#b5179e", "#e76f00", "#0f8b8d", "#6a4c93", "#8a5a00", "#c0392b"];

const state: { disputes: Json[]; selected: number | null; detail: Json; people: Record<string, Json> } =
  { disputes: [], selected: null, detail: null, people: {} };

const pct = (v: Json) => (typeof v === "number" && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : "—");
const when = (iso: Json) => (iso ? new Date(iso).toLocaleString() : "—");

function ago(iso: Json) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return "just now";
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function who(id: Json) {
  if (id === null || id === undefined) return "the platform";
  const p = state.people[String(id)];
  return p ? `${p.name} (${p.role})` : `user #${id}`;
}

async function learnPeople(ids: Json) {
  const missing = [...new Set(ids.filter((id: Json) => id !== null && id !== undefined && !state.people[String(id)]))];
  if (!missing.length) return;
  try {
    Object.assign(state.people, await get(`/web/people.json?ids=${missing.join(",")}`));
  } catch {
    // names are a nicety: ids are shown instead
  }
}

// -- the queue ------------------------------------------------------------------------------------

function filters() {
  return { kind: formField("f-kind").value, status: formField("f-status").value, job_id: formField("f-job").value.trim() };
}

function syncUrl() {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters())) if (v) params.set(k, v);
  if (!params.has("status")) params.set("status", "");
  if (state.selected) params.set("d", String(state.selected));
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

function readUrl() {
  const params = new URLSearchParams(location.search);
  if (params.has("kind")) formField("f-kind").value = params.get("kind") || "";
  if (params.has("status")) formField("f-status").value = params.get("status") || "";
  if (params.has("job_id")) formField("f-job").value = params.get("job_id") || "";
  return Number(params.get("d")) || null;
}

async function loadQueue() {
  const f = filters();
  const params = new URLSearchParams({ limit: "200" });
  if (f.kind) params.set("kind", f.kind);
  if (f.status) params.set("status", f.status);
  if (f.job_id) params.set("job_id", f.job_id);
  const status = $("queue-status");
  try {
    state.disputes = await get(`/api/reviews/disputes?${params}`);
  } catch (err) {
    status.replaceChildren(h("p", { class: "notice bad" }, `Could not load the queue: ${errorText(err)}`));
    return;
  }
  status.replaceChildren(h("p", { class: "muted" }, state.disputes.length === 1
    ? "1 dispute" : `${state.disputes.length} disputes`));
  renderQueue();
  document.body.dataset.queueLoaded = "1";
}

function renderQueue() {
  const list = $("queue");
  if (!state.disputes.length) {
    list.replaceChildren(h("li", { class: "empty" }, "Nothing here. Change the filters to see more."));
    return;
  }
  list.replaceChildren(...state.disputes.map((d) => h("li", {},
    h("button", {
      type: "button", class: "queue-item", "aria-current": d.id === state.selected ? "true" : null,
      dataset: { disputeId: String(d.id) }, onclick: () => select(d.id),
    },
    h("span", { class: "qi-top" },
      h("strong", {}, KIND_NAMES[d.kind] || d.kind),
      h("span", { class: `status ${d.status === "open" ? "submitted" : "accepted"}` },
        d.status === "open" ? "open" : d.decision || "decided")),
    h("span", { class: "qi-reason" }, d.reason || d.subject),
    h("span", { class: "qi-meta muted" }, `#${d.id} · job ${d.job_id} · ${ago(d.created_at)}`)),
  )));
}

async function select(id: Json) {
  state.selected = id;
  syncUrl();
  for (const b of $("queue").querySelectorAll<HTMLElement>("button.queue-item")) {
    b.setAttribute("aria-current", String(Number(b.dataset.disputeId) === id));
  }
  $("detail-heading").textContent = `Dispute #${id}`;
  $("detail-empty").hidden = true;
  $("detail-body").replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const detail = await get(`/api/reviews/disputes/${id}`);
    if (state.selected !== id) return;
    await learnPeople([...detail.history.map((e: Json) => e.actor_id), detail.decided_by, detail.worker_id,
      ...assignmentsOf(detail).map((a) => a.worker_id)]);
    renderDetail(detail);
  } catch (err) {
    $("detail-body").replaceChildren(h("p", { class: "notice bad" }, `Could not load dispute #${id}: ${errorText(err)}`));
  }
}

// -- drawing --------------------------------------------------------------------------------------

function svg(tag: string, attrs: Record<string, unknown> = {}, text?: string): SVGElement {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The image with objects drawn over it. objects: [{label, geometry, colour, tag, flagged, dashed}]. */
function overlay(image: Json, objects: Json, caption: Json) {
  const w = image.width || 100;
  const hgt = image.height || 100;
  const unit = Math.max(w, hgt) / 100; // stroke and text sizes relative to the image
  const root = svg("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "overlay", role: "img", "aria-label": caption });
  root.append(svg("image", { href: image.image_url, x: 0, y: 0, width: w, height: hgt, preserveAspectRatio: "none" }));
  const labels = [];
  for (const o of objects) {
    const g = o.geometry;
    const cls = `obj${o.flagged ? " flagged" : ""}${o.dashed ? " dashed" : ""}`;
    if (g && Array.isArray(g[0])) { // polygons: rings filled even-odd (holes stay open)
      root.append(svg("path", { d: ringsPath(g), class: cls, stroke: o.colour, style: `fill:${o.colour}`,
        "stroke-width": unit * 0.6 }));
      labels.push({ x: g[0][0], y: g[0][1], o });
    } else if (g && g.length === 4) {
      root.append(svg("rect", { x: g[0], y: g[1], width: Math.max(g[2], 0.5), height: Math.max(g[3], 0.5), class: cls,
        stroke: o.colour, "stroke-width": unit * 0.8 }));
      labels.push({ x: g[0], y: g[1], o });
    } else if (g && g.length === 2) {
      root.append(svg("circle", { cx: g[0], cy: g[1], r: unit * 1.6, class: cls, stroke: o.colour, fill: o.colour,
        "fill-opacity": 0.35, "stroke-width": unit * 0.6 }));
      labels.push({ x: g[0] + unit * 2, y: g[1] - unit * 2, o });
    }
  }
  for (const { x, y, o } of labels) {
    const text = `${o.tag} ${o.label}`;
    const size = unit * 3.4;
    const ty = Math.max(y, size + unit);
    root.append(svg("rect", { x, y: ty - size - unit * 0.4, width: text.length * size * 0.58 + unit, height: size + unit * 0.6,
      fill: o.colour, class: "tag-bg" }));
    root.append(svg("text", { x: x + unit * 0.5, y: ty - unit * 0.4, "font-size": size, class: "tag" }, text));
  }
  return root;
}

function classList(objects: Json) {
  if (!objects || !objects.length) return "nothing";
  return objects.map((o: Json) => o.label).join(", ");
}

function panel(title: Json, image: Json, objects: Json, jobType: Json, extra = null) {
  const caption = `${title}: ${jobType === "classification" ? classList(objects) : `${objects.length} object(s)`}`;
  return h("figure", { class: "panel" },
    overlay(image, jobType === "classification" ? [] : objects, caption),
    h("figcaption", {}, h("strong", {}, title),
      jobType === "classification" ? ` — ${classList(objects)}` : ` — ${objects.length} object(s)`, extra || ""));
}

function describe(c: Json, answer: Json, gt: Json) {
  const sim = c.similarity === null || c.similarity === undefined ? "" : ` (overlap ${c.similarity.toFixed(2)})`;
  const g = c.gt_index !== null && c.gt_index !== undefined ? `G${c.gt_index + 1}` : "";
  const w = c.submitted_index !== null && c.submitted_index !== undefined ? `W${c.submitted_index + 1}` : "";
  const gl = c.gt_label || (gt && gt[c.gt_index] ? gt[c.gt_index].label : "");
  const wl = c.submitted_label || (answer && answer[c.submitted_index] ? answer[c.submitted_index].label : "");
  switch (c.kind) {
    case "missing": return `${g} “${gl}” in the GT has no match in the worker's answer.`;
    case "extra": return `${w} “${wl}” in the worker's answer matches nothing in the GT.`;
    case "wrong_label": return `${w} is labelled “${wl}”; the GT ${g} says “${gl}”${sim}.`;
    case "low_overlap": return `${w} “${wl}” overlaps ${g} only loosely${sim}.`;
    default: return `${c.kind} ${g} ${w}${sim}`;
  }
}

function conflictList(conflicts: Json, answer: Json, gt: Json) {
  if (!conflicts.length) return h("p", { class: "muted small" }, "No conflicts on this image.");
  return h("ul", { class: "conflicts" }, conflicts.map((c: Json) => h("li", {},
    h("span", { class: `conflict ${c.kind}` }, CONFLICT_NAMES[c.kind] || c.kind), " ", describe(c, answer, gt))));
}

function itemView(item: Json, jobType: Json) {
  const answer = item.worker_answer || [];
  const gt = item.gt || [];
  const flaggedW = new Set(item.conflicts.map((c: Json) => c.submitted_index).filter((i: Json) => i !== null && i !== undefined));
  const flaggedG = new Set(item.conflicts.filter((c: Json) => c.kind === "missing" || c.kind === "wrong_label")
    .map((c: Json) => c.gt_index));
  const workerObjs = answer.map((o: Json, i: Json) => ({ ...o, tag: `W${i + 1}`, colour: flaggedW.has(i) ? "#d62828" : "#2456d6",
    flagged: flaggedW.has(i) }));
  const gtObjs = gt.map((o: Json, i: Json) => ({ ...o, tag: `G${i + 1}`, colour: flaggedG.has(i) ? "#d62828" : "#16794a",
    flagged: flaggedG.has(i), dashed: true }));
  const panels = [panel("Worker's answer", item, workerObjs, jobType)];
  if (item.is_gt) panels.push(panel("Ground truth", item, gtObjs, jobType));
  return h("div", { class: "item" },
    h("h4", {}, `Image ${item.position + 1}: ${item.image}`, item.is_gt ? h("span", { class: "gt-tag" }, "GT") : ""),
    h("div", { class: "side-by-side" }, panels),
    item.is_gt ? conflictList(item.conflicts, answer, gt) : "");
}

/** A video segment's two versions side by side (the player code loads only when one is shown). */
function segmentView(a: Json): HTMLElement {
  const holder = h("div", { class: "segment-holder" }, h("p", { class: "muted" }, "Loading the segment's frames…"));
  import("./video/compare.js").then(({ compareView }) => {
    holder.replaceChildren(compareView(a.segment, a.items[0] ? a.items[0].worker_answer : []));
  }).catch((err) => holder.replaceChildren(h("p", { class: "notice bad" }, `The player could not load: ${err}`)));
  return holder;
}

function assignmentView(a: Json, job: Json, { collapsed = false } = {}) {
  if (a.segment) {
    const section = h("section", { class: "assignment", dataset: { assignmentId: String(a.id) } },
      h("h3", {}, `Assignment #${a.id}`),
      h("p", { class: "meta" }, h("span", { class: `status ${a.status}` }, a.status), " ",
        `by ${who(a.worker_id)} · boxes ${pct(a.score)} vs target ${pct(job.accuracy_target)}`,
        a.segment.identity ? ` · IDF1 ${pct(a.segment.identity.idf1)} vs ${pct(a.segment.identity.idf1_target)}, ` +
          `${a.segment.identity.id_switches} ID switch(es)` : "",
        ` · submitted ${when(a.submitted_at)}`),
      segmentView(a));
    if (collapsed) return h("details", { class: "assignment-wrap" }, h("summary", {}, `Assignment #${a.id} · ${pct(a.score)}`), section);
    return section;
  }
  const gtItems = a.items.filter((i: Json) => i.is_gt);
  const others = a.items.filter((i: Json) => !i.is_gt);
  const below = a.score !== null && a.score < job.accuracy_target;
  const body = [
    h("p", { class: "meta" },
      h("span", { class: `status ${a.status}` }, a.status), " ",
      `by ${who(a.worker_id)} · score `, h("strong", { class: below ? "bad" : "" }, pct(a.score)),
      ` vs target ${pct(job.accuracy_target)} · submitted ${when(a.submitted_at)}`),
    ...gtItems.map((i: Json) => itemView(i, job.type)),
  ];
  if (others.length) {
    body.push(h("details", { class: "others" },
      h("summary", {}, `The worker's other ${others.length} image(s) (no reference to compare with)`),
      others.map((i: Json) => itemView(i, job.type))));
  }
  const section = h("section", { class: "assignment", dataset: { assignmentId: String(a.id) } },
    h("h3", {}, `Assignment #${a.id}`), ...body);
  if (collapsed) return h("details", { class: "assignment-wrap" }, h("summary", {}, `Assignment #${a.id} · ${pct(a.score)}`), section);
  return section;
}

function imageView(image: Json, details: Json, job: Json) {
  const answers = image.worker_answers || [];
  const objs: Json[] = [];
  const legend: HTMLElement[] = [];
  answers.forEach((ans: Json, n: Json) => {
    const colour = PALETTE[n % PALETTE.length];
    legend.push(h("li", {}, h("span", { class: "swatch", style: `background:${colour}` }),
      ` ${who(ans.worker_id)} — assignment #${ans.assignment_id} (${ans.status})`,
      job.type === "classification" ? `: ${classList(ans.answer)}` : ""));
    (ans.answer || []).forEach((o: Json) => objs.push({ ...o, tag: `#${n + 1}`, colour }));
  });
  const reference = image.is_gt ? image.gt || [] : ((details && details.merged) || []);
  const refTitle = image.is_gt ? "Ground truth" : "Merged result";
  const refObjs = reference.map((o: Json, i: Json) => ({ ...o, tag: image.is_gt ? `G${i + 1}` : `M${i + 1}`, colour: "#16794a", dashed: true,
    label: o.confidence !== undefined ? `${o.label} ${(o.confidence * 100).toFixed(0)}%` : o.label }));
  const stats = image.gt_stats;
  return h("section", { class: "image-ctx" },
    h("h3", {}, `Image: ${image.name}`, image.is_gt ? h("span", { class: "gt-tag" }, "GT") : ""),
    stats ? h("p", { class: "meta" }, `Used ${stats.uses} times, passed ${stats.accepted} · rating ${pct(stats.rating)}`,
      stats.retired ? ` · retired (${stats.retired_reason || "no reason"})` : " · in use") : "",
    h("div", { class: "side-by-side" },
      panel(`Workers' answers (${answers.length})`, image, objs, job.type),
      panel(refTitle, image, refObjs, job.type)),
    answers.length ? h("ul", { class: "legend" }, legend) : h("p", { class: "muted" }, "No scored answers on this image yet."));
}

// -- detail ---------------------------------------------------------------------------------------

function stitchView(link: Json): HTMLElement {
  return h("p", { class: "stitch", id: "stitch-link" },
    `In ${link.video}, the ${link.label} track #${link.segment_track} of the segment starting at frame ${link.frame} `,
    `was joined to exported track #${link.track}, and another track fitted almost as well. `,
    "Split it if the two are different objects.");
}

function assignmentsOf(d: Json) {
  const ctx = d.context || {};
  return [ctx.assignment, ...(ctx.chunk_assignments || [])].filter(Boolean);
}

function gtImagesOf(d: Json) {
  const ctx = d.context || {};
  const out = new Map();
  if (ctx.image && ctx.image.is_gt) out.set(ctx.image.id, ctx.image);
  for (const a of assignmentsOf(d)) {
    for (const i of a.items) if (i.is_gt) out.set(i.image_id, { id: i.image_id, name: i.image, gt: i.gt, answer: i.worker_answer });
  }
  return [...out.values()];
}

function availableActions(d: Json) {
  const assignments = assignmentsOf(d);
  const acts = ["uphold"];
  if (assignments.some((a) => a.status === "rejected")) acts.push("overturn");
  if (gtImagesOf(d).length) acts.push("fix_gt_label", "retire_gt", "restore_gt");
  if (d.worker_id || assignments.length) acts.push("ban_worker");
  if (d.chunk_id) acts.push("reopen_chunk");
  if (d.kind === "ambiguous_stitch") acts.push("unlink");
  return acts;
}

function historyView(d: Json) {
  return h("table", { class: "data history" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Who"),
      h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "Comment"))),
    h("tbody", {}, d.history.map((e: Json) => h("tr", {},
      h("td", {}, when(e.at)), h("td", {}, who(e.actor_id)), h("td", {}, e.action.replace("decided:", "decided: ")),
      h("td", {}, e.comment || "")))));
}

function accuracyText(acc: Json) {
  if (!acc || typeof acc !== "object") return pct(acc);
  if (!acc.gt_items) return "no GT items scored yet";
  const [lo, hi] = acc.interval || [];
  return `${pct(acc.estimate)} on ${acc.gt_items} GT item(s)` + (lo !== undefined ? ` (95%: ${pct(lo)}–${pct(hi)})` : "");
}

function workerView(w: Json) {
  return h("p", { class: "meta worker-ctx" }, `${who(w.id)}: GT accuracy ${accuracyText(w.gt_accuracy)} · sequential test `,
    h("strong", {}, w.sprt_decision), ` · ${w.too_fast_count} too-fast flag(s)`, w.banned ? " · banned in this job" : "");
}

function renderDetail(d: Json) {
  state.detail = d;
  const ctx = d.context || {};
  const job = ctx.job || { type: "boxes", accuracy_target: 0 };
  $("detail-heading").textContent = `Dispute #${d.id}: ${KIND_NAMES[d.kind] || d.kind}`;
  const parts: HTMLElement[] = [
    h("p", { class: "meta" },
      h("span", { class: `status ${d.status === "open" ? "submitted" : "accepted"}`, id: "dispute-status" },
        d.status === "open" ? "open" : `decided: ${d.decision}`),
      ` Job `, h("a", { href: `/jobs/${d.job_id}` }, `#${d.job_id}`), ` (${job.type}, target ${pct(job.accuracy_target)})`,
      ` · ${d.subject} · opened ${when(d.created_at)}`),
    h("blockquote", { class: "reason" }, d.reason || "(no reason given)"),
  ];
  if (ctx.worker) parts.push(workerView(ctx.worker));
  if (ctx.assignment) parts.push(assignmentView(ctx.assignment, job));
  const chunk = ctx.chunk_assignments || [];
  if (chunk.length) {
    parts.push(h("h3", {}, `Rejected attempts on this chunk (${chunk.length})`));
    chunk.forEach((a: Json, n: Json) => parts.push(assignmentView(a, job, { collapsed: n > 0 })));
  }
  if (d.kind === "ambiguous_stitch" && d.details) parts.push(stitchView(d.details));
  else if (ctx.image && ctx.image.name && !String(job.type).startsWith("video")) parts.push(imageView(ctx.image, d.details, job));
  parts.push(h("h3", {}, "History"), historyView(d));
  parts.push(d.status === "open" ? decisionForm(d)
    : h("p", { class: "notice", id: "decision-summary" },
      `Decided “${(ACTIONS[d.decision] || [d.decision])[0]}” by ${who(d.decided_by)} on ${when(d.decided_at)}.`));
  $("detail-body").replaceChildren(...parts);
  document.body.dataset.disputeLoaded = String(d.id);
}

// -- deciding -------------------------------------------------------------------------------------

function field(id: Json, label: Json, control: Json, hint = "") {
  return h("div", { class: "field", id: `${id}-field` }, h("label", { for: id }, label), control,
    hint ? h("p", { class: "hint" }, hint) : "");
}

function decisionForm(d: Json) {
  const acts = availableActions(d);
  const assignments = assignmentsOf(d);
  const rejected = assignments.filter((a) => a.status === "rejected");
  const gtImages = gtImagesOf(d);
  const workerKnown = Boolean(d.worker_id || d.assignment_id);

  const radios = h("fieldset", { class: "field actions-choice" }, h("legend", { class: "h3" }, "Your decision"),
    acts.map((a, n) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "action", value: a, checked: n === 0 }), " ",
      h("strong", {}, ACTIONS[a][0]), h("span", { class: "muted" }, ` — ${ACTIONS[a][1]}`))));

  const assignmentSelect = h("select", { id: "d-assignment" },
    rejected.map((a) => h("option", { value: String(a.id) }, `#${a.id} by ${who(a.worker_id)} (${pct(a.score)})`)));
  const imageSelect = h("select", { id: "d-image" },
    gtImages.map((i) => h("option", { value: String(i.id) }, `${i.name} (image #${i.id})`)));
  const workerSelect = h("select", { id: "d-worker" },
    [...new Set(assignments.map((a) => a.worker_id))].map((w) => h("option", { value: String(w) }, who(w))));
  const gtText = h("textarea", { id: "d-gt", rows: "4", spellcheck: "false", class: "mono" });
  const comment = h("textarea", { id: "d-comment", rows: "2", maxlength: "4000" });
  const errorBox = h("div", { id: "decision-error", role: "alert" });

  const fields = {
    assignment: field("d-assignment", "Assignment to overturn", assignmentSelect),
    image: field("d-image", "GT image", imageSelect),
    worker: field("d-worker", "Worker to ban", workerSelect),
    gt: field("d-gt", "Correct GT objects (JSON)", gtText,
      `One object per entry: {"label": …, "geometry": ${({ boxes: "[x, y, w, h]", points: "[x, y]", polygons: "[[x0, y0, x1, y1, …], …]" } as Record<string, string>)[jobTypeOf(d)] || "null"}}. ` +
      "Prefilled with the worker's answer on that image."),
  };
  const prefill = () => {
    const img = gtImages.find((i) => String(i.id) === imageSelect.value);
    const objs = img ? (img.answer || (d.context.image && d.context.image.worker_answers[0]
      ? d.context.image.worker_answers[0].answer : img.gt) || []) : [];
    gtText.value = JSON.stringify(objs.map((o: Json) => ({ label: o.label, geometry: o.geometry ?? null })));
  };
  imageSelect.addEventListener("change", prefill);
  prefill();

  const form = h("form", { class: "decision", id: "decision-form" },
    radios, fields.assignment, fields.image, fields.worker, fields.gt,
    field("d-comment", "Comment (recorded with your decision)", comment), errorBox,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Record decision")));

  const chosen = () => one(form, "input[name=action]:checked", HTMLInputElement).value;
  const update = () => {
    const a = chosen();
    fields.assignment.hidden = !(a === "overturn" && (rejected.length > 1 || !d.assignment_id));
    fields.image.hidden = !(["fix_gt_label", "retire_gt", "restore_gt"].includes(a) && (gtImages.length > 1 || !d.image_id));
    fields.worker.hidden = !(a === "ban_worker" && !workerKnown);
    fields.gt.hidden = a !== "fix_gt_label";
  };
  form.addEventListener("change", update);
  update();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const action = chosen();
    const body: Json = { action, comment: comment.value.trim() };
    if (!fields.assignment.hidden || (action === "overturn" && !d.assignment_id)) body.assignment_id = Number(assignmentSelect.value);
    if (["fix_gt_label", "retire_gt", "restore_gt"].includes(action) && !d.image_id) body.image_id = Number(imageSelect.value);
    if (action === "ban_worker" && !workerKnown) body.worker_id = Number(workerSelect.value);
    if (action === "fix_gt_label") {
      try {
        body.gt_objects = JSON.parse(gtText.value || "[]");
      } catch {
        errorBox.replaceChildren(h("p", { class: "field-error" }, "The GT objects are not valid JSON."));
        return;
      }
    }
    const button = one(form, "button[type=submit]", HTMLButtonElement);
    button.disabled = true;
    errorBox.replaceChildren();
    try {
      const decided = await post(`/api/reviews/disputes/${d.id}/decide`, body);
      await learnPeople([decided.decided_by]);
      renderDetail(decided);
      await loadQueue();
    } catch (err) {
      button.disabled = false;
      errorBox.replaceChildren(h("p", { class: "form-error" }, `Not recorded: ${errorText(err)}`));
    }
  });
  return form;
}

function jobTypeOf(d: Json) { return ((d.context || {}).job || {}).type; }

// -- start ----------------------------------------------------------------------------------------

$("filters").addEventListener("submit", (e) => {
  e.preventDefault();
  syncUrl();
  loadQueue();
});
for (const id of ["f-kind", "f-status"]) $(id).addEventListener("change", () => { syncUrl(); loadQueue(); });

const wanted = readUrl();
loadQueue().then(() => {
  const first = wanted || (state.disputes[0] && state.disputes[0].id);
  if (first) select(first);
});
