"""Quality engine core: scoring assignments on hidden GT, worker and GT statistics, merging answers.

Pure functions over numpy arrays; the database-facing service lives beside these modules.
"""

from marketplace.quality.aggregation import (
    Aggregate,
    CrowdAnswers,
    dawid_skene,
    expected_accuracy,
    majority_vote,
)
from marketplace.quality.batch import score_boxes_batch
from marketplace.quality.gt_stats import GtImageStats, gt_rating, should_retire, too_little_gt_left
from marketplace.quality.merging import (
    Merged,
    WorkerBoxes,
    WorkerPoints,
    flag_low_confidence,
    merge_boxes,
    merge_points,
)
from marketplace.quality.scoring import (
    AssignmentScore,
    BoxSet,
    Conflict,
    ConflictKind,
    ItemScore,
    PointSet,
    iou_matrix,
    score_boxes,
    score_classification,
    score_points,
)
from marketplace.quality.sprt import (
    Decision,
    SpeedPolicy,
    SprtConfig,
    SprtState,
    WorkerAccuracy,
    is_too_fast,
    sprt_update,
    wilson_interval,
)

__all__ = [
    "Aggregate",
    "AssignmentScore",
    "BoxSet",
    "Conflict",
    "ConflictKind",
    "CrowdAnswers",
    "Decision",
    "GtImageStats",
    "ItemScore",
    "Merged",
    "MergedBatch",
    "PointSet",
    "SpeedPolicy",
    "SprtConfig",
    "SprtState",
    "WorkerAccuracy",
    "WorkerBoxes",
    "WorkerPoints",
    "dawid_skene",
    "expected_accuracy",
    "flag_low_confidence",
    "gt_rating",
    "iou_matrix",
    "is_too_fast",
    "majority_vote",
    "merge_boxes",
    "merge_boxes_batch",
    "merge_points",
    "score_boxes",
    "score_boxes_batch",
    "score_classification",
    "score_points",
    "should_retire",
    "sprt_update",
    "too_little_gt_left",
    "wilson_interval",
]
