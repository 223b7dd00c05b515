"""What a running Tilework process tells its operator: a request id per request (carried into the
Celery tasks it enqueues), structured logs carrying it, and Prometheus metrics."""
