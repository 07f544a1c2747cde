"""Background jobs (allocation): persisted, queued, run inline or on workers, idempotent per job id."""
