"""Queue and task names shared by code and deployment (import-light on purpose)."""
ALLOCATION_QUEUE = "allocation"
ALLOCATION_TASK = "tessera.allocation.run"
INDEX_QUEUE = "index"
INDEX_TASK = "tessera.index.drain"
IDENTITY_QUEUE = INDEX_QUEUE  # identity matching follows the outbox too, on the same workers
IDENTITY_TASK = "tessera.identity.sync"
