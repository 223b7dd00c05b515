// The worker's earnings: assignments with status and score vs target, earned and paid totals,
// payout destination (wallet via Sign-In with Ethereum, or Stripe Connect onboarding).
import type { Json } from "./api.js";
import { byId, ApiError, formatAmount, get, h, pageConfig, post, errorText, one } from "./api.js";

const cfg = pageConfig();
const jobs = cfg.jobs || {};
const $ = byId;

function pct(v: Json) { return v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`; }

function when(iso: Json) { return iso ? new Date(iso).toLocaleString() : "—"; }

function addTo(totals: Json, currency: Json, amount: Json) {
  totals[currency] = (totals[currency] || 0n) + BigInt(amount);
}

function stat(value: Json, key: Json) { return h("div", { class: "stat" }, h("div", { class: "v" }, value), h("div", { class: "k" }, key)); }

function money(totals: Json) {
  const parts = Object.entries<bigint>(totals).map(([cur, v]) => formatAmount(v.toString(), cur));
  return parts.length ? parts.join(" + ") : "0";
}

const DECISION_TEXT: Record<string, string> = {
  overturn: "Appeal accepted: the assignment was overturned",
  uphold: "Appeal turned down: the rejection stands",
};

function appealCell(a: Json, appeal: Json) {
  if (appeal) {
    const text = appeal.status === "open"
      ? "Appeal sent: waiting for a reviewer"
      : DECISION_TEXT[appeal.decision] || `Appeal decided (${appeal.decision})`;
    return h("span", { class: `appeal-state ${appeal.status === "open" ? "pending" : appeal.decision}`,
      title: appeal.comment }, text);
  }
  if (a.status !== "rejected") return "";
  return h("button", { type: "button", class: "appeal-btn", "aria-expanded": "false",
    "aria-controls": `appeal-row-${a.assignment_id}`,
    "aria-label": `Appeal assignment #${a.assignment_id}`,
    onclick: (e: Event) => openAppeal(a, e.currentTarget) }, "Appeal");
}

async function openAppeal(a: Json, button: Json) {
  const row = button.closest("tr");
  const existing = document.getElementById(`appeal-row-${a.assignment_id}`);
  if (existing) { existing.remove(); button.setAttribute("aria-expanded", "false"); return; }
  button.setAttribute("aria-expanded", "true");
  const id = `appeal-comment-${a.assignment_id}`;
  const comment = h("textarea", { id, rows: "3", maxlength: "4000", required: true,
    placeholder: "What did the automatic check get wrong? For example: the object is hidden, the label is ambiguous…" });
  const scoreLine = h("p", { class: "muted", id: `appeal-score-${a.assignment_id}` }, "Checking the score…");
  const status = h("div", { role: "status", "aria-live": "polite" });
  const send = h("button", { type: "submit", class: "primary" }, "Send appeal");
  const form = h("form", { class: "appeal-form", novalidate: true },
    scoreLine,
    h("label", { for: id }, `Why should assignment #${a.assignment_id} be accepted?`),
    comment,
    h("p", { class: "hint" }, "You can appeal a rejected assignment once. A reviewer looks at your answers and the reference."),
    status,
    h("div", { class: "actions" }, send,
      h("button", { type: "button", onclick: () => { formRow.remove(); button.setAttribute("aria-expanded", "false"); } },
        "Cancel")));
  const formRow = h("tr", { id: `appeal-row-${a.assignment_id}`, class: "appeal-row" }, h("td", { colspan: "8" }, form));
  row.after(formRow);
  comment.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = comment.value.trim();
    if (!text) {
      comment.setAttribute("aria-invalid", "true");
      status.replaceChildren(h("p", { class: "field-error" }, "Say in a few words why the rejection is wrong."));
      return;
    }
    send.disabled = true;
    try {
      const appeal = await post(`/api/assignments/${a.assignment_id}/appeal`, { comment: text });
      formRow.remove();
      button.replaceWith(appealCell(a, appeal));
    } catch (err) {
      send.disabled = err instanceof ApiError && err.reason === "already_appealed";
      status.replaceChildren(h("p", { class: "notice bad" }, `Not sent: ${errorText(err)}`));
    }
  });
  try {
    const q = await get(`/api/assignments/${a.assignment_id}/quality`);
    scoreLine.replaceChildren(`Your score: `, h("strong", {}, pct(q.score)), ` · target: `, h("strong", {}, pct(q.target)),
      q.score !== null && q.score < q.target ? " (below the target, so the assignment was rejected)" : "");
    if (!q.can_appeal) {
      send.disabled = true;
      status.replaceChildren(h("p", { class: "notice warn" }, q.appeal
        ? "This assignment was already appealed." : "Only a rejected assignment can be appealed."));
    }
  } catch (err) {
    scoreLine.textContent = `Score unavailable: ${errorText(err)}`;
  }
}

