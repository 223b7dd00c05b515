// The annotation view: one page for a whole working session. It claims an assignment, preloads and
// decodes its images, shows the right editor, submits with Ctrl+Enter and swaps in the next assignment
// client-side (no page load).
//
// Claim-ahead: while the worker is on the current assignment, the page reserves the next one
// (``POST .../assignments/claim?ahead=true``) and decodes all of its images, so the swap after a submit
// needs no request at all. A server that refuses (or predates) claiming ahead answers "already assigned"
// with the current assignment; the page then falls back to claiming the moment the current submission is
// stored, and decodes the first image before the swap so the next page still appears complete.
import { byId, ApiError, formatDuration, get, pageConfig, post, TYPE_NAMES, errorText } from "./api.js";
import type { Json } from "./api.js";
import { TiledEditor } from "./tiled.js";
import type { Assignment, PageEditor } from "./types.js";

interface Loaded { assignment: Assignment; images: Map<string, HTMLImageElement> }


const cfg = pageConfig();
// Job types shown by the video player and editor (web/src/video/, with fflate): a chunk fetched only when
// such an assignment is shown; their items' frames come from chunk zips, not from an image.
const VIDEO_TYPES = new Set(["video_boxes", "video_polygons"]);
const jobId = cfg.job_id;
const $ = byId;

const NOTHING_TEXT: Record<string, string> = {
  no_assignments_left: "Every assignment of this job is taken or done. Try another job on the board.",
  job_not_active: "This job is not open for work (it may be finished, paused or cancelled).",
  banned: "You can no longer take assignments in this job.",
};

const state: {
  current: Assignment | null; editor: PageEditor | null; editorKind: string | null; submitting: boolean; done: number;
  skewMs: number; warned: boolean; expired: boolean; timer: ReturnType<typeof setInterval> | null;
} = {
  current: null,
  editor: null,
  editorKind: null,
  submitting: false,
  done: 0,
  skewMs: 0,
  warned: false,
  expired: false,
  timer: null,
};

// -- claiming and preloading ------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function claim(justSubmitted: number | null = null): Promise<Assignment> {
  for (let attempt = 0; ; attempt += 1) {
    const assignment = await claimOnce();
    // the server may answer before the submission's transaction is visible: the "already assigned"
    // assignment is then the one just submitted; ask again in a moment
    if (assignment.assignment_id !== justSubmitted || attempt >= 20) return assignment;
    await sleep(25);
  }
}

async function claimOnce(): Promise<Assignment> {
  try {
    const assignment = await post(`/api/jobs/${jobId}/assignments/claim`);
    // a fresh claim's deadline is "now + time limit" on the server clock: learn the clock offset
    state.skewMs = Date.parse(assignment.deadline) - assignment.time_limit_s * 1000 - Date.now();
    if (Math.abs(state.skewMs) < 2000) state.skewMs = 0;
    return assignment;
  } catch (err) {
    if (err instanceof ApiError && err.reason === "already_assigned" && err.body.assignment_id) {
      return get(`/api/assignments/${err.body.assignment_id}`); // resume the one we hold
    }
    throw err;
  }
}

/** Start fetching every image of the assignment at once; resolve when the ones shown first are decoded:
 * the first image for the canvas editors (the others finish while the worker annotates it), all of them
 * for the tiled grid, which shows every image. */
function preload(assignment: Assignment, { all = false } = {}): Promise<Map<string, HTMLImageElement>> {
  const images = new Map<string, HTMLImageElement>();
  if (VIDEO_TYPES.has(assignment.job_type)) return Promise.resolve(images); // the player fetches its frames
  const decoded = assignment.items.map((item) => {
    const img = new Image();
    img.decoding = "async";
    img.src = item.image_url;
    images.set(item.item_id, img);
    return img.decode().catch(() => {});
  });
  const needed = all || assignment.job_type === "classification" ? decoded : decoded.slice(0, 1);
  return Promise.all(needed).then(() => images);
}

const timings: Record<string, number>[] = [];

async function claimAndLoad(justSubmitted: number | null = null): Promise<Loaded> {
  const t0 = performance.now();
  let assignment = await claim(justSubmitted);
  if (!assignment.items.length) assignment = await claim(); // the resumed one expired meanwhile
  const t1 = performance.now();
  const images = await preload(assignment);
  timings.push({ claim_ms: Math.round(t1 - t0), images_ms: Math.round(performance.now() - t1) });
  return { assignment, images };
}

// -- claiming ahead -------------------------------------------------------------------------------

const ahead: { supported: boolean; pending: Promise<Loaded | null> | null; refusal?: string } =
  { supported: true, pending: null };
// refusals that mean "not now" (the next one is already reserved, nothing is left); anything else (an
// older server answering "already assigned" with the current one, a 4xx) means "not supported"
const NOT_NOW = new Set(["ahead_limit_reached", "no_current_assignment"]);

