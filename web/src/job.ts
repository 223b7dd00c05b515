// The requester's job page: live progress (polled), accepted/rejected counts, a histogram of scores,
// workers, money, funding (wallet: approve + fund through an injected EIP-1193 provider; card: Stripe's
// Payment Element, loaded from js.stripe.com at runtime, or against a local emulator a marked test-card
// path), cancel, results.
import type { Json } from "./api.js";
import { byId, ApiError, csrfHeaders, formatAmount, get, h, money, pageConfig, post, TYPE_NAMES, errorText, one } from "./api.js";
import { histogram } from "./histogram.js";

const cfg = pageConfig();
const jobId = cfg.job_id;
const $ = byId;
const POLL_MS = 3000;
const FINAL = new Set(["completed", "cancelled", "failed"]);
let job: Json = null;
let fundedOnChain = false; // the deposit is on chain; the platform has not seen it yet: never fund twice
let lastScores = "";
let cardPaid = false; // a card payment went through; the job opens on Stripe's webhook: poll faster
let pollTimer: ReturnType<typeof setTimeout> | null = null;

function stat(value: Json, key: Json) { return h("div", { class: "stat" }, h("div", { class: "v" }, value), h("div", { class: "k" }, key)); }

function say(text: Json, kind = "", where = "job-notice") {
  $(where).replaceChildren(text ? h("p", { class: `notice ${kind}` }, text) : "");
}

function showJob(j: Json) {
  job = j;
  $("job-title").textContent = j.title;
  const status = $("job-status");
  status.textContent = j.status.replace("_", " ");
  status.className = `status ${j.status}`;
  $("job-meta").textContent = `${TYPE_NAMES[j.type] || j.type} · ${j.image_count - j.gt_count} images + ` +
    `${j.gt_count} GT · target ${Math.round(j.accuracy_target * 100)}% · bounty ${formatAmount(j.bounty_amount, j.currency)} · ` +
    `${j.rail === "chain" ? "wallet" : "card"}`;
  const fundable = cfg.can_manage && (j.status === "draft" || j.status === "awaiting_funds");
  $("funding").hidden = !fundable;
  $("fund-wallet").hidden = j.rail !== "chain" || fundedOnChain;
  const testMode = cfg.card_mode === "emulator";
  $("fund-card").hidden = j.rail !== "card" || testMode || cardPaid || !$("card-form").hidden;
  $("card-test").hidden = j.rail !== "card" || !testMode || cardPaid;
  $("dev-wallet").hidden = j.rail !== "chain" || !cfg.dev_wallet || fundedOnChain;
  $("funding-text").textContent = j.rail === "chain"
    ? "Approve the token and fund the escrow from your browser wallet; the job opens once the chain confirms."
    : "Pay the bounty by card; the job opens once the payment succeeds.";
  if (cardPaid && j.status === "active") {
    cardPaid = false;
    say("Payment received: the job is open for work.");
  }
  showIngest(j);
  $("cancel-job").hidden = !cfg.can_manage || FINAL.has(j.status) || j.status === "ingesting";
  $("download-json", HTMLAnchorElement).href = `/api/jobs/${jobId}/submissions`;
  $("download-json").setAttribute("download", `job-${jobId}-submissions.json`);
}

// Activation: every image is made into the rendition workers get before the job opens.
function showIngest(j: Json) {
  const box = $("ingest-status");
  const errors = j.ingest_errors || [];
  if (j.status === "ingesting") {
    box.replaceChildren(h("p", { class: "notice" }, `Preparing the images for workers: ${j.ingested_count} of ` +
      `${j.image_count} ready. The job opens when all are.`));
  } else if (j.status === "failed" && errors.length) {
    box.replaceChildren(
      h("p", { class: "notice bad" }, `The job could not open: ${errors.length} file(s) cannot be used as images, ` +
        "so nothing was published and the bounty is refunded. Fix or remove them and create the job again."),
      h("ul", { class: "bad-files" }, errors.map((e: Json) => h("li", {}, h("code", {}, e.name), ` — ${e.reason}`))));
  } else box.replaceChildren();
}

