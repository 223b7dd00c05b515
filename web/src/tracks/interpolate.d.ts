// Types of interpolate.js (a plain ES module shared with the golden test): see its header.

export interface TrackKeyframe {
  frame: number;
  geometry: number[] | number[][] | null;
  outside?: boolean;
  occluded?: boolean;
}

export interface InterpolatedTrack {
  type: "box" | "polygon";
  keyframes: TrackKeyframe[];
}

export interface Shape {
  frame: number;
  geometry: number[];
  occluded: boolean;
  keyframe: boolean;
}

export const MIN_RESAMPLE: number;
export const MAX_RESAMPLE: number;
export function interpolate(track: InterpolatedTrack, end: number): Shape[];
export function shapeAt(track: InterpolatedTrack, frame: number, end: number): Shape | null;
