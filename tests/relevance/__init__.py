"""Relevance of clinician search measured over the Synthea patients."""
