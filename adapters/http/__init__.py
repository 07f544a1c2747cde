"""HTTP entry point: the FHIR R4 REST API, health and metrics (FastAPI)."""