function claimAhead() {
  if (!ahead.supported || !state.current || ahead.pending) return;
  ahead.pending = reserveNext(state.current.assignment_id);
}

async function reserveNext(holding: number): Promise<Loaded | null> {
  let assignment: Assignment | null = null;
  try {
    assignment = await post(`/api/jobs/${jobId}/assignments/claim?ahead=true`);
  } catch (err) {
    const other = err instanceof ApiError && err.reason === "already_assigned" ? err.body.assignment_id : null;
    if (other && other !== holding) {
      assignment = await get(`/api/assignments/${other}`).catch(() => null); // reserved before a reload
    } else {
      const notNow = err instanceof ApiError && (NOT_NOW.has(err.reason || "") ||
        (err.error === "nothing_available" && err.reason !== "already_assigned"));
      if (!notNow) ahead.supported = false;
      ahead.refusal = err instanceof ApiError ? `${err.status} ${err.reason || err.error}` : String(err);
      return null;
    }
  }
  if (!assignment || assignment.assignment_id === holding || !assignment.items || !assignment.items.length) {
    ahead.supported = false; // a server without claim-ahead hands back the one we hold
    return null;
  }
  // every image is requested now; the swap waits only for the ones shown first (as after a fresh claim)
  const t0 = performance.now();
  const images = await preload(assignment);
  timings.push({ ahead_claimed: assignment.assignment_id, images_ms: Math.round(performance.now() - t0) });
  return { assignment, images };
}

/** The reserved next assignment after a submit. Its clock restarts on the server when the current one
 * is submitted (deadline = now + time limit): show that at once, then confirm it in the background. */
async function takeReserved(justSubmitted: number | null): Promise<Loaded | null> {
  const pending = ahead.pending;
  ahead.pending = null;
  if (!pending) return null;
  const reserved = await pending.catch(() => null);
  if (!reserved) return null;
  const a = reserved.assignment;
  if (justSubmitted !== null) {
    a.deadline = new Date(Date.now() + state.skewMs + a.time_limit_s * 1000).toISOString();
    get(`/api/assignments/${a.assignment_id}`).then((fresh: Assignment) => {
      if (state.current && state.current.assignment_id === a.assignment_id && fresh.deadline) {
        state.current.deadline = fresh.deadline;
      }
    }, () => {});
  } else if (Date.parse(a.deadline) - (Date.now() + state.skewMs) < 5000) {
    return null; // the current one expired and this one is nearly out of time too
  }
  return reserved;
}

// -- showing --------------------------------------------------------------------------------------

// The image editor (Konva and the tools) is a chunk of its own: requested now, alongside the first claim,
// and awaited only when an assignment that needs it is shown.
const imageEditorModule = import("./editor/index.js");

async function editorFor(kind: string): Promise<PageEditor> {
  if (state.editor && state.editorKind === kind) return state.editor;
  const video = VIDEO_TYPES.has(kind) ? await import("./video/index.js") : null;
  const imageEditors = kind === "classification" || video ? null : await imageEditorModule;
  if (state.editor && state.editor.destroy) state.editor.destroy();
  const root = $("editor-root");
  const onChange = () => clearNotice();
  if (video) {
    state.editor = video.videoEditor(root, { onChange, kind });
    state.editorKind = kind;
    return state.editor;
  }
  const assist = (itemId: string, box: number[]): Promise<number[][]> => {
    if (!state.current) return Promise.reject(new Error("no assignment is open"));
    return post(`/api/assignments/${state.current.assignment_id}/assist/box-to-polygon`, { item_id: itemId, box })
      .then((r: { rings: number[][] }) => r.rings);
  };
  state.editor = imageEditors ? imageEditors.imageEditor(root, kind, { onChange, assist })
    : new TiledEditor(root, { onChange });
  state.editorKind = kind;
  return state.editor;
}

/** Show an assignment. */
async function show({ assignment, images }: Loaded): Promise<void> {
  const editor = await editorFor(assignment.job_type);
  state.current = assignment;
  state.expired = false;
  state.warned = false;
  $("loading").hidden = true;
  $("nothing").hidden = true;
  $("task").hidden = false;
  $("task-title").textContent = assignment.instructions.title;
  const segment = assignment.items[0] && assignment.items[0].video;
  $("task-type").textContent = `${TYPE_NAMES[assignment.job_type] || assignment.job_type} · ` +
    (segment ? `frames ${segment.start_frame}–${segment.end_frame - 1}` : `${assignment.items.length} images`) +
    ` · assignment #${assignment.assignment_id}`;
  $("task-desc").textContent = assignment.job_type === "classification" ? "" : assignment.instructions.description;
  const guide = $("guide-link", HTMLAnchorElement);
  guide.hidden = !assignment.instructions.guide_url;
  if (assignment.instructions.guide_url) guide.href = assignment.instructions.guide_url;
  editor.setItems(assignment.items, images, assignment.labels, assignment.instructions, assignment.attributes);
  if (editor.focusStage) editor.focusStage();
  $("submit-btn", HTMLButtonElement).disabled = false;
  clearNotice();
  tick();
  document.body.dataset.assignmentId = String(assignment.assignment_id);
  window.dispatchEvent(new CustomEvent("tilework:shown", { detail: { assignmentId: assignment.assignment_id } }));
}