function showProgress(p: Json) {
  const pctDone = p.images_total ? (100 * p.images_done) / p.images_total : 0;
  const bar = $("progress");
  (bar.firstElementChild as HTMLElement).style.width = `${pctDone.toFixed(1)}%`;
  bar.setAttribute("aria-valuemax", String(p.images_total));
  bar.setAttribute("aria-valuenow", String(p.images_done));
  $("progress-text").textContent = `${p.images_done} of ${p.images_total} images done (${pctDone.toFixed(1)}%)`;
  const a = p.assignments || {};
  $("counts").replaceChildren(
    stat(a.accepted || 0, "accepted assignments"),
    stat(a.rejected || 0, "rejected assignments"),
    stat(a.submitted || 0, "waiting for a score"),
    stat(a.assigned || 0, "being worked on"),
    stat((p.chunks || {}).in_review || 0, "chunks waiting for review"),
  );
}

function showScores(data: Json) {
  const key = JSON.stringify(data);
  if (key === lastScores) return;
  lastScores = key;
  const box = $("histogram");
  box.replaceChildren(data.scores.length
    ? histogram(data.scores, { target: data.accuracy_target })
    : h("p", { class: "muted" }, "No scored assignments yet."));
  one($("workers"), "tbody").replaceChildren(...(data.workers.length ? data.workers.map((w: Json) => h("tr", {},
    h("td", {}, `worker #${w.worker_id}`),
    h("td", { class: "num" }, w.submitted),
    h("td", { class: "num" }, w.accepted),
    h("td", { class: "num" }, w.rejected),
    h("td", { class: "num" }, w.mean_score === null ? "—" : `${(w.mean_score * 100).toFixed(1)}%`),
  )) : [h("tr", {}, h("td", { colspan: "5", class: "muted" }, "No submissions yet."))]));
}

function showBooks(b: Json) {
  const f = (v: Json) => money(String(v), b.currency);
  $("money").replaceChildren(
    stat(f(b.funded), "funded"), stat(f(b.paid), "paid to workers"), stat(f(b.sending), "payouts on their way"),
    stat(f(b.held), "reserved"),
    stat(f(b.payable), "earned, not yet paid"), stat(f(b.refunded), "refunded"), stat(f(b.fees), "platform fee"),
  );
}

function pct(x: Json) { return `${Math.round(x * 1000) / 10}%`; }

// Where the money goes: expected from the budget (GT at most/least, dynamic-overlap reserve), actual so far.
function showCosts(c: Json) {
  const f = (v: Json) => money(String(v), c.currency);
  const e = c.expected;
  const a = c.actual;
  const row = (what: Json, expected: Json, actual: Json) => h("tr", {}, h("th", { scope: "row" }, what),
    h("td", { class: "num" }, expected), h("td", { class: "num" }, actual));
  $("costs").replaceChildren(h("table", { class: "data" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, ""), h("th", { scope: "col", class: "num" }, "expected"),
      h("th", { scope: "col", class: "num" }, "so far"))),
    h("tbody", {},
      row("work (GT slots included)", f(e.work), f(a.paid)),
      row("… of which GT", `${f(e.gt_least)} – ${f(e.gt_most)} (${pct(e.gt_share_least)} – ${pct(e.gt_share_most)})`,
        `${f(a.gt_cost)} (${pct(a.gt_share)})`),
      row("extra workers on uncertain images", `up to ${f(e.extra_overlap_reserve)}, unused is refunded`,
        `${f(a.extra_overlap_cost)} (${a.extra_overlap_assignments} assignments)`),
      row("reviews for disagreement", "—", `${a.reviews} images`),
      row("platform fee", f(e.fee), f(e.fee)),
    )),
    exposureNote(c.gt_exposure));
}

// How many worker accounts each GT image reaches against a normal image (exposure parity), and the
// warning when the GT pool is too small to keep them alike.
function exposureNote(x: Json) {
  if (!x) return "";
  const text = `Each hidden GT image is expected to be shown to ${x.gt_trusted} – ${x.gt_new} worker accounts ` +
    `(fewer as workers earn trust); a normal image to ${x.normal}. GT is reused as often as normal images are, ` +
    "so counting accounts does not single it out.";
  return h("div", { id: "gt-exposure" }, h("p", { class: "muted" }, text),
    x.warning ? h("p", { class: "notice bad", role: "alert" }, `GT pool too small: ${x.warning}.`) : "");
}

let failures = 0;

