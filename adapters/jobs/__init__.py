"""Job queues: in-process threads (embedded profile) or Celery by stable task name (production)."""
