"""Background work: the Celery app, its beat schedule and the after-commit enqueue helper."""