async function poll() {
  try {
    showJob(await get(`/api/jobs/${jobId}`));
    failures = 0;
  } catch (err) {
    failures += 1;
    // a job created a moment ago may not be visible yet; a network blip should not stop the updates
    if (failures <= 5) schedule(200 * failures);
    else say(`Could not load the job: ${errorText(err)}`, "bad");
    return;
  }
  const tasks = [
    get(`/api/jobs/${jobId}/progress`).then(showProgress, () => {}),
    get(`/web/jobs/${jobId}/scores.json`).then(showScores, () => {}),
  ];
  if (cfg.can_manage) {
    tasks.push(get(`/api/jobs/${jobId}/books`).then(showBooks, () => {
      $("money").replaceChildren(h("p", { class: "muted" }, "No money has moved for this job yet."));
    }));
  }
  if (cfg.can_manage) {
    tasks.push(get(`/api/jobs/${jobId}/quality`).then(showQuality, () => {}));
    tasks.push(get(`/api/jobs/${jobId}/costs`).then(showCosts, () => {}));
    if (job.status === "completed" && !resultsShown) tasks.push(showResults());
  }
  await Promise.all(tasks);
  document.body.dataset.loaded = "1";
  if (!FINAL.has(job.status)) schedule(cardPaid ? 700 : document.hidden ? POLL_MS * 4 : POLL_MS);
}

function schedule(ms: Json) {
  clearTimeout(pollTimer ?? undefined);
  pollTimer = setTimeout(poll, ms);
}

function showQuality(q: Json) {
  let open = 0;
  for (const byStatus of Object.values<Json>(q.disputes || {})) open += byStatus.open || 0;
  const box = $("quality-notes");
  const notes = (q.notices || []).map((n: Json) => h("p", { class: "notice warn" }, n.message || n.text || JSON.stringify(n)));
  box.replaceChildren(...notes, h("p", { class: "muted" },
    `${open} dispute(s) waiting for a reviewer · ${q.banned_workers} worker(s) stopped · ${q.usable_gt} usable GT image(s)`));
}

let resultsShown = false;

function size(bytes: Json) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const RESULT_NAMES: Record<string, string> = {
  "instances.json": "Merged objects (COCO instances)",
  "instances_rle.json": "Merged masks (COCO instances, every mask as RLE)",
  "keypoints.json": "Merged points (COCO keypoints)",
  "classification.json": "Merged classes (JSON)",
  "classification.csv": "Merged classes (CSV)",
  "interactions.json": "Interaction records (JSON)",
  "summary.json": "Summary (JSON)",
};

async function showResults() {
  const box = $("results");
  try {
    const files = await get(`/api/jobs/${jobId}/results`);
    resultsShown = true;
    if (!files.length) { box.replaceChildren(h("p", { class: "muted" }, "No result files were produced.")); return; }
    box.replaceChildren(h("table", { class: "data results" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "File"), h("th", { scope: "col" }, "Contents"),
        h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, "SHA-256"))),
      h("tbody", {}, files.map((f: Json) => h("tr", {},
        h("td", {}, h("a", { href: f.url, download: f.name }, f.name)),
        h("td", {}, RESULT_NAMES[f.name] || f.content_type),
        h("td", { class: "num" }, size(f.size_bytes)),
        h("td", {}, h("code", { title: f.sha256 }, `${f.sha256.slice(0, 12)}…`)))))));
  } catch (err) {
    box.replaceChildren(h("p", { class: "notice bad" }, `Results not available: ${errorText(err)}`));
  }
}

// -- cancel and results ---------------------------------------------------------------------------

async function cancel() {
  if (!confirm("Cancel this job? Open assignments are withdrawn and unspent money is refunded.")) return;
  try {
    await post(`/api/jobs/${jobId}/cancel`);
    say("The job is cancelled; unspent money goes back to you.");
    showJob(await get(`/api/jobs/${jobId}`));
  } catch (err) {
    say(`Not cancelled: ${errorText(err)}`, "bad");
  }
}

