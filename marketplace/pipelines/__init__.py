"""Multi-stage pipelines: items that move between annotate and QA stages by status (issue 18)."""
