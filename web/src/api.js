// A thin fetch wrapper for the JSON API. The session cookie (HttpOnly) authenticates every call; calls
// that change something also send the page's CSRF token (the server refuses them without it).

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** The CSRF token the server put in the page (<meta name="csrf-token">). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** Headers for a state-changing fetch that does not go through api(). */
export function csrfHeaders() {
  return { "X-CSRF-Token": csrfToken() };
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.error = this.body.error || "http_error";
    this.field = this.body.field || null;
    this.reason = this.body.reason || null;
  }
}

export async function api(method, path, body, { form = false, signal } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" }, signal };
  if (!SAFE.has(method.toUpperCase())) init.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    if (form) {
      init.body = body; // FormData: the browser sets the multipart boundary
    } else {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text }; }
  }
  if (!response.ok) {
    if (response.status === 401) {
      const next = encodeURIComponent(location.pathname + location.search);
      location.assign(`/signin?next=${next}`);
    }
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body, opts);

/** The page's configuration, rendered by the server as JSON in main[data-config]. */
export function pageConfig() {
  const main = document.getElementById("main");
  try { return JSON.parse(main.dataset.config || "{}"); } catch { return {}; }
}

/** Build an element: h("td", {class: "num"}, "3") — strings become text nodes, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Integer amounts arrive as strings (token amounts exceed 2**53): format without floats. */
const FIAT_MONEY = { usd: { symbol: "$", decimals: 2 }, eur: { symbol: "€", decimals: 2 }, gbp: { symbol: "£", decimals: 2 } };
const group = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** The decimals and symbol of a currency code: fiat, or a token the server's rails take (page config). */
export function currencyInfo(currency) {
  const cur = String(currency || "").toLowerCase();
  return FIAT_MONEY[cur] || (pageConfig().currencies || {})[cur] || null;
}

/** An integer amount in base units (cents, token base units) in whole units: "$1,234.50", "600 tUSD",
 * "569.999988 tUSD". Strings stay exact (no floats); an unknown currency shows the base units. */
export function formatAmount(amount, currency) {
  const text = String(amount ?? "0");
  const info = currencyInfo(currency);
  if (!info || !/^-?\d+$/.test(text)) {
    const grouped = /^-?\d+$/.test(text) ? group(text) : text;
    return `${grouped} ${currency || ""}`.trim();
  }
  const negative = text.startsWith("-");
  const digits = (negative ? text.slice(1) : text).padStart(info.decimals + 1, "0");
  const whole = group(digits.slice(0, digits.length - info.decimals));
  const frac = digits.slice(digits.length - info.decimals);
  const sign = negative ? "-" : "";
  if (FIAT_MONEY[String(currency).toLowerCase()]) return `${sign}${info.symbol}${whole}.${frac}`;
  const shown = frac.replace(/0+$/, "");
  return `${sign}${whole}${shown ? `.${shown}` : ""} ${info.symbol}`;
}

/** ``formatAmount`` in an element whose tooltip gives the exact integer in base units. */
export function money(amount, currency) {
  return h("span", { class: "money", title: `${amount} base units` }, formatAmount(amount, currency));
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  const hrs = Math.floor(m / 60);
  if (hrs) return `${hrs} h ${m % 60} min`;
  if (m) return `${m} min${s % 60 ? ` ${s % 60} s` : ""}`;
  return `${s} s`;
}

export const TYPE_NAMES = { boxes: "Bounding boxes", points: "Points", polygons: "Polygons",
  classification: "Tiled classification" };
