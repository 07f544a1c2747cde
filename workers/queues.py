"""Queue and task names shared by code and deployment (import-light on purpose)."""
ALLOCATION_QUEUE = "allocation"
ALLOCATION_TASK = "tessera.allocation.run"
