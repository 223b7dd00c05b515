// Shapes shared by the annotation page and its editors (the JSON the API sends and takes).

/** One image of an assignment, as GET /api/assignments/{id} lists it. */
export interface AssignmentItem {
  item_id: number;
  width: number;
  height: number;
  image_url: string;
}

/** What the job asks for (the assignment's `instructions`). */
export interface Instructions {
  title: string;
  description?: string;
  guide_url?: string | null;
}

/** One item of a submission: its annotations and how the worker got there. */
export interface ItemAnswer {
  item_id: number;
  annotations: { label: string; geometry?: unknown }[];
  interactions: Record<string, unknown>;
}

/** What the annotation page needs from an editor, whatever the job type. */
export interface PageEditor {
  setItems(items: AssignmentItem[], images: Map<number, HTMLImageElement>, labels: string[],
    instructions?: Instructions): void;
  answers(): ItemAnswer[];
  /** null when ready to submit; "advanced" when it moved on by itself; otherwise what to tell the worker. */
  beforeSubmit?(): string | null;
  /** Put the keyboard focus where work starts. */
  focusStage?(): void;
  destroy(): void;
}
