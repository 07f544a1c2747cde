"""Data files derived from the official FHIR R4 definitions."""
