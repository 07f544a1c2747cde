"""The Celery application: broker from settings, reliable delivery (acks_late, re-delivery on worker loss)."""
from __future__ import annotations

from celery import Celery

from engine.settings import load_settings
from workers.queues import ALLOCATION_QUEUE, IDENTITY_QUEUE, IDENTITY_TASK, INDEX_QUEUE, INDEX_TASK

settings = load_settings()
app = Celery("tessera", broker=settings.broker_url or "redis://127.0.0.1:6379/0",
             include=["workers.allocation", "workers.indexing", "workers.identity"])
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue=ALLOCATION_QUEUE,
    broker_transport_options={"visibility_timeout": settings.worker_visibility_timeout_s},
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    beat_schedule={"index-sweep": {"task": INDEX_TASK, "schedule": settings.index_sweep_seconds,
                                   "options": {"queue": INDEX_QUEUE, "expires": settings.index_sweep_seconds}},
                   **({"identity-sweep": {"task": IDENTITY_TASK, "schedule": settings.index_sweep_seconds,
                                          "options": {"queue": IDENTITY_QUEUE,
                                                      "expires": settings.index_sweep_seconds}}}
                      if settings.identity_matching == "workers" else {})},
)
