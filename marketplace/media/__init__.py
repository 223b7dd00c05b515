"""Media served to people: the one file handler's lookups and reads (renditions will live here)."""
