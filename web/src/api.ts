// A thin fetch wrapper for the JSON API. The session cookie (HttpOnly) authenticates every call; calls
// that change something also send the page's CSRF token (the server refuses them without it).

import { FIAT_MONEY, formatUnits } from "./money.js";
import type { Currency } from "./money.js";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** The CSRF token the server put in the page (<meta name="csrf-token">). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta instanceof HTMLMetaElement ? meta.content : "";
}

/** Headers for a state-changing fetch that does not go through api(). */
export function csrfHeaders() {
  return { "X-CSRF-Token": csrfToken() };
}

/** A decoded JSON answer of the API: its shape is the server's (see the OpenAPI schema). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export class ApiError extends Error {
  status: number;
  body: Json;
  error: string;
  field: string | null;
  reason: string | null;

  constructor(status: number, body: Json) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.error = this.body.error || "http_error";
    this.field = this.body.field || null;
    this.reason = this.body.reason || null;
  }
}

export interface ApiOptions { form?: boolean; signal?: AbortSignal }

export async function api(method: string, path: string, body?: unknown, { form = false, signal }: ApiOptions = {}):
  Promise<Json> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const init: RequestInit = { method, credentials: "same-origin", headers, signal };
  if (!SAFE.has(method.toUpperCase())) headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    if (form) {
      init.body = body as FormData; // FormData: the browser sets the multipart boundary
    } else {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data: Json = null;
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

export const get = (path: string, opts?: ApiOptions): Promise<Json> => api("GET", path, undefined, opts);
export const post = (path: string, body?: unknown, opts?: ApiOptions): Promise<Json> => api("POST", path, body, opts);

/** The page's configuration, rendered by the server as JSON in main[data-config]. */
export function pageConfig(): Json {
  const main = document.getElementById("main");
  try { return JSON.parse((main && main.dataset.config) || "{}"); } catch { return {}; }
}

/** What h() takes as attributes: strings, numbers, booleans (present or absent), `on…` listeners, a
 * dataset object; null/undefined/false leave the attribute out. */
export type Attrs = Record<string, unknown>;
/** What h() takes as children: nodes, text (strings, numbers), nested arrays; null/false are skipped. */
export type Child = Node | string | number | boolean | null | undefined | Child[];

/** Build an element: h("td", {class: "num"}, "3") — strings become text nodes, never HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]):
  HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Attrs | null, ...children: Child[]): HTMLElement;
export function h(tag: string, attrs: Attrs | null = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value as EventListener);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of (children as unknown[]).flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The decimals and symbol of a currency code: fiat, or a token the server's rails take (page config). */
export function currencyInfo(currency: string | null | undefined): Currency | null {
  const cur = String(currency || "").toLowerCase();
  return FIAT_MONEY[cur] || (pageConfig().currencies || {})[cur] || null;
}

/** Decimal text → integer base units without floats ("12.5" → 1250 cents; "600" → 600000000 for a
 * 6-decimal token); null when it is not an amount. A currency the server does not know is given in base units. */
export function toUnits(text: string, currency: string): string | null {
  const t = text.trim().replace(/,/g, "");
  const decimals = currencyInfo(currency)?.decimals ?? 0;
  const m = decimals ? new RegExp(`^(\\d+)(?:\\.(\\d{1,${decimals}}))?$`).exec(t) : /^(\d+)$/.exec(t);
  if (!m) return null;
  return `${m[1]}${(m[2] || "").padEnd(decimals, "0")}`.replace(/^0+(?=\d)/, "");
}

/** An integer amount in base units in whole units of its currency (money.ts): "$1,234.50", "600 tUSD". */
export function formatAmount(amount: string | number | bigint | null | undefined, currency: string | null | undefined):
  string {
  return formatUnits(amount, currency, currencyInfo(currency));
}

/** ``formatAmount`` in an element whose tooltip gives the exact integer in base units. */
export function money(amount: string | number | bigint, currency: string | null | undefined): HTMLSpanElement {
  return h("span", { class: "money", title: `${amount} base units` }, formatAmount(amount, currency));
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  const hrs = Math.floor(m / 60);
  if (hrs) return `${hrs} h ${m % 60} min`;
  if (m) return `${m} min${s % 60 ? ` ${s % 60} s` : ""}`;
  return `${s} s`;
}

export const TYPE_NAMES: Record<string, string> = { boxes: "Bounding boxes", points: "Points", polygons: "Polygons",
  classification: "Tiled classification", video_boxes: "Video tracks (boxes)", video_polygons: "Video tracks (polygons)" };

type ElementClass<T extends Element> = { new (): T; prototype: T };

/** The page's element with this id, checked to be of the given class: a page shell and its module that
 * disagree fail here with a clear message instead of later on a null. */
export function byId(id: string): HTMLElement;
export function byId<T extends HTMLElement>(id: string, type: ElementClass<T>): T;
export function byId(id: string, type: ElementClass<HTMLElement> = HTMLElement): HTMLElement {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`the page has no ${type.name} #${id}`);
  return el;
}

/** The first element under root matching selector, checked like byId. */
export function one(root: ParentNode, selector: string): HTMLElement;
export function one<T extends Element>(root: ParentNode, selector: string, type: ElementClass<T>): T;
export function one(root: ParentNode, selector: string, type: ElementClass<Element> = HTMLElement): Element {
  const el = root.querySelector(selector);
  if (!(el instanceof type)) throw new Error(`no ${type.name} matches ${selector}`);
  return el;
}

/** The message of whatever a failed call threw (an ApiError, an Error, a wallet's rejection). */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === "object" && "message" in err) return String((err as { message: unknown }).message);
  return String(err);
}

/** A form control with a value: an input, a select or a textarea. */
export type FormField = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

/** The page's form control with this id (checked like byId). */
export function field(id: string): FormField {
  const el = document.getElementById(id);
  if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement) return el;
  throw new Error(`the page has no form field #${id}`);
}
