// The worker's tracks of a video segment: pure functions (no DOM), unit-tested in web/test/. A track is
// an id, a label and keyframes in frame order; geometry is kept in the video's ORIGINAL pixels (what
// the API takes), boxes [xtl, ytl, xbr, ybr] or polygons as flat rings [[x0, y0, x1, y1, ...], ...] (a
// track's type is told by its geometry: see trackType). Frames between keyframes show the shared interpolation
// (tracks/interpolate.js, the same definition as marketplace/geometry/tracks.py).
import { shapeAt } from "../tracks/interpolate.js";

/** A box [xtl, ytl, xbr, ybr] or a polygon's rings [[x0, y0, x1, y1, ...], ...]. */
export type Geometry = number[] | number[][];
export interface Keyframe { frame: number; geometry: Geometry; outside: boolean; occluded: boolean }
export interface Track { id: number; label: string; keyframes: Keyframe[] }

/** What a track shows on a frame: a box or rings (null when outside or before its first keyframe). */
export interface BoxAt { geometry: Geometry; keyframe: boolean; occluded: boolean }

/** One track of a submission (TrackIn of marketplace/assignments/schemas.py). */
export interface TrackAnswer {
  id: number;
  label: string;
  keyframes: { frame: number; geometry?: Geometry; outside: boolean; occluded: boolean }[];
}

export const round2 = (v: number): number => Math.round(v * 100) / 100;

const isRings = (g: Geometry): g is number[][] => g.length > 0 && Array.isArray(g[0]);

/** A copy of a geometry (rings copied one by one). */
export const copyGeometry = (g: Geometry): Geometry => (isRings(g) ? g.map((r) => r.slice()) : g.slice());

/** A geometry rounded to 1/100 px. */
export const roundGeometry = (g: Geometry): Geometry =>
  isRings(g) ? g.map((r) => r.map(round2)) : (g as number[]).map(round2);

/** "polygon" when the track's keyframes carry rings, else "box". */
export const trackType = (track: Track): "box" | "polygon" =>
  track.keyframes.some((k) => isRings(k.geometry)) ? "polygon" : "box";

/** The box of a track on a frame (interpolated between keyframes), or null when not in view. */
export function boxAt(track: Track, frame: number, end: number): BoxAt | null {
  if (!track.keyframes.length) return null;
  const shape = shapeAt({ type: trackType(track), keyframes: track.keyframes }, frame, end);
  return shape ? { geometry: shape.geometry as Geometry, keyframe: shape.keyframe, occluded: shape.occluded } : null;
}

/** The keyframe of a track at exactly this frame, if any. */
export const keyframeAt = (track: Track, frame: number): Keyframe | undefined =>
  track.keyframes.find((k) => k.frame === frame);

/** Put a keyframe in (replacing one on the same frame), keeping frame order. */
export function setKeyframe(track: Track, key: Keyframe): void {
  const kept = track.keyframes.filter((k) => k.frame !== key.frame);
  kept.push({ ...key, geometry: roundGeometry(key.geometry) });
  kept.sort((a, b) => a.frame - b.frame);
  track.keyframes = kept;
}

/** Take out the keyframe at this frame; false when there is none. */
export function removeKeyframe(track: Track, frame: number): boolean {
  const before = track.keyframes.length;
  track.keyframes = track.keyframes.filter((k) => k.frame !== frame);
  return track.keyframes.length < before;
}

/** The box the track would have at `frame` if none were set there: the interpolated one, or the last
 * box it had before (an outside stretch keeps it, so the worker can bring the object back in view). */
export function lastBox(track: Track, frame: number, end: number): Geometry | null {
  const now = boxAt(track, frame, end);
  if (now) return now.geometry;
  for (let i = track.keyframes.length - 1; i >= 0; i--) {
    const k = track.keyframes[i];
    if (k.frame <= frame && k.geometry.length) return copyGeometry(k.geometry);
  }
  const first = track.keyframes[0];
  return first ? copyGeometry(first.geometry) : null;
}

/** Toggle "outside" from this frame on: an in-view track gets an outside keyframe here; an outside one
 * comes back in view here with its last box. Returns whether the track is now in view at `frame`. */
export function toggleOutside(track: Track, frame: number, end: number): boolean {
  const box = lastBox(track, frame, end);
  if (!box) return false;
  const inView = boxAt(track, frame, end) !== null;
  setKeyframe(track, { frame, geometry: box, outside: inView, occluded: false });
  return !inView;
}

