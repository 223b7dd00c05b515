// Shapes shared by the annotation page and its editors (the JSON the API sends and takes).

/** One image of an assignment, as GET /api/assignments/{id} lists it (ItemOut). */
export interface AssignmentItem {
  item_id: string;
  width: number;
  height: number;
  image_url: string;
  /** A pipeline stage in sequence: what the earlier stages drew on this image (read-only; [] elsewhere). */
  context?: { label: string; geometry: number[] }[];
  /** A video item's segment (video jobs only). */
  video?: VideoSegment;
}

/** One chunk of frames of a video item: a zip of JPEGs, member `000036.jpg` is frame 36. */
export interface FrameChunk { index: number; first_frame: number; frame_count: number; url: string }

/** What a player needs for a video item (VideoSegmentOut of marketplace/assignments/schemas.py). */
export interface VideoSegment {
  start_frame: number;
  end_frame: number; // exclusive
  overlap_before: number;
  overlap_after: number;
  video_frames: number;
  fps: string; // a fraction, e.g. "30000/1001"
  frame_width: number; // the served frames' pixels
  frame_height: number;
  scale: number; // served pixels per original pixel
  chunk_frames: number;
  chunks: FrameChunk[];
}

/** What the job asks for (the assignment's `instructions`, InstructionsOut). */
export interface Instructions {
  title: string;
  description: string;
  guide_url: string | null;
}

/** A per-object attribute the job defines (AttributeSpec of marketplace/jobs/attributes.py). */
export interface AttributeSpec {
  name: string;
  kind: "checkbox" | "select" | "text";
  values: string[];
}

/** An object's attribute values by name. */
export type AttributeValues = Record<string, boolean | string>;

/** A claimed assignment (AssignmentOut of marketplace/assignments/schemas.py). */
export interface Assignment {
  assignment_id: number;
  job_id: number;
  job_type: string;
  status: string;
  deadline: string; // ISO 8601; the page may move it forward when a reserved assignment starts
  time_limit_s: number;
  instructions: Instructions;
  labels: string[];
  attributes?: AttributeSpec[];
  items: AssignmentItem[];
}

/** One item of a submission: its annotations and how the worker got there. */
export interface ItemAnswer {
  item_id: string;
  annotations?: { label: string; geometry?: unknown; attributes?: AttributeValues }[];
  /** A video item's tracks (keyframes in original pixels). */
  tracks?: { id: number; label: string; keyframes: { frame: number; geometry?: number[] | number[][]; outside: boolean;
    occluded: boolean }[] }[];
  interactions: Record<string, unknown>;
}

/** What the annotation page needs from an editor, whatever the job type. */
export interface PageEditor {
  setItems(items: AssignmentItem[], images: Map<string, HTMLImageElement>, labels: string[],
    instructions?: Instructions, attributes?: AttributeSpec[]): void;
  answers(): ItemAnswer[];
  /** null when ready to submit; "advanced" when it moved on by itself; otherwise what to tell the worker. */
  beforeSubmit?(): string | null;
  /** Put the keyboard focus where work starts. */
  focusStage?(): void;
  destroy(): void;
}
