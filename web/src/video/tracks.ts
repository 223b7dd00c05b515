// The worker's tracks of a video segment: pure functions (no DOM), unit-tested in web/test/. A track is
// an id, a label and keyframes in frame order; geometry is kept in the video's ORIGINAL pixels (what
// the API takes), boxes [xtl, ytl, xbr, ybr]. Frames between keyframes show the shared interpolation
// (tracks/interpolate.js, the same definition as marketplace/geometry/tracks.py).
import { shapeAt } from "../tracks/interpolate.js";

export interface Keyframe { frame: number; geometry: number[]; outside: boolean; occluded: boolean }
export interface Track { id: number; label: string; keyframes: Keyframe[] }

/** What a track shows on a frame: a box (null when outside or before its first keyframe). */
export interface BoxAt { geometry: number[]; keyframe: boolean; occluded: boolean }

/** One track of a submission (TrackIn of marketplace/assignments/schemas.py). */
export interface TrackAnswer {
  id: number;
  label: string;
  keyframes: { frame: number; geometry?: number[]; outside: boolean; occluded: boolean }[];
}

export const round2 = (v: number): number => Math.round(v * 100) / 100;

/** The box of a track on a frame (interpolated between keyframes), or null when not in view. */
export function boxAt(track: Track, frame: number, end: number): BoxAt | null {
  if (!track.keyframes.length) return null;
  const shape = shapeAt({ type: "box", keyframes: track.keyframes }, frame, end);
  return shape ? { geometry: shape.geometry, keyframe: shape.keyframe, occluded: shape.occluded } : null;
}

/** The keyframe of a track at exactly this frame, if any. */
export const keyframeAt = (track: Track, frame: number): Keyframe | undefined =>
  track.keyframes.find((k) => k.frame === frame);

/** Put a keyframe in (replacing one on the same frame), keeping frame order. */
export function setKeyframe(track: Track, key: Keyframe): void {
  const kept = track.keyframes.filter((k) => k.frame !== key.frame);
  kept.push({ ...key, geometry: key.geometry.map(round2) });
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
export function lastBox(track: Track, frame: number, end: number): number[] | null {
  const now = boxAt(track, frame, end);
  if (now) return now.geometry;
  for (let i = track.keyframes.length - 1; i >= 0; i--) {
    const k = track.keyframes[i];
    if (k.frame <= frame && k.geometry.length === 4) return k.geometry.slice();
  }
  const first = track.keyframes[0];
  return first ? first.geometry.slice() : null;
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
      : { frame: k.frame, geometry: k.geometry.map(round2), outside: false, occluded: k.occluded }),
  }));
}