function csvCell(v: Json) {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function downloadCsv() {
  const rows = await get(`/api/jobs/${jobId}/submissions`);
  const lines = [["assignment_id", "worker_id", "status", "score", "image", "is_gt", "answer", "time_on_item_ms"]];
  for (const a of rows) {
    for (const item of a.items) {
      lines.push([a.assignment_id, a.worker_id, a.status, a.score, item.image, item.is_gt, item.answer,
        item.interactions ? item.interactions.time_on_item_ms : null]);
    }
  }
  const blob = new Blob([lines.map((r) => r.map(csvCell).join(",")).join("\n")], { type: "text/csv" });
  const link = h("a", { href: URL.createObjectURL(blob), download: `job-${jobId}-answers.csv` });
  document.body.append(link);
  link.click();
  link.remove();
}

// -- funding --------------------------------------------------------------------------------------

const word = (hex: Json) => hex.replace(/^0x/, "").toLowerCase().padStart(64, "0");
const uint = (decimal: Json) => word(BigInt(decimal).toString(16));

/** The fund response with its integers kept exact (token amounts exceed 2**53). */
async function startFunding() {
  const response = await fetch(`/api/jobs/${jobId}/fund`, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json", ...csrfHeaders() },
    body: "{}",
  });
  const text = await response.text();
  const data = JSON.parse(text.replace(/"(amount|deadline)":\s*(\d+)/g, '"$1":"$2"'));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function waitReceipt(eth: Json, hash: Json) {
  for (let i = 0; i < 600; i += 1) {
    const receipt = await eth.request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (receipt) {
      if (receipt.status !== "0x1") throw new Error(`transaction ${hash} reverted`);
      return receipt;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`transaction ${hash} was not mined in time`);
}

async function fundWithWallet() {
  const eth = window.ethereum;
  if (!eth) { say("No browser wallet found: install one that provides window.ethereum, then reload.", "warn", "funding-status"); return; }
  const button = $("fund-wallet", HTMLButtonElement);
  button.disabled = true;
  try {
    const fund = await startFunding();
    const [from] = await eth.request({ method: "eth_requestAccounts" });
    if (fund.chain_id) {
      const chain = await eth.request({ method: "eth_chainId" });
      if (BigInt(chain) !== BigInt(fund.chain_id)) {
        await eth.request({ method: "wallet_switchEthereumChain", params: [{ chainId: `0x${BigInt(fund.chain_id).toString(16)}` }] });
      }
    }
    say("Step 1 of 2: approve the escrow to take the bounty…", "", "funding-status");
    const approve = await eth.request({ method: "eth_sendTransaction", params: [{
      from, to: fund.token_address, gas: "0x249f0",
      data: cfg.approve_selector + word(fund.vault_address) + uint(fund.amount),
    }] });
    await waitReceipt(eth, approve);
    say("Step 2 of 2: fund the escrow…", "", "funding-status");
    const tx = await eth.request({ method: "eth_sendTransaction", params: [{
      from, to: fund.vault_address, gas: "0x61a80",
      data: cfg.fund_selector + word(fund.chain_job_id) + word(fund.token_address) + uint(fund.amount) +
        uint(fund.deadline || 0) + word("0x0"),
    }] });
    await waitReceipt(eth, tx);
    fundedOnChain = true;
    button.hidden = true; // at once, before anything else is awaited: never fund twice
    $("dev-wallet").hidden = true;
    say("Funded on chain. The job opens as soon as the platform sees the deposit.", "", "funding-status");
    showJob(await get(`/api/jobs/${jobId}`));
  } catch (err) {
    say(`Not funded: ${errorText(err)}`, "bad", "funding-status");
  } finally {
    button.disabled = false;
  }
}

function awaitWebhook(text: Json) {
  cardPaid = true;
  $("card-form").hidden = true;
  $("fund-card").hidden = true;
  $("card-test").hidden = true;
  say(text, "", "funding-status");
  schedule(0);
}

/** Stripe.js from js.stripe.com, loaded at runtime (Stripe requires it to be served by Stripe). */
let stripeJs = null;
function loadStripeJs() {
  if (window.Stripe) return Promise.resolve(window.Stripe);
  stripeJs ||= new Promise((resolve, reject) => {
    const script = h("script", { src: "https://js.stripe.com/v3/" });
    script.addEventListener("load", () => (window.Stripe ? resolve(window.Stripe)
      : reject(new Error("Stripe.js did not load"))));
    script.addEventListener("error", () => {
      stripeJs = null;
      script.remove();
      reject(new Error("Stripe.js could not be loaded from js.stripe.com"));
    });
    document.head.append(script);
  });
  return stripeJs;
}

let stripe: Json = null;
let elements: Json = null;

async function fundWithCard() {
  if (cfg.card_mode === "no_publishable_key") {
    say("Card payments need the Stripe publishable key: set TILEWORK_STRIPE_PUBLISHABLE_KEY on the server.",
      "warn", "funding-status");
    return;
  }
  const button = $("fund-card", HTMLButtonElement);
  button.disabled = true;
  try {
    const fund = await startFunding();
    if (fund.status === "succeeded") { awaitWebhook("This job is already paid; it opens in a moment."); return; }
    const StripeJs = await loadStripeJs();
    stripe ||= StripeJs(cfg.stripe_publishable_key);
    elements = stripe.elements({ clientSecret: fund.client_secret });
    elements.create("payment").mount("#payment-element");
    $("card-form").hidden = false;
    button.hidden = true;
    say("Enter the card details, then pay.", "", "funding-status");
  } catch (err) {
    say(`Card payment not started: ${errorText(err)}`, "bad", "funding-status");
  } finally {
    button.disabled = false;
  }
}

async function confirmCard(event: Json) {
  event.preventDefault();
  const button = $("card-submit", HTMLButtonElement);
  button.disabled = true;
  try {
    // A card that needs 3-D Secure leaves the page and Stripe sends the requester back here.
    const { error, paymentIntent } = await stripe.confirmPayment({
      elements,
      confirmParams: { return_url: `${location.origin}/jobs/${jobId}?paid=card` },
      redirect: "if_required",
    });
    if (error) { say(`Not paid: ${error.message}`, "bad", "funding-status"); return; }
    awaitWebhook(`Card payment ${paymentIntent ? paymentIntent.status : "submitted"}; ` +
      "the job opens as soon as Stripe confirms it to the platform…");
  } catch (err) {
    say(`Not paid: ${errorText(err)}`, "bad", "funding-status");
  } finally {
    button.disabled = false;
  }
}

/** Back from a Stripe redirect (3-D Secure): ?payment_intent=…&redirect_status=succeeded|processing|failed */
function returnedFromStripe() {
  const params = new URLSearchParams(location.search);
  const status = params.get("redirect_status");
  if (!status) return;
  history.replaceState(null, "", location.pathname);
  if (status === "failed") say("The card payment failed; try again or use another card.", "bad", "funding-status");
  else awaitWebhook("Card payment received; the job opens as soon as Stripe confirms it to the platform…");
}

/** Local Stripe emulator only (the server refuses this against real Stripe). */
async function payWithTestCard() {
  const button = $("pay-test-card", HTMLButtonElement);
  button.disabled = true;
  try {
    await startFunding();
    const paid = await post(`/api/jobs/${jobId}/fund/test-card`);
    awaitWebhook(`Test payment ${paid.status} (${paid.payment_intent_id}); waiting for the emulator's ` +
      "signed webhook to open the job…");
  } catch (err) {
    say(`Test payment failed: ${errorText(err)}`, "bad", "funding-status");
  } finally {
    button.disabled = false;
  }
}

async function fundWithDevWallet() {
  const button = $("fund-dev-wallet", HTMLButtonElement);
  button.disabled = true;
  say("The development wallet approves the escrow and funds the job…", "", "funding-status");
  try {
    const paid = await post(`/api/jobs/${jobId}/fund/dev-wallet`);
    fundedOnChain = true;
    $("fund-wallet").hidden = true;
    $("dev-wallet").hidden = true;
    say(`Funded on the development chain from ${paid.wallet} (transaction ${paid.fund_tx.slice(0, 10)}…); ` +
      (paid.status === "active" ? "the job is open for work." : "the job opens once the funding is seen."),
    "", "funding-status");
    schedule(0);
  } catch (err) {
    say(`Not funded: ${errorText(err)}`, "bad", "funding-status");
  } finally {
    button.disabled = false;
  }
}

$("cancel-job").addEventListener("click", cancel);
$("fund-dev-wallet").addEventListener("click", fundWithDevWallet);
$("download-csv").addEventListener("click", () => downloadCsv().catch((err) => say(`No CSV: ${errorText(err)}`, "bad")));
$("fund-wallet").addEventListener("click", fundWithWallet);
$("fund-card").addEventListener("click", fundWithCard);
$("card-form").addEventListener("submit", confirmCard);
$("pay-test-card").addEventListener("click", payWithTestCard);
returnedFromStripe();
poll();
