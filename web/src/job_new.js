// The requester's create-job form: upload images or give a data location, upload GT COCO, labels,
// type, target, bounty, rail. Intake errors appear next to the field they concern.
import { ApiError, api, currencyInfo, pageConfig } from "./api.js";

const $ = (id) => document.getElementById(id);
const form = $("job-form");
const MONEY = pageConfig().currencies || {};
// server field → the form field whose error slot shows it
const SLOT = { data: null, spec: null, time_limit_s: "time_limit_s", bounty_amount: "bounty_amount" };

function source() { return form.querySelector("input[name=source]:checked").value; }

function clearErrors() {
  form.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  $("form-error").hidden = true;
}

function fieldError(field, message) {
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
function showApiError(err) {
  const detail = err.message || "The job was not created.";
  const pieces = detail.split("; ").map((part) => {
    const m = /^([a-z_]+)(?:\.[\w.]+)?: (.*)$/.exec(part);
    return m && $(`${m[1]}-error`) ? [m[1], m[2].replace(/^Value error, /, "")] : null;
  });
  // request validation names every problem in `problems`; other errors name one `field`
  const listed = Array.isArray(err.body.problems);
  if ((listed || !err.field || err.field === "spec") && pieces.length && pieces.every(Boolean)) {
    pieces.forEach(([f, msg]) => fieldError(f, msg));
  } else {
    fieldError(err.field || "", detail);
  }
  const first = form.querySelector("[aria-invalid=true]");
  if (first) first.focus();
}

/** Decimal text → integer base units without floats ("12.5" → 1250 cents; "600" → 600000000 for a
 * 6-decimal token). A currency the server does not know is given in base units. */
function toUnits(text, currency) {
  const t = text.trim().replace(/,/g, "");
  const decimals = currencyInfo(currency)?.decimals ?? 0;
  const m = decimals ? new RegExp(`^(\\d+)(?:\\.(\\d{1,${decimals}}))?$`).exec(t) : /^(\d+)$/.exec(t);
  if (!m) return null;
  return `${m[1]}${(m[2] || "").padEnd(decimals, "0")}`.replace(/^0+(?=\d)/, "");
}

function intValue(id) { return Number.parseInt($(id).value, 10); }

function spec() {
  const currency = $("currency").value.trim().toLowerCase();
  const labels = $("labels").value.split("\n").map((s) => s.trim()).filter(Boolean);
  const body = {
    type: $("type").value,
    title: $("title").value.trim(),
    description: $("description").value,
    labels,
    accuracy_target: Number($("accuracy_target").value) / 100,
    rail: $("rail").value,
    currency,
    assignment_size: intValue("assignment_size"),
    gt_per_assignment: intValue("gt_per_assignment"),
    time_limit_s: intValue("time_limit_min") * 60,
    overlap: intValue("overlap"),
    max_attempts: intValue("max_attempts"),
    gt_spot_check: Number($("gt_spot_check").value) / 100,
    confidence_threshold: Number($("confidence_threshold").value) / 100,
    share_reliability: $("share_reliability").checked,
  };
  const cap = $("max_overlap").value.trim();
  if (cap) body.max_overlap = Number.parseInt(cap, 10);
  const guide = $("guide_url").value.trim();
  if (guide) body.guide_url = guide;
  return body;
}

function checkLocally(body, units) {
  let ok = true;
  const need = (cond, field, msg) => { if (!cond) { fieldError(field, msg); ok = false; } };
  need(body.title, "title", "Give the job a title.");
  need(body.labels.length, "labels", "Add at least one label.");
  need(body.currency, "currency", "Name the currency.");
  const decimals = currencyInfo(body.currency)?.decimals ?? 0;
  need(units !== null && units !== "0", "bounty_amount", decimals
    ? `Enter the bounty as an amount like 250 or 250.${"5".padEnd(Math.min(decimals, 2), "0")}.`
    : "Enter the bounty as a whole number of token base units.");
  need($("gt").files.length === 1, "gt", "Choose the ground-truth COCO JSON file.");
  if (source() === "upload") need($("images").files.length > 0, "images", "Choose the image files to annotate.");
  else need($("data_uri").value.trim(), "data_uri", "Enter an s3://bucket/prefix or a server folder.");
  return ok;
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const body = spec();
  const units = toUnits($("bounty").value, body.currency);
  if (!checkLocally(body, units)) { form.querySelector("[aria-invalid=true]")?.focus(); return; }
  body.bounty_amount = Number(units) <= Number.MAX_SAFE_INTEGER ? Number(units) : units;
  const button = $("create-btn");
  button.disabled = true;
  $("create-status").textContent = "Creating the job and checking the data…";
  try {
    let job;
    if (source() === "upload") {
      const data = new FormData();
      data.append("spec", JSON.stringify(body));
      data.append("gt", $("gt").files[0]);
      for (const file of $("images").files) data.append("images", file);
      job = await api("POST", "/api/jobs/upload", data, { form: true });
    } else {
      let gt;
      try {
        gt = JSON.parse(await $("gt").files[0].text());
      } catch (err) {
        fieldError("gt", `This file is not valid JSON: ${err.message}`);
        return;
      }
      job = await api("POST", "/api/jobs", { ...body, data_uri: $("data_uri").value.trim(), gt });
    }
    location.assign(`/jobs/${job.id}`);
  } catch (err) {
    if (err instanceof ApiError) showApiError(err);
    else fieldError("", `The job was not created: ${err.message}`);
  } finally {
    button.disabled = false;
    $("create-status").textContent = "";
  }
}

/** The categories a COCO file's annotations use, in the file's order (all of them if none is used). */
async function labelsFromGt() {
  clearErrors();
  const file = $("gt").files[0];
  if (!file) { fieldError("gt", "Choose the ground-truth COCO JSON file first."); $("gt").focus(); return; }
  let coco;
  try {
    coco = JSON.parse(await file.text());
  } catch (err) {
    fieldError("gt", `This file is not valid JSON: ${err.message}`);
    return;
  }
  const cats = Array.isArray(coco.categories) ? coco.categories : [];
  const used = new Set((Array.isArray(coco.annotations) ? coco.annotations : []).map((a) => a.category_id));
  const names = cats.filter((c) => !used.size || used.has(c.id)).map((c) => String(c.name ?? "").trim()).filter(Boolean);
  if (!names.length) { fieldError("gt", "This file has no categories to take labels from."); return; }
  $("labels").value = [...new Set(names)].join("\n");
}

function syncSource() {
  $("upload-field").hidden = source() !== "upload";
  $("uri-field").hidden = source() === "upload";
}

function syncUnits() {
  const code = $("currency").value.trim().toLowerCase();
  const info = currencyInfo(code);
  $("bounty-unit").textContent = !info ? "(token base units)"
    : info.symbol === "$" ? `(${code.toUpperCase()})` : `(${info.symbol})`;
}

/** The currencies each rail takes on this server; a rail that is off is marked and cannot be picked. */
function railCurrencies(rail) {
  return Object.entries(MONEY).filter(([, m]) => m.rail === rail).map(([code]) => code);
}

function offerRails() {
  for (const option of $("rail").options) {
    const on = Object.values(MONEY).some((m) => m.rail === option.value && m.enabled);
    if (!on && Object.keys(MONEY).length) {
      option.disabled = true;
      option.textContent += " — off on this server";
    }
  }
  if ($("rail").selectedOptions[0]?.disabled) {
    const first = [...$("rail").options].find((o) => !o.disabled);
    if (first) $("rail").value = first.value;
  }
}

function syncRail() {
  const cur = $("currency");
  const offered = railCurrencies($("rail").value);
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

