"""Pure geometry shared by the domains (no database, no I/O)."""
