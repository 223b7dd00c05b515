"""The assignment server: chunks with hidden ground truth, claims, expiry, submissions, scoring."""
