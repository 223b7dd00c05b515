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
  route?: string | null;
  /** To a QA worker: the QA stage's custom statuses the item may be routed to. */
  routes?: string[];
}

/** An issue the QA worker is about to send (IssueIn). */
export interface IssueDraft {
  stage_job_id: number;
  object_index?: number;
  geometry?: number[];
  comment: string;
}

// -- the requester's view (PipelineOut, StageWorkerOut, ManageOut) -----------------------------------

export interface StageView {
  index: number;
  kind: "annotate" | "qa";
  name: string;
  job_id: number;
  labels: string[];
  status: string;
  members: number[] | null;
  /** In sequence: the job of the stage whose finished images this one works on. */
  after_job_id?: number | null;
}

/** A stage's own ledger line; amounts are integers in base units of the pipeline's currency. */
export interface StageBooks {
  job_id: number;
  funded: string;
  fees: string;
  paid: string;
  refunded: string;
  reserved: string;
  balanced: boolean;
}

export interface PipelineView {
  id: number;
  title: string;
  status: "annotating" | "reviewing" | "completed";
  currency: string;
  created_at: string;
  stages: StageView[];
  items: Record<string, number>;
  open_issues: number;
  books: StageBooks[];
  qa_checks: { checks: number; decisions: number; caught: number; stopped_workers: number };
  routes: RouteView[];
}

/** A custom status of the QA stage (RouteOut): its members and the data items routed there, undecided. */
export interface RouteView { status: string; members: number[]; waiting: number }

export interface StageWorker {
  stage_job_id: number;
  worker_id: number;
  role: "annotator" | "qa";
  assignments_accepted: number;
  assignments_rejected: number;
  items: number;
  seconds_working: number;
  seconds_per_item: number | null;
  items_credited: number;
  issues_open: number;
  issues_fixed: number;
  checks: number;
  checks_caught: number;
  stopped: boolean;
}

export interface Moved { item_id: number; kind: "fix" | "review" | "re_review"; from_worker: number; to_worker: number }

export interface ManageResult { stage_index: number; moved: Moved[]; kept: number }
