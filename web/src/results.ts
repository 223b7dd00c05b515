// The requester's results browser: every data image with the merged objects drawn on it, least sure
// first (or filtered to the images the workers disagree on); clicking one shows each worker's version.
import type { Json } from "./api.js";
import { byId, get, h, pageConfig, errorText } from "./api.js";
import { COLORS, ringsPath } from "./editor/geometry.js";

const $ = byId;
const { job_id: jobId } = pageConfig();
const PAGE = 48;
const SVG = "http://www.w3.org/2000/svg";
let labels: string[] = [];
let shown = 0;

function color(label: Json) {
  const i = labels.indexOf(label);
  return COLORS[(i < 0 ? labels.length : i) % COLORS.length];
}

function svg(tag: string, attrs: Record<string, unknown> = {}, text: string | null = null): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== null) el.textContent = text;
  return el;
}

/** An image with objects drawn over it in image pixels (boxes [x, y, w, h], points [x, y], polygons
 * [[x0, y0, x1, y1, ...], ...]). */
function figure(item: Json, objects: Json) {
  const width = item.width || 100;
  const height = item.height || 100;
  const overlay = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", "aria-hidden": "true" });
  const size = Math.max(width, height);
  const tags: HTMLElement[] = [];
  // labels are HTML placed in percent of the image, so they keep a readable size at any zoom
  const tag = (label: Json, x: Json, y: Json, stroke: Json) => tags.push(h("span", { class: "tag",
    style: `left:${(100 * x) / width}%;top:${(100 * y) / height}%;border-color:${stroke};background:${stroke}` }, label));
  for (const o of objects) {
    const g = o.geometry || [];
    const stroke = color(o.label);
    if (Array.isArray(g[0])) { // polygons: rings filled even-odd
      overlay.append(svg("path", { class: "shape", d: ringsPath(g), stroke, fill: stroke }));
      tag(o.label, g[0][0], g[0][1], stroke);
    } else if (g.length === 4) {
      overlay.append(svg("rect", { class: "box", x: g[0], y: g[1], width: g[2], height: g[3], stroke }));
      tag(o.label, g[0], g[1], stroke);
    } else if (g.length === 2) {
      overlay.append(svg("circle", { cx: g[0], cy: g[1], r: Math.max(2, size / 100), fill: stroke, stroke: "#fff" }));
      tag(o.label, g[0], g[1], stroke);
    }
  }
  return h("div", { class: "figure" }, h("img", { src: item.image_url, alt: item.name, loading: "lazy" }), overlay,
    ...tags);
}

function describe(objects: Json) {
  if (!objects.length) return "nothing";
  const counts = new Map();
  for (const o of objects) counts.set(o.label, (counts.get(o.label) || 0) + 1);
  return [...counts].map(([label, n]) => (n > 1 ? `${n}× ${label}` : label)).join(", ");
}

function pct(v: Json) { return `${Math.round(v * 100)}%`; }

function thumb(item: Json) {
  const button = h("button", { type: "button", class: "thumb", "aria-label": `${item.name}: every worker's version` },
    figure(item, item.objects));
  button.addEventListener("click", () => openVersions(item.image_id));
  return h("li", { class: item.low_agreement ? "low" : "" }, button,
    h("div", { class: "meta" },
      h("strong", {}, item.name), h("br"),
      item.workers ? `${describe(item.objects)} · sure ${pct(item.confidence)} · ${item.workers} worker(s)`
        : "not worked on yet",
      item.low_agreement ? h("span", { class: "status validating" }, " workers disagree") : ""));
}

async function load(reset: Json) {
  const params = new URLSearchParams({
    order: $("order", HTMLSelectElement).value, low_only: String($("low-only", HTMLInputElement).checked), limit: String(PAGE),
    offset: String(reset ? 0 : shown),
  });
  let page;
  try {
    page = await get(`/api/jobs/${jobId}/result-images?${params}`);
  } catch (err) {
    $("results-status").replaceChildren(h("p", { class: "notice bad" }, `Could not load the results: ${errorText(err)}`));
    return;
  }
  labels = page.labels;
  if (reset) { $("thumbs").replaceChildren(); shown = 0; }
  $("thumbs").append(...page.items.map(thumb));
  shown += page.items.length;
  $("results-summary").textContent = `${page.total} image(s)` +
    (page.low_agreement ? `, ${page.low_agreement} where the workers disagree` : "") + ".";
  $("results-status").replaceChildren(page.total ? "" : h("p", { class: "empty" }, "No images match."));
  $("more").hidden = shown >= page.total;
  document.body.dataset.loaded = "1";
}

async function openVersions(imageId: Json) {
  const data = await get(`/api/jobs/${jobId}/result-images/${imageId}`);
  const choices = [["merged", "Merged", data.merged],
    ...data.workers.map((w: Json) => [`w${w.assignment_id}`, `Worker ${w.worker_id} (${w.status})`, w.objects])];
  const show = (objects: Json) => {
    $("version-figure").replaceChildren(figure(data, objects));
    $("version-objects").replaceChildren(...objects.map((o: Json) => h("li", {},
      `${o.label}${o.confidence !== undefined ? ` — sure ${pct(o.confidence)}, ${o.support} worker(s)` : ""}`)));
  };
  $("versions-title").textContent = data.name;
  $("version-choice").replaceChildren(h("legend", {}, "Show"), ...choices.map(([id, text, objects], i) => {
    const input = h("input", { type: "radio", name: "version", id, value: id });
    input.checked = i === 0;
    input.addEventListener("change", () => show(objects));
    return h("label", { class: "choice", for: id }, input, ` ${text}`);
  }));
  show(data.merged);
  $("versions", HTMLDialogElement).showModal();
}

$("order").addEventListener("change", () => load(true));
$("low-only").addEventListener("change", () => load(true));
$("more").addEventListener("click", () => load(false));
load(true);