/** Copy the track's box on `frame` to a keyframe on `frame + 1` (false when not in view or at the end). */
export function copyToNext(track: Track, frame: number, end: number): boolean {
  const box = boxAt(track, frame, end);
  if (!box || frame + 1 >= end) return false;
  setKeyframe(track, { frame: frame + 1, geometry: box.geometry, outside: false, occluded: box.occluded });
  return true;
}

/** Flip "occluded" from this frame on (a keyframe here with the box shown); false when not in view. */
export function toggleOccluded(track: Track, frame: number, end: number): boolean {
  const box = boxAt(track, frame, end);
  if (!box) return false;
  setKeyframe(track, { frame, geometry: box.geometry, outside: false, occluded: !box.occluded });
  return true;
}

/** Cut a track at `frame`: the frames from here on become a new track `id` (starting with the box shown
 * here as a keyframe), and the old track goes outside here; every frame shows the boxes it showed. Null when the track is not in view at
 * `frame` or has nothing before it. */
export function splitTrack(track: Track, frame: number, end: number, id: number): Track | null {
  const box = boxAt(track, frame, end);
  const before = track.keyframes.filter((k) => k.frame < frame);
  if (!box || !before.some((k) => !k.outside)) return null;
  const after: Track = { id, label: track.label, keyframes: [
    { frame, geometry: copyGeometry(box.geometry), outside: false, occluded: box.occluded },
    ...track.keyframes.filter((k) => k.frame > frame).map((k) => ({ ...k, geometry: copyGeometry(k.geometry) })),
  ] };
  // the frame before the cut becomes a keyframe with the box it showed, so the frames up to it keep
  // their interpolated boxes (an outside keyframe next would hold the earlier box instead)
  const last = before[before.length - 1];
  const prev = boxAt(track, frame - 1, end);
  if (prev && last.frame < frame - 1) {
    before.push({ frame: frame - 1, geometry: prev.geometry, outside: false, occluded: prev.occluded });
  }
  track.keyframes = [...before, { frame, geometry: copyGeometry(box.geometry), outside: true, occluded: false }];
  return after;
}

/** Join two tracks of one object: the one that starts first keeps its id and label and its keyframes
 * before the other's first; the other's keyframes follow. Returns the joined track (a, changed). */
export function mergeTracks(a: Track, b: Track): Track {
  const start = (t: Track) => (t.keyframes.length ? t.keyframes[0].frame : Infinity);
  const [first, later] = start(a) <= start(b) ? [a, b] : [b, a];
  const from = start(later);
  a.keyframes = [...first.keyframes.filter((k) => k.frame < from), ...later.keyframes]
    .map((k) => ({ ...k, geometry: copyGeometry(k.geometry) }));
  a.id = first.id;
  a.label = first.label;
  return a;
}

/** Frames on which the track is outside (from an outside keyframe to the next keyframe), as [from, to). */
export function outsideRanges(track: Track, end: number): [number, number][] {
  const out: [number, number][] = [];
  track.keyframes.forEach((k, i) => {
    if (!k.outside) return;
    const next = track.keyframes[i + 1];
    out.push([k.frame, next ? next.frame : end]);
  });
  return out;
}

/** A box clamped into a width × height frame, corners in order, rounded to 1/100 px. */
export function clampBox(box: number[], width: number, height: number): number[] {
  const [x1, y1, x2, y2] = box;
  const cx = (v: number) => round2(Math.min(width, Math.max(0, v)));
  const cy = (v: number) => round2(Math.min(height, Math.max(0, v)));
  return [cx(Math.min(x1, x2)), cy(Math.min(y1, y2)), cx(Math.max(x1, x2)), cy(Math.max(y1, y2))];
}

/** The tracks as the submission sends them: outside keyframes carry no box; a track needs a keyframe. */
export function toAnswer(tracks: Track[]): TrackAnswer[] {
  return tracks.filter((t) => t.keyframes.length).map((t) => ({
    id: t.id,
    label: t.label,
    keyframes: t.keyframes.map((k) => k.outside
      ? { frame: k.frame, outside: true, occluded: false }
      : { frame: k.frame, geometry: roundGeometry(k.geometry), outside: false, occluded: k.occluded }),
  }));
}