async function load() {
  let mine: Json[] = [];
  let paid = {};
  let sending: Json = {};
  let appeals: Json[] = [];
  try {
    mine = await get("/api/assignments/mine?limit=500");
  } catch (err) {
    $("mine-status").replaceChildren(h("p", { class: "notice bad" }, `Could not load your assignments: ${errorText(err)}`));
  }
  const [paidResult, appealsResult] = await Promise.allSettled([get("/api/payouts/me"), get("/api/appeals/mine")]);
  paid = paidResult.status === "fulfilled" ? paidResult.value.paid || {} : null;
  sending = paidResult.status === "fulfilled" ? paidResult.value.sending || {} : {};
  appeals = appealsResult.status === "fulfilled" ? appealsResult.value : [];
  const appealOf = new Map(appeals.map((ap: Json) => [ap.assignment_id, ap]));
  const earned: Record<string, bigint> = {};
  const counts: Record<string, number> = { accepted: 0, rejected: 0, submitted: 0, assigned: 0, expired: 0 };
  for (const a of mine) {
    counts[a.status] = (counts[a.status] || 0) + 1;
    const job = jobs[String(a.job_id)];
    if (a.status === "accepted" && job) addTo(earned, job.currency, job.pay_per_assignment);
  }
  const paidTotals = {};
  for (const [cur, v] of Object.entries(paid || {})) addTo(paidTotals, cur, v);
  $("totals").replaceChildren(
    stat(money(earned), "earned (accepted assignments)"),
    stat(paid === null ? "unavailable" : money(paidTotals), "paid out"),
    stat(money(sending), "payouts on their way"),
    stat(String(counts.accepted), "accepted"),
    stat(String(counts.submitted), "waiting for a score"),
    stat(String(counts.rejected), "rejected"),
  );
  if (!mine.length) {
    $("mine-status").replaceChildren(h("p", { class: "empty" }, "No assignments yet. ",
      h("a", { href: "/work" }, "Find a job on the board"), "."));
    return;
  }
  one($("mine"), "tbody").replaceChildren(...mine.map((a: Json) => {
    const job = jobs[String(a.job_id)] || {};
    const target = job.accuracy_target;
    const below = a.score !== null && target !== undefined && a.score < target;
    return h("tr", { dataset: { assignmentId: String(a.assignment_id) } },
      h("td", {}, `#${a.assignment_id}`),
      h("td", {}, a.job_title),
      h("td", {}, h("span", { class: `status ${a.status}` }, a.status)),
      h("td", { class: `num${below ? " below" : ""}` }, pct(a.score)),
      h("td", { class: "num" }, pct(target)),
      h("td", { class: "num" }, a.status === "accepted" && job.pay_per_assignment
        ? formatAmount(job.pay_per_assignment, job.currency) : "—"),
      h("td", {}, when(a.submitted_at)),
      h("td", {}, appealCell(a, appealOf.get(a.assignment_id))),
    );
  }));
  $("mine").hidden = false;
  document.body.dataset.loaded = "1";
}

function showDestinations() {
  const list = cfg.destinations || [];
  $("destinations").replaceChildren(list.length
    ? h("ul", {}, list.map((d: Json) => h("li", {}, `${d.rail === "chain" ? "Wallet" : "Stripe account"} `,
      h("code", {}, d.destination), d.verified ? " — verified" : " — onboarding not finished")))
    : h("p", { class: "muted" }, "No payout destination yet: link one to get paid."));
}

function say(text: Json, kind = "") { $("payout-status").replaceChildren(h("p", { class: `notice ${kind}` }, text)); }

function toHex(text: Json) {
  return "0x" + [...new TextEncoder().encode(text)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function linkWallet() {
  const eth = window.ethereum;
  if (!eth) { say("No browser wallet found: install one that provides window.ethereum, then reload.", "warn"); return; }
  try {
    const [address] = await eth.request({ method: "eth_requestAccounts" });
    const { message } = await post("/api/payouts/wallet/nonce", { address });
    const signature = await eth.request({ method: "personal_sign", params: [toHex(message), address] });
    const dest = await post("/api/payouts/wallet/verify", { message, signature });
    cfg.destinations = (cfg.destinations || []).filter((d: Json) => d.rail !== "chain").concat([dest]);
    showDestinations();
    say(`Wallet ${dest.destination} linked.`);
  } catch (err) {
    say(`Wallet not linked: ${errorText(err)}`, "bad");
  }
}

async function linkStripe() {
  try {
    const dest = await post("/api/payouts/stripe/account");
    if (dest.onboarding_url) location.assign(dest.onboarding_url);
    else say(dest.verified ? "Your Stripe account is ready." : "Stripe onboarding is not finished yet.");
  } catch (err) {
    say(`Card payouts are not available: ${errorText(err)}`, "bad");
  }
}

$("link-wallet").addEventListener("click", linkWallet);
$("link-stripe").addEventListener("click", linkStripe);
showDestinations();
load();
