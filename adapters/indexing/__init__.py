"""What sets indexing going after a write: a background thread in-process, or a Celery task."""
