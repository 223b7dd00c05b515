// The requester's create-job form: upload images or give a data location, upload GT COCO, labels,
// type, target, bounty, rail. Intake errors appear next to the field they concern.
import type { Json } from "./api.js";
import { byId, ApiError, api, currencyInfo, pageConfig, errorText, field, one, toUnits } from "./api.js";
import { parseAttributeLines } from "./attribute_lines.js";

const $ = byId;
const form = $("job-form", HTMLFormElement);
const MONEY: Record<string, Json> = pageConfig().currencies || {};
// server field → the form field whose error slot shows it
const SLOT: Record<string, string | null> = { data: null, spec: null, time_limit_s: "time_limit_s", bounty_amount: "bounty_amount" };

function source(): string { return one(form, "input[name=source]:checked", HTMLInputElement).value; }

function clearErrors() {
  form.querySelectorAll<HTMLElement>(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  $("form-error").hidden = true;
}

function fieldError(field: Json, message: Json) {
  let slot = field in SLOT ? SLOT[field] : field;
  if (slot === null) slot = field === "data" ? (source() === "upload" ? "images" : "data_uri") : null;
  const p = slot ? $(`${slot}-error`) : null;
  if (!p) {
    const box = $("form-error");
    box.textContent = box.hidden ? message : `${box.textContent} ${message}`;
    box.hidden = false;
    return;
  }
  p.textContent = p.hidden ? message : `${p.textContent} ${message}`;
  p.hidden = false;
  p.setAttribute("role", "alert");
  const control = form.querySelector(`[aria-describedby~="${slot}-error"]`);
  if (control) control.setAttribute("aria-invalid", "true");
}

/** "labels: Value error, must be unique; bounty_amount: ..." → errors next to each named field. */
function showApiError(err: Json) {
  const detail = err.message || "The job was not created.";
  const pieces = detail.split("; ").map((part: Json) => {
    const m = /^([a-z_]+)(?:\.[\w.]+)?: (.*)$/.exec(part);
    return m && document.getElementById(`${m[1]}-error`) ? [m[1], m[2].replace(/^Value error, /, "")] : null;
  });
  // request validation names every problem in `problems`; other errors name one `field`
  const listed = Array.isArray(err.body.problems);
  if ((listed || !err.field || err.field === "spec") && pieces.length && pieces.every(Boolean)) {
    pieces.forEach((piece: string[] | null) => { if (piece) fieldError(piece[0], piece[1]); });
  } else {
    fieldError(err.field || "", detail);
  }
  const first = form.querySelector<HTMLElement>("[aria-invalid=true]");
  if (first) first.focus();
}

function intValue(id: string) { return Number.parseInt(field(id).value, 10); }

function spec() {
  const currency = field("currency").value.trim().toLowerCase();
  const labels = field("labels").value.split("\n").map((s: Json) => s.trim()).filter(Boolean);
  const body: Json = {
    type: field("type").value,
    title: field("title").value.trim(),
    description: field("description").value,
    labels,
    accuracy_target: Number(field("accuracy_target").value) / 100,
    rail: field("rail").value,
    currency,
    assignment_size: intValue("assignment_size"),
    gt_per_assignment: intValue("gt_per_assignment"),
    time_limit_s: intValue("time_limit_min") * 60,
    overlap: intValue("overlap"),
    max_attempts: intValue("max_attempts"),
    gt_spot_check: Number(field("gt_spot_check").value) / 100,
    confidence_threshold: Number(field("confidence_threshold").value) / 100,
    share_reliability: $("share_reliability", HTMLInputElement).checked,
  };
  const cap = field("max_overlap").value.trim();
  if (cap) body.max_overlap = Number.parseInt(cap, 10);
  const guide = field("guide_url").value.trim();
  if (guide) body.guide_url = guide;
  const attributes = parseAttributeLines(field("attributes").value);
  if (attributes.specs?.length) body.attributes = attributes.specs;
  return body;
}

function checkLocally(body: Json, units: Json) {
  let ok = true;
  const need = (cond: Json, field: Json, msg: Json) => { if (!cond) { fieldError(field, msg); ok = false; } };
  need(body.title, "title", "Give the job a title.");
  const attributes = parseAttributeLines(field("attributes").value);
  if (attributes.error) need(false, "attributes", attributes.error);
  need(body.labels.length, "labels", "Add at least one label.");
  need(body.currency, "currency", "Name the currency.");
  const decimals = currencyInfo(body.currency)?.decimals ?? 0;
  need(units !== null && units !== "0", "bounty_amount", decimals
    ? `Enter the bounty as an amount like 250 or 250.${"5".padEnd(Math.min(decimals, 2), "0")}.`
    : "Enter the bounty as a whole number of token base units.");
  need(($("gt", HTMLInputElement).files || []).length === 1, "gt", "Choose the ground-truth COCO JSON file.");
  if (source() === "upload") need(($("images", HTMLInputElement).files || []).length > 0, "images", "Choose the image files to annotate.");
  else need(field("data_uri").value.trim(), "data_uri", "Enter an s3://bucket/prefix or a server folder.");
  return ok;
}

async function submit(event: Json) {
  event.preventDefault();
  clearErrors();
  const body = spec();
  const units = toUnits(field("bounty").value, body.currency);
  if (!checkLocally(body, units)) { form.querySelector<HTMLElement>("[aria-invalid=true]")?.focus(); return; }
  body.bounty_amount = Number(units) <= Number.MAX_SAFE_INTEGER ? Number(units) : units;
  const button = $("create-btn", HTMLButtonElement);
  button.disabled = true;
  $("create-status").textContent = "Creating the job and checking the data…";
  try {
    let job;
    if (source() === "upload") {
      const data = new FormData();
      data.append("spec", JSON.stringify(body));
      data.append("gt", ($("gt", HTMLInputElement).files || [])[0]);
      for (const file of $("images", HTMLInputElement).files || []) data.append("images", file);
      job = await api("POST", "/api/jobs/upload", data, { form: true });
    } else {
      let gt;
      try {
        gt = JSON.parse(await ($("gt", HTMLInputElement).files || [])[0].text());
      } catch (err) {
        fieldError("gt", `This file is not valid JSON: ${errorText(err)}`);
        return;
      }
      job = await api("POST", "/api/jobs", { ...body, data_uri: field("data_uri").value.trim(), gt });
    }
    location.assign(`/jobs/${job.id}`);
  } catch (err) {
    if (err instanceof ApiError) showApiError(err);
    else fieldError("", `The job was not created: ${errorText(err)}`);
  } finally {
    button.disabled = false;
    $("create-status").textContent = "";
  }
}

/** The categories a COCO file's annotations use, in the file's order (all of them if none is used). */
async function labelsFromGt() {
  clearErrors();
  const file = ($("gt", HTMLInputElement).files || [])[0];
  if (!file) { fieldError("gt", "Choose the ground-truth COCO JSON file first."); $("gt").focus(); return; }
  let coco;
  try {
    coco = JSON.parse(await file.text());
  } catch (err) {
    fieldError("gt", `This file is not valid JSON: ${errorText(err)}`);
    return;
  }
  const cats = Array.isArray(coco.categories) ? coco.categories : [];
  const used = new Set((Array.isArray(coco.annotations) ? coco.annotations : []).map((a: Json) => a.category_id));
  const names = cats.filter((c: Json) => !used.size || used.has(c.id)).map((c: Json) => String(c.name ?? "").trim()).filter(Boolean);
  if (!names.length) { fieldError("gt", "This file has no categories to take labels from."); return; }
  field("labels").value = [...new Set(names)].join("\n");
}

function syncSource() {
  $("upload-field").hidden = source() !== "upload";
  $("uri-field").hidden = source() === "upload";
}

function syncUnits() {
  const code = field("currency").value.trim().toLowerCase();
  const info = currencyInfo(code);
  $("bounty-unit").textContent = !info ? "(token base units)"
    : info.symbol === "$" ? `(${code.toUpperCase()})` : `(${info.symbol})`;
}

/** The currencies each rail takes on this server; a rail that is off is marked and cannot be picked. */
function railCurrencies(rail: Json) {
  return Object.entries(MONEY).filter(([, m]) => m.rail === rail).map(([code]) => code);
}

function offerRails() {
  for (const option of $("rail", HTMLSelectElement).options) {
    const on = Object.values(MONEY).some((m) => m.rail === option.value && m.enabled);
    if (!on && Object.keys(MONEY).length) {
      option.disabled = true;
      option.textContent += " — off on this server";
    }
  }
  if ($("rail", HTMLSelectElement).selectedOptions[0]?.disabled) {
    const first = [...$("rail", HTMLSelectElement).options].find((o) => !o.disabled);
    if (first) field("rail").value = first.value;
  }
}

function syncRail() {
  const cur = field("currency");
  const offered = railCurrencies(field("rail").value);
  if (offered.length && !offered.includes(cur.value.trim().toLowerCase())) cur.value = offered[0];
  const list = $("currency-options");
  list.replaceChildren(...offered.map((code) => Object.assign(document.createElement("option"), { value: code })));
  syncUnits();
}

form.addEventListener("submit", submit);
form.querySelectorAll("input[name=source]").forEach((r) => r.addEventListener("change", syncSource));
$("currency").addEventListener("input", syncUnits);
$("rail").addEventListener("change", syncRail);
$("labels-from-gt").addEventListener("click", labelsFromGt);
offerRails();
syncSource();
syncRail();

