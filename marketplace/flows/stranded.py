"""Stranded team chunks: work no one may take any more goes to a reviewer, not into a wait forever.

A worker never holds the same chunk twice. On a job open to the crowd new workers keep coming, but a
stage with a named team (``jobs.members``) has only its members: once each of them has held a chunk
(rejected, or their time ran out) and it still has a free slot, it can never be claimed. The periodic
expiry sweep (:func:`marketplace.assignments.tasks.run_expiry`) finds such chunks, moves them to
``in_review`` (:func:`marketplace.assignments.states.nobody_left`) and opens the same dispute as a chunk
that exhausted its attempts, saying why; the reviewer settles it or sends it back.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.assignments import outcomes as assignments
from marketplace.reviews import service as reviews


def review_stranded_team_chunks(session: Session) -> int:
    """Send every stranded team chunk to a reviewer; returns how many."""
    stranded = assignments.strand_team_chunks(session)
    for chunk in stranded:
        reviews.on_chunk_exhausted(
            session,
            chunk,
            f"chunk {chunk.position}: every member of the team has held it "
            f"({chunk.rejected_count} rejected), so no one may take it again",
        )
    return len(stranded)
