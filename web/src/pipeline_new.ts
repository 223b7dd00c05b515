// The requester's create-pipeline form: images and GT uploaded, annotate stages (name, labels, bounty,
// team, assignment size) and the QA stage (bounty, team, custom statuses). Sent to
// POST /api/pipelines/upload; what the server refuses is listed in the form, stage by stage.
import { api, ApiError, byId, currencyInfo, errorText, field, h, pageConfig, toUnits } from "./api.js";
import type { Json } from "./api.js";

const $ = byId;
const form = $("pipeline-form", HTMLFormElement);
const MONEY: Record<string, Json> = pageConfig().currencies || {};
let added = 0;

function addStage(name = "", labels = ""): void {
  added += 1;
  const n = added;
  const id = (what: string) => `stage-${n}-${what}`;
  const input = (what: string, text: string, attrs: Record<string, string> = {}) => h("div", { class: "field" },
    h("label", { for: id(what) }, text), h("input", { id: id(what), type: "text", ...attrs }));
  const box = h("fieldset", { class: "card annotate-stage", dataset: { stage: String(n) } },
    h("legend", {}, `Annotate stage ${n}`),
    h("div", { class: "grid3" },
      input("name", `Stage ${n} name`, { maxlength: "100", value: name }),
      input("labels", `Stage ${n} labels (commas)`, { value: labels, placeholder: "e.g. car, truck" }),
      input("bounty", `Stage ${n} bounty`, { inputmode: "decimal" }),
      input("team", `Stage ${n} team (worker ids, optional)`, { placeholder: "e.g. 12, 13" }),
      input("size", `Stage ${n} images per assignment`, { inputmode: "numeric", value: "10" }),
      input("gt", `Stage ${n} hidden GT images per assignment`, { inputmode: "numeric", value: "2" })),
    h("button", { type: "button", class: "danger", onclick: () => { box.remove(); } }, `Remove stage ${n}`));
  $("annotate-stages").append(box);
}

class Invalid extends Error {}

function ids(text: string, what: string): number[] | undefined {
  const parts = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (!parts.length) return undefined;
  if (!parts.every((p) => /^\d+$/.test(p))) throw new Invalid(`${what}: worker ids are whole numbers separated by commas.`);
  return parts.map(Number);
}

function units(text: string, currency: string, what: string): number | string {
  const u = toUnits(text, currency);
  if (u === null || u === "0") throw new Invalid(`${what}: enter an amount like 250 or 12.50.`);
  return Number(u) <= Number.MAX_SAFE_INTEGER ? Number(u) : u;
}

function spec(): Json {
  const currency = field("currency").value.trim().toLowerCase();
  const stages: Json[] = [];
  for (const box of form.querySelectorAll<HTMLElement>(".annotate-stage")) {
    const v = (what: string) => field(`stage-${box.dataset.stage}-${what}`).value.trim();
    const name = v("name") || `stage ${stages.length + 1}`;
    const stage: Json = { kind: "annotate", name, labels: v("labels").split(",").map((s) => s.trim()).filter(Boolean),
      bounty_amount: units(v("bounty"), currency, `${name} bounty`),
      assignment_size: Number.parseInt(v("size"), 10), gt_per_assignment: Number.parseInt(v("gt"), 10) };
    if (!stage.labels.length) throw new Invalid(`${name}: give the stage at least one label.`);
    const team = ids(v("team"), `${name} team`);
    if (team) stage.members = team;
    stages.push(stage);
  }
  if (!stages.length) throw new Invalid("Add at least one annotate stage.");
  const qa: Json = { kind: "qa", name: field("qa-name").value.trim() || "QA",
    bounty_amount: units(field("qa-bounty").value, currency, "QA bounty") };
  const team = ids(field("qa-team").value, "QA team");
  if (team) qa.members = team;
  const routes = field("qa-routes").value.split("\n").map((s) => s.trim()).filter(Boolean).map((line) => {
    const at = line.lastIndexOf(":");
    const members = at > 0 ? ids(line.slice(at + 1), `custom status "${line}"`) : undefined;
    if (!members) throw new Invalid(`Custom status "${line}": write it as "status: worker ids".`);
    return { status: line.slice(0, at).trim(), members };
  });
  if (routes.length) qa.routes = routes;
  return { title: field("title").value.trim(), description: field("description").value, rail: field("rail").value,
    currency, stages: [...stages, qa], in_sequence: (field("in_sequence") as HTMLInputElement).checked };
}

/** The server's "stages.1.annotate.labels: Value error, ..." lines, in words a person reads. */
function problems(detail: string): string[] {
  return detail.split(/; (?=[\w.]*: )/).map((p) => p
    .replace(/^stages\.(\d+)\.(annotate|qa)\./, (_, k) => `stage ${Number(k) + 1}: `)
    .replace(/^stages\.(\d+)/, (_, k) => `stage ${Number(k) + 1}`)
    .replace("Value error, ", "").replace(/^: /, ""));
}

function fail(lines: string[]): void {
  const box = $("form-error");
  box.replaceChildren(h("p", {}, "The pipeline was not created:"), h("ul", {}, lines.map((l) => h("li", {}, l))));
  box.hidden = false;
  box.focus();
}

async function submit(event: Event): Promise<void> {
  event.preventDefault();
  $("form-error").hidden = true;
  let body: Json;
  try {
    body = spec();
    if (!body.title) throw new Invalid("Give the pipeline a title.");
    if (!($("gt", HTMLInputElement).files || []).length) throw new Invalid("Choose the ground-truth COCO JSON file.");
    if (!($("images", HTMLInputElement).files || []).length) throw new Invalid("Choose the image files.");
  } catch (err) {
    fail([errorText(err)]);
    return;
  }
  const data = new FormData();
  data.append("spec", JSON.stringify(body));
  data.append("gt", ($("gt", HTMLInputElement).files || [])[0]);
  for (const file of $("images", HTMLInputElement).files || []) data.append("images", file);
  const button = $("create-btn", HTMLButtonElement);
  button.disabled = true;
  $("create-status").textContent = "Creating the pipeline and checking the data…";
  try {
    const pipeline = await api("POST", "/api/pipelines/upload", data, { form: true });
    location.assign(`/pipelines/${pipeline.id}`);
  } catch (err) {
    fail(err instanceof ApiError ? problems(err.message) : [errorText(err)]);
  } finally {
    button.disabled = false;
    $("create-status").textContent = "";
  }
}

function syncRail(): void {
  const offered = Object.entries(MONEY).filter(([, m]) => m.rail === field("rail").value).map(([code]) => code);
  const cur = field("currency");
  if (offered.length && !offered.includes(cur.value.trim().toLowerCase())) cur.value = offered[0];
  $("currency-options").replaceChildren(...offered.map((code) => h("option", { value: code })));
  syncUnit();
}

function syncUnit(): void {
  const code = field("currency").value.trim().toLowerCase();
  const info = currencyInfo(code);
  $("bounty-unit").textContent = !info ? "token base units" : info.symbol === "$" ? code.toUpperCase() : info.symbol;
}

$("form-error").tabIndex = -1;
form.addEventListener("submit", submit);
$("add-stage").addEventListener("click", () => addStage());
$("rail").addEventListener("change", syncRail);
$("currency").addEventListener("input", syncUnit);
addStage();
syncRail();
