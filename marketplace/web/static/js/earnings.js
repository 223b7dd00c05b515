// The worker's earnings: assignments with status and score vs target, earned and paid totals,
// payout destination (wallet via Sign-In with Ethereum, or Stripe Connect onboarding).
import { ApiError, formatAmount, get, h, pageConfig, post } from "./api.js";

const cfg = pageConfig();
const jobs = cfg.jobs || {};
const $ = (id) => document.getElementById(id);

function pct(v) { return v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`; }

function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }

function addTo(totals, currency, amount) {
  totals[currency] = (totals[currency] || 0n) + BigInt(amount);
}

function stat(value, key) { return h("div", { class: "stat" }, h("div", { class: "v" }, value), h("div", { class: "k" }, key)); }

function money(totals) {
  const parts = Object.entries(totals).map(([cur, v]) => formatAmount(v.toString(), cur));
  return parts.length ? parts.join(" + ") : "0";
}

async function load() {
  let mine = [];
  let paid = {};
  try {
    mine = await get("/api/assignments/mine?limit=500");
  } catch (err) {
    $("mine-status").replaceChildren(h("p", { class: "notice bad" }, `Could not load your assignments: ${err.message}`));
  }
  try {
    paid = (await get("/api/payouts/me")).paid || {};
  } catch {
    paid = null;
  }
  const earned = {};
  const counts = { accepted: 0, rejected: 0, submitted: 0, assigned: 0, expired: 0 };
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
    stat(String(counts.accepted), "accepted"),
    stat(String(counts.submitted), "waiting for a score"),
    stat(String(counts.rejected), "rejected"),
  );
  if (!mine.length) {
    $("mine-status").replaceChildren(h("p", { class: "empty" }, "No assignments yet. ",
      h("a", { href: "/work" }, "Find a job on the board"), "."));
    return;
  }
  $("mine").querySelector("tbody").replaceChildren(...mine.map((a) => {
    const job = jobs[String(a.job_id)] || {};
    const target = job.accuracy_target;
    const below = a.score !== null && target !== undefined && a.score < target;
    return h("tr", {},
      h("td", {}, `#${a.assignment_id}`),
      h("td", {}, a.job_title),
      h("td", {}, h("span", { class: `status ${a.status}` }, a.status)),
      h("td", { class: "num", style: below ? "color:var(--bad)" : "" }, pct(a.score)),
      h("td", { class: "num" }, pct(target)),
      h("td", { class: "num" }, a.status === "accepted" && job.pay_per_assignment
        ? formatAmount(job.pay_per_assignment, job.currency) : "—"),
      h("td", {}, when(a.submitted_at)),
      h("td", {}, a.status === "rejected"
        ? h("button", { type: "button", disabled: true, title: "Appeals open once the reviews API is in place" },
          "Appeal (coming soon)")
        : ""),
    );
  }));
  $("mine").hidden = false;
}

function showDestinations() {
  const list = cfg.destinations || [];
  $("destinations").replaceChildren(list.length
    ? h("ul", {}, list.map((d) => h("li", {}, `${d.rail === "chain" ? "Wallet" : "Stripe account"} `,
      h("code", {}, d.destination), d.verified ? " — verified" : " — onboarding not finished")))
    : h("p", { class: "muted" }, "No payout destination yet: link one to get paid."));
}

function say(text, kind = "") { $("payout-status").replaceChildren(h("p", { class: `notice ${kind}` }, text)); }

function toHex(text) {
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
    cfg.destinations = (cfg.destinations || []).filter((d) => d.rail !== "chain").concat([dest]);
    showDestinations();
    say(`Wallet ${dest.destination} linked.`);
  } catch (err) {
    say(`Wallet not linked: ${err instanceof ApiError ? err.message : err.message || err}`, "bad");
  }
}

async function linkStripe() {
  try {
    const dest = await post("/api/payouts/stripe/account");
    if (dest.onboarding_url) location.assign(dest.onboarding_url);
    else say(dest.verified ? "Your Stripe account is ready." : "Stripe onboarding is not finished yet.");
  } catch (err) {
    say(`Card payouts are not available: ${err.message}`, "bad");
  }
}

$("link-wallet").addEventListener("click", linkWallet);
$("link-stripe").addEventListener("click", linkStripe);
showDestinations();
load();
