"""``tilework demo``: a job on rendered scenes worked by a simulated crowd through the real API."""
