"""ORM models. Importing this package registers every table on ``Base.metadata``."""

from marketplace.models.base import Amount, Base, UTCDateTime, utcnow
from marketplace.models.enums import JobStatus, JobType, Rail, Role
from marketplace.models.job import GtAnnotation, Job, JobImage
from marketplace.models.user import ApiToken, PayoutDestination, User

__all__ = [
    "Amount",
    "ApiToken",
    "Base",
    "GtAnnotation",
    "Job",
    "JobImage",
    "JobStatus",
    "JobType",
    "PayoutDestination",
    "Rail",
    "Role",
    "UTCDateTime",
    "User",
    "utcnow",
]