function showNothing(reason: string, detail?: string): void {
  stopTimer();
  state.current = null;
  $("loading").hidden = true;
  $("task").hidden = true;
  $("nothing").hidden = false;
  $("nothing-title").textContent = state.done
    ? `Nice work: ${state.done} submitted. Nothing left for you here.`
    : "Nothing left for you here";
  $("nothing-text").textContent = NOTHING_TEXT[reason] || detail || "No assignment is available right now.";
  document.body.dataset.assignmentId = "none";
  window.dispatchEvent(new CustomEvent("tilework:nothing", { detail: { reason } }));
}

function notice(text: string, kind = ""): void {
  $("notice").replaceChildren(Object.assign(document.createElement("p"), { className: `notice ${kind}`, textContent: text }));
}

function clearNotice() {
  if (!state.expired && !state.submitting) $("notice").replaceChildren();
}

async function next(justSubmitted: number | null = null): Promise<void> {
  try {
    const reserved = await takeReserved(justSubmitted);
    if (reserved) timings.push({ from_ahead: reserved.assignment.assignment_id });
    await show(reserved || (await claimAndLoad(justSubmitted)));
    claimAhead();
  } catch (err) {
    if (err instanceof ApiError && err.error === "nothing_available") showNothing(err.reason || "", err.message);
    else if (err instanceof ApiError && err.status === 404) showNothing("", err.message);
    else notice(`Could not get an assignment: ${errorText(err)}`, "bad");
  }
}

// -- deadline -------------------------------------------------------------------------------------

function stopTimer() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

function tick() {
  if (!state.timer) state.timer = setInterval(tick, 500);
  const a = state.current;
  if (!a) return;
  const left = (Date.parse(a.deadline) - (Date.now() + state.skewMs)) / 1000;
  const el = $("deadline");
  const m = Math.floor(Math.max(0, left) / 60);
  const s = Math.floor(Math.max(0, left) % 60);
  el.textContent = `${m}:${String(s).padStart(2, "0")}`;
  const warnAt = Math.min(120, Math.max(15, a.time_limit_s * 0.2));
  el.classList.toggle("warn", left <= warnAt);
  if (left <= warnAt && left > 0 && !state.warned) {
    state.warned = true;
    notice(`Less than ${formatDuration(Math.ceil(left))} left: submit soon, or this assignment goes back to the pool.`,
      "warn");
  }
  if (left <= 0 && !state.expired) expire();
}

function expire() {
  state.expired = true;
  $("submit-btn", HTMLButtonElement).disabled = true;
  const box = $("notice");
  const button = Object.assign(document.createElement("button"), { type: "button", className: "primary",
    textContent: "Get a new assignment" });
  button.addEventListener("click", () => { state.expired = false; box.replaceChildren(); next(); });
  const p = Object.assign(document.createElement("p"), { className: "notice bad",
    textContent: "Time is up: this assignment went back to the pool. " });
  p.append(button);
  box.replaceChildren(p);
}

// -- submitting -----------------------------------------------------------------------------------

async function submit() {
  const a = state.current;
  if (!a || state.submitting || state.expired) return;
  const editor = state.editor;
  if (!editor) return;
  if (editor.beforeSubmit) {
    const problem = editor.beforeSubmit();
    if (problem === "advanced") return;
    if (problem) { notice(problem, "warn"); return; }
  }
  const body = { items: editor.answers() };
  state.submitting = true;
  $("submit-btn", HTMLButtonElement).disabled = true;
  notice("Submitting…");
  const sentAt = performance.now();
  try {
    await post(`/api/assignments/${a.assignment_id}/submit`, body);
    timings.push({ submit_ms: Math.round(performance.now() - sentAt) });
  } catch (err) {
    state.submitting = false;
    $("submit-btn", HTMLButtonElement).disabled = false;
    if (err instanceof ApiError && err.reason === "assignment_expired") expire();
    else notice(`Not submitted: ${errorText(err)}`, "bad");
    return;
  }
  state.done += 1;
  $("done-count").textContent = `${state.done} submitted this session`;
  await next(a.assignment_id);
  state.submitting = false;
}

document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
    e.preventDefault();
    submit();
  }
});
$("submit-btn").addEventListener("click", () => submit());

// test and benchmark hooks (read-only views of the page state)
window.__tilework = {
  editor: () => state.editor, assignment: () => state.current, timings, aheadSupported: () => ahead.supported,
  aheadRefusal: () => ahead.refusal || null,
};

next();
