// One stage of a pipeline on the requester's page: its progress, counts and books, its workers, and
// (for the pipeline's requester) the forms that move open work between its members: one member's to
// another (reassign) or the whole stage's spread evenly (redistribute). Built once; update() refills it.
import { ApiError, errorText, formatDuration, h, money, post } from "../api.js";
import type { Json } from "../api.js";
import type { ManageResult, Moved, RouteView, StageBooks, StageView, StageWorker } from "./types.js";

export const PIPELINE_STATUS: Record<string, string> = {
  annotating: "annotating", reviewing: "in QA", completed: "completed" };

const OTHER = "other";

/** What a stage card shows; ``progress`` is the annotate stage's job progress (null for QA). */
export interface StageData {
  stage: StageView;
  books: StageBooks | undefined;
  workers: StageWorker[];
  progress: Json | null;
  items: Record<string, number>;
  currency: string;
  routes: RouteView[];
}

export function stat(value: Node | string | number, key: string): HTMLElement {
  return h("div", { class: "stat" }, h("div", { class: "v" }, value), h("div", { class: "k" }, key));
}

export function setProgress(bar: HTMLElement, text: HTMLElement, done: number, total: number, what: string): void {
  const pct = total ? (100 * done) / total : 0;
  (bar.firstElementChild as HTMLElement).style.width = `${pct.toFixed(1)}%`;
  bar.setAttribute("aria-valuemax", String(total));
  bar.setAttribute("aria-valuenow", String(done));
  text.textContent = `${done} of ${total} ${what} (${pct.toFixed(0)}%)`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Options of a select, keeping the chosen value when it is still offered. */
function setOptions(select: HTMLSelectElement, options: [string, string][]): void {
  const key = JSON.stringify(options);
  if (select.dataset.options === key) return;
  const was = select.value;
  select.replaceChildren(...options.map(([value, text]) => h("option", { value }, text)));
  select.dataset.options = key;
  if (options.some(([value]) => value === was)) select.value = was;
}

function refusal(err: unknown): string {
  if (err instanceof ApiError) return `${err.message}${err.reason ? ` (${err.reason})` : ""}`;
  return errorText(err);
}

function movedText(moved: Moved[]): string {
  const what: Record<Moved["kind"], string> = { fix: "open issues to fix", review: "held for QA",
    re_review: "waiting for re-review" };
  return moved.map((m) => `item #${m.item_id} (${what[m.kind]}) worker #${m.from_worker} → #${m.to_worker}`).join("; ");
}

export class StageCard {
  readonly root: HTMLElement;
  private readonly bar = h("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuenow": "0" },
    h("div", {}));
  private readonly barText = h("p", { class: "muted" });
  private readonly counts = h("div", { class: "stats" });
  private readonly routes = h("ul", { class: "routes" });
  private readonly money = h("div", { class: "stats" });
  private readonly table = h("table", { class: "data" });
  private readonly status = h("span", { class: "status" });
  private readonly fromSel: HTMLSelectElement;
  private readonly toSel: HTMLSelectElement;
  private readonly otherInput: HTMLInputElement;
  private readonly picks = h("fieldset", {});
  private readonly result = h("div", { role: "status", "aria-live": "polite" });
  private workers: StageWorker[] = [];

  constructor(private readonly stage: StageView, private readonly pipelineId: number, canManage: boolean,
    private readonly refresh: () => Promise<void>) {
    const n = stage.index;
    const id = (what: string) => `stage-${n}-${what}`;
    const qa = stage.kind === "qa";
    this.bar.setAttribute("aria-label", `${stage.name}: ${qa ? "items decided" : "images done"}`);
    this.fromSel = h("select", { id: id("from") });
    this.toSel = h("select", { id: id("to") });
    this.otherInput = h("input", { id: id("other"), type: "number", min: "1", step: "1", inputmode: "numeric" });
    const team = stage.members ? `team of ${plural(stage.members.length, "member")}` : "open crowd";
    const after = stage.after_job_id ? ` · each image once job #${stage.after_job_id} has finished it` : "";
    const about = qa ? `QA · ${team}` : `annotate ${stage.labels.join(", ")} · ${team}${after}`;
    this.root = h("section", { class: "card stage-card", "aria-labelledby": id("heading"), dataset: { stage: String(n) } },
      h("h2", { id: id("heading") }, `Stage ${n + 1}: ${stage.name}`, this.status),
      h("p", { class: "muted" }, about, " · ", h("a", { href: `/jobs/${stage.job_id}` }, `job #${stage.job_id}`),
        " (fund and follow the stage there)"),
      this.bar, this.barText, this.counts, this.routes,
      h("h3", {}, "Money"), this.money,
      h("h3", {}, "Workers"), this.table,
      canManage ? this.forms(id, qa) : "",
    );
  }

  private forms(id: (what: string) => string, qa: boolean): HTMLElement {
    const what = qa ? "the items they hold for QA and the fixed items waiting for their re-review"
      : "the open issues on their work, each with a fresh time limit to fix it";
    const otherField = h("div", { class: "field", hidden: true },
      h("label", { for: id("other") }, "Other worker's id"), this.otherInput);
    this.toSel.addEventListener("change", () => { otherField.hidden = this.toSel.value !== OTHER; });
    const reassign = h("form", { class: "reassign", "aria-label": `Reassign open work of ${this.stage.name}` },
      h("p", {}, h("strong", {}, "Reassign"), ` one worker's open work: ${what}.`),
      h("div", { class: "field" }, h("label", { for: id("from") }, "From worker"), this.fromSel),
      h("div", { class: "field" }, h("label", { for: id("to") }, "To worker"), this.toSel),
      otherField,
      h("button", { type: "submit", class: "primary" }, "Move their open work"));
    reassign.addEventListener("submit", (e) => { e.preventDefault(); this.reassign(); });
    const spread = h("form", { class: "redistribute", "aria-label": `Redistribute open work of ${this.stage.name}` },
      h("p", {}, h("strong", {}, "Redistribute"), " all of the stage's open work evenly among the workers ticked:" +
        " each keeps what they have up to their share, the rest goes to whoever has most room."),
      this.picks,
      h("button", { type: "submit" }, "Spread open work"));
    spread.addEventListener("submit", (e) => { e.preventDefault(); this.redistribute(); });
    return h("div", {}, h("h3", {}, "Move open work"), h("div", { class: "manage-forms" }, reassign, spread), this.result);
  }

  update(d: StageData): void {
    this.workers = d.workers;
    this.status.className = `status ${d.stage.status}`;
    this.status.textContent = d.stage.status.replace("_", " ");
    const qa = d.stage.kind === "qa";
    if (qa) {
      const total = Object.values(d.items).reduce((a, b) => a + b, 0);
      setProgress(this.bar, this.barText, (d.items.approved || 0) + (d.items.discarded || 0), total, "data items decided");
      this.counts.replaceChildren(
        stat(d.items.completed || 0, "items waiting for QA"),
        stat(d.items.reviewing || 0, "items held by a QA worker"),
        stat(d.items.for_review || 0, "fixed items waiting for re-review"),
        stat(d.items.routed || 0, "items routed to a custom status"),
        stat(d.workers.reduce((a, w) => a + w.items, 0), "QA decisions"),
        stat(d.workers.filter((w) => w.stopped).length, "QA workers stopped"));
      this.routes.replaceChildren(...d.routes.map((r) => h("li", {}, h("strong", {}, r.status),
        ` (custom status): decided by ${r.members.map((m) => `worker #${m}`).join(", ")}; `,
        `${plural(r.waiting, "item")} there now`)));
    } else {
      const p = d.progress;
      if (p) setProgress(this.bar, this.barText, p.images_done, p.images_total, "images done");
      if (d.stage.status === "draft" || d.stage.status === "awaiting_funds") {
        this.barText.textContent += " · not open yet: fund it on its job page";
      }
      const a = (p && p.assignments) || {};
      this.counts.replaceChildren(
        stat(d.workers.reduce((s, w) => s + w.issues_open, 0), "open issues to fix"),
        stat(d.workers.reduce((s, w) => s + w.issues_fixed, 0), "issues fixed"),
        stat(a.accepted || 0, "assignments accepted"),
        stat(a.rejected || 0, "assignments rejected"),
        stat(a.assigned || 0, "assignments being worked on"));
    }
    const b = d.books;
    const f = (v: string) => money(v, d.currency);
    this.money.replaceChildren(...(b ? [stat(f(b.funded), "funded"), stat(f(b.paid), "paid to workers"),
      stat(f(b.fees), "platform fee"), stat(f(b.refunded), "refunded"), stat(f(b.reserved), "reserved"),
      stat(b.balanced ? "yes" : "NO", "books balanced")] : [h("p", { class: "muted" }, "No money has moved yet.")]));
    this.table.replaceChildren(qa ? this.qaTable(d.workers) : this.annotatorTable(d.workers));
    this.fillForms();
  }

  private annotatorTable(ws: StageWorker[]): DocumentFragment {
    const head = ["Worker", "Assignments accepted", "Assignments rejected", "Items answered", "Working time",
      "Time per item", "Items credited", "Issues open", "Issues fixed"];
    const rows = ws.map((w) => h("tr", {}, h("td", {}, `worker #${w.worker_id}`),
      ...[w.assignments_accepted, w.assignments_rejected, w.items, formatDuration(w.seconds_working),
        w.seconds_per_item === null ? "—" : `${w.seconds_per_item.toFixed(1)} s`, w.items_credited, w.issues_open,
        w.issues_fixed].map((v) => h("td", { class: "num" }, v))));
    return table(head, rows, "No one has worked in this stage yet.");
  }

  private qaTable(ws: StageWorker[]): DocumentFragment {
    const head = ["Worker", "Decisions", "Hidden checks decided", "Checks caught", "Stopped"];
    const rows = ws.map((w) => h("tr", {}, h("td", {}, `worker #${w.worker_id}`),
      h("td", { class: "num" }, w.items), h("td", { class: "num" }, w.checks),
      h("td", { class: "num" }, w.checks ? `${w.checks_caught} (${Math.round((100 * w.checks_caught) / w.checks)}%)` : "—"),
      h("td", {}, w.stopped ? "stopped: missed too many checks" : "no")));
    return table(head, rows, "No QA decisions yet.", true);
  }

  /** Who the forms offer: the stage's team, or without one the workers who already work in it. */
  private fillForms(): void {
    const known = [...new Set([...(this.stage.members || []), ...this.workers.map((w) => w.worker_id)])].sort((a, b) => a - b);
    const takers = this.stage.members ? [...this.stage.members].sort((a, b) => a - b) : known;
    const open = new Map(this.workers.map((w) => [w.worker_id, w.issues_open]));
    const label = (w: number) => `worker #${w}${open.get(w) ? ` (${plural(open.get(w) || 0, "open issue")})` : ""}`;
    setOptions(this.fromSel, known.map((w) => [String(w), label(w)]));
    setOptions(this.toSel, [...takers.map((w): [string, string] => [String(w), label(w)]),
      [OTHER, "another worker (enter the id)"]]);
    const key = JSON.stringify(takers);
    if (this.picks.dataset.takers === key) return;
    this.picks.dataset.takers = key;
    const n = this.stage.index;
    this.picks.replaceChildren(h("legend", {}, "Spread among"), ...takers.map((w) => h("label", {},
      h("input", { type: "checkbox", value: String(w), checked: true, id: `stage-${n}-pick-${w}` }), ` worker #${w}`)));
  }

  private say(text: string, kind = ""): void {
    this.result.replaceChildren(text ? h("p", { class: `notice ${kind}` }, text) : "");
  }

  private async send(path: string, body: unknown): Promise<ManageResult | null> {
    const buttons = this.root.querySelectorAll<HTMLButtonElement>("form button");
    for (const b of buttons) b.disabled = true;
    this.say("Sending…");
    try {
      return await post(`/api/pipelines/${this.pipelineId}/${path}`, body);
    } catch (err) {
      this.say(`Not moved: ${refusal(err)}`, "bad");
      return null;
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  private async reassign(): Promise<void> {
    const from = Number(this.fromSel.value);
    const to = this.toSel.value === OTHER ? Number(this.otherInput.value) : Number(this.toSel.value);
    if (!from || !Number.isInteger(to) || to < 1) { this.say("Choose the worker to move from and the one to move to.", "warn"); return; }
    if (from === to) { this.say("Choose two different workers.", "warn"); return; }
    const out = await this.send("reassign", { stage_index: this.stage.index, from_worker: from, to_worker: to });
    if (!out) return;
    await this.refresh();
    this.say(out.moved.length ? `Moved ${plural(out.moved.length, "item")} from worker #${from} to worker #${to}: ` +
      `${movedText(out.moved)}.` : `Worker #${from} has no open work in this stage: nothing moved.`);
  }

  private async redistribute(): Promise<void> {
    const members = [...this.picks.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => Number(i.value));
    if (!members.length) { this.say("Tick at least one worker to spread the work among.", "warn"); return; }
    const out = await this.send("redistribute", { stage_index: this.stage.index, members });
    if (!out) return;
    await this.refresh();
    this.say(`${plural(out.moved.length, "item")} moved, ${out.kept} stayed with their worker` +
      `${out.moved.length ? `: ${movedText(out.moved)}` : ""}.`);
  }
}

function table(head: string[], rows: HTMLElement[], empty: string, textLast = false): DocumentFragment {
  const frag = document.createDocumentFragment();
  const num = (k: number) => k > 0 && !(textLast && k === head.length - 1);
  frag.append(h("thead", {}, h("tr", {}, head.map((t, k) => h("th", { scope: "col", class: num(k) ? "num" : "" }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: String(head.length), class: "muted" }, empty))));
  return frag;
}
