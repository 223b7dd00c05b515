// The reviewer's view of a disputed video segment: the worker's tracks and another version (the hidden
// GT, or another worker's answer on the same segment) in two frame-exact players that move together,
// with the frames where the two differ marked on both timelines (red: identity, orange: geometry,
// blue: GT frames) and listed as links. The differences come from the server
// (marketplace/quality/track_metrics.differences); the boxes are the shared interpolation.
import { h } from "../api.js";
import { COLORS } from "../editor/geometry.js";
import type { VideoSegment } from "../types.js";
import { Player, type TimelineMark } from "./player.js";
import { strokeRings } from "./outline.js";
import { boxAt, type Track } from "./tracks.js";

/** A track as the API stores it (outside keyframes have no geometry). */
export interface TrackJson {
  id: number;
  label: string;
  keyframes: { frame: number; geometry?: number[] | number[][] | null; outside?: boolean; occluded?: boolean }[];
}
export interface Differences { geometry: number[]; identity: number[] }
export interface OtherVersion {
  assignment_id: number; worker_id: number; status: string; tracks: TrackJson[] | null; differences: Differences;
}
/** `context.assignment.segment` of a dispute about a video assignment. */
export interface SegmentReview {
  start_frame: number;
  end_frame: number;
  gt_frames: number[];
  gt_tracks: TrackJson[] | null;
  differences_from_gt: Differences | null;
  other_versions: OtherVersion[];
  player: VideoSegment;
}

interface Version { key: string; title: string; tracks: Track[]; differences: Differences; gtFrames: number[] }

export const DIFF_COLORS = { identity: "#d6336c", geometry: "#f08c00", gt: "#1c7ed6" };

/** Tracks of the API in the editor's form (an outside keyframe keeps an empty box). */
export function asTracks(stored: TrackJson[] | null | undefined): Track[] {
  return (stored || []).map((t) => ({
    id: t.id,
    label: t.label,
    keyframes: t.keyframes.map((k) => ({
      frame: k.frame, geometry: k.geometry || [], outside: Boolean(k.outside), occluded: Boolean(k.occluded),
    })),
  }));
}

/** The versions a reviewer can put beside the worker's: the GT (when the segment has GT frames), then
 * every other answer on the segment. */
export function versionsOf(review: SegmentReview): Version[] {
  const out: Version[] = [];
  if (review.gt_tracks && review.differences_from_gt) {
    out.push({ key: "gt", title: `Hidden GT (${review.gt_frames.length} frames)`, tracks: asTracks(review.gt_tracks),
      differences: review.differences_from_gt, gtFrames: review.gt_frames });
  }
  for (const v of review.other_versions) {
    out.push({ key: `a${v.assignment_id}`, title: `Assignment #${v.assignment_id} (${v.status}, worker #${v.worker_id})`,
      tracks: asTracks(v.tracks), differences: v.differences, gtFrames: [] });
  }
  return out;
}

/** Timeline marks of a comparison: one tick per differing frame (identity over geometry), GT frames. */
export function diffMarks(v: Version): TimelineMark[] {
  const marks: TimelineMark[] = v.gtFrames.map((frame) => ({ frame, color: DIFF_COLORS.gt, selected: false }));
  const identity = new Set(v.differences.identity);
  for (const frame of v.differences.geometry) {
    if (!identity.has(frame)) marks.push({ frame, color: DIFF_COLORS.geometry, selected: false });
  }
  for (const frame of identity) marks.push({ frame, color: DIFF_COLORS.identity, selected: true });
  return marks;
}

