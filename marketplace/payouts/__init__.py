"""Worker payouts (the payments engineer owns this package)."""
