// Pipeline items as a QA worker or a fixing annotator sees them (ItemOut of marketplace/pipelines/schemas.py).

/** One object of a stage's work: a label and a box [x, y, w, h] in image pixels. */
export interface StageObject { label: string; geometry: number[] }

/** One annotate stage's objects on the item (StageWorkOut). */
export interface StageWork { stage_job_id: number; stage: string; labels: string[]; objects: StageObject[] }

/** An issue raised by QA (IssueOut): on an object (object_index) or on a missing one (geometry only). */
export interface Issue {
  id: number;
  stage_job_id: number;
  status: "open" | "fixed" | "resolved";
  object_index: number | null;
  geometry: number[] | null;
  comment: string;
  raised_by: number;
  assignee_id: number | null;
  due_at: string;
}

export interface PipelineItem {
  id: number;
  status: string;
  image_url: string;
  width: number;
  height: number;
  work: StageWork[];
  issues: Issue[];
  deadline: string | null;
}

/** An issue the QA worker is about to send (IssueIn). */
export interface IssueDraft {
  stage_job_id: number;
  object_index?: number;
  geometry?: number[];
  comment: string;
}