function drawTracks(player: Player, tracks: Track[], end: number): void {
  const ov = player.overlay;
  const ctx = ov.getContext("2d");
  const seg = player.seg;
  if (!ctx || !seg) return;
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, ov.width, ov.height);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const k = seg.scale * player.zoom;
  ctx.font = "12px system-ui, sans-serif";
  for (const t of tracks) {
    const box = boxAt(t, player.frame, end);
    if (!box) continue;
    const color = COLORS[t.id % COLORS.length];
    if (Array.isArray(box.geometry[0])) { // an outline (video_polygons)
      const rings = box.geometry as number[][];
      strokeRings(ctx, rings, k, color, { dashed: !box.keyframe, width: 2, handles: false });
      ctx.fillStyle = color;
      ctx.fillText(`#${t.id} ${t.label}`, rings[0][0] * k + 2, Math.max(12, rings[0][1] * k - 4));
      continue;
    }
    const [x1, y1, x2, y2] = box.geometry as number[];
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.setLineDash(box.keyframe ? [] : [6, 4]);
    ctx.strokeRect(x1 * k, y1 * k, (x2 - x1) * k, (y2 - y1) * k);
    ctx.fillStyle = color;
    ctx.fillText(`#${t.id} ${t.label}`, x1 * k + 2, Math.max(12, y1 * k - 4));
  }
}

/** The side-by-side view; `mine` is the disputed assignment's tracks. */
export function compareView(review: SegmentReview, mine: TrackJson[] | null): HTMLElement {
  const versions = versionsOf(review);
  const end = review.end_frame;
  const left = new Player();
  const right = new Player();
  const ours = asTracks(mine);
  let other: Version | null = versions[0] || null;
  const rightTitle = h("h4", {}, other ? other.title : "No other version of this segment");
  const frameList = h("p", { class: "diff-frames", id: "diff-frames" });
  const draw = (player: Player, tracks: Track[]) => () => drawTracks(player, tracks, end);
  left.onFrame = (frame) => { draw(left, ours)(); if (right.frame !== frame && right.seg) right.show(frame); };
  right.onFrame = (frame) => {
    draw(right, other ? other.tracks : [])();
    if (left.frame !== frame) left.show(frame);
  };
  const choose = (key: string) => {
    other = versions.find((v) => v.key === key) || null;
    rightTitle.textContent = other ? other.title : "No other version of this segment";
    const marks = other ? diffMarks(other) : [];
    left.setMarks(marks);
    right.setMarks(marks);
    const jump = (frame: number) => h("button", { type: "button", class: "link-dark", onclick: () => left.go(frame) }, String(frame));
    const list = (name: string, frames: number[]) => frames.length
      ? [h("strong", {}, `${name}: `), ...frames.flatMap((f) => [jump(f), " "])] : [];
    frameList.replaceChildren(...(other
      ? [...list("Identity differs on frames", other.differences.identity),
        ...list("Geometry differs on frames", other.differences.geometry)]
      : []));
    if (other && !other.differences.identity.length && !other.differences.geometry.length) {
      frameList.textContent = "The two versions agree on every compared frame.";
    }
    document.body.dataset.comparing = other ? other.key : "";
    if (left.frame >= 0) right.onFrame(left.frame);
  };
  const picker = h("select", { id: "compare-with", "aria-label": "Compare with",
    onchange: (e: Event) => choose((e.target as HTMLSelectElement).value) },
    versions.map((v) => h("option", { value: v.key }, v.title)));
  const root = h("section", { class: "segment-compare", id: "segment-compare" },
    h("p", { class: "meta" }, `Frames ${review.start_frame}–${review.end_frame - 1}. `,
      versions.length ? h("label", {}, "Compare with ", picker) : "No GT frames and no other answer on this segment.",
      h("span", { class: "legend" },
        h("span", { class: "swatch", style: `background:${DIFF_COLORS.identity}` }), " identity ",
        h("span", { class: "swatch", style: `background:${DIFF_COLORS.geometry}` }), " geometry ",
        h("span", { class: "swatch", style: `background:${DIFF_COLORS.gt}` }), " GT frame")),
    frameList,
    h("div", { class: "compare-players" },
      h("div", {}, h("h4", {}, "This worker's tracks"), left.root),
      h("div", {}, rightTitle, right.root)));
  // load both on the same segment; the right player reads the left one's frames (one fetch per chunk)
  left.load(review.player).then(() => {
    right.seg = null;
    return right.load(review.player);
  }).then(() => {
    right.source = left.source;
    choose(other ? other.key : "");
    right.show(left.frame);
  });
  return root;
}
