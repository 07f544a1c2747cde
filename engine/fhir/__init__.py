"""FHIR R4 handling: release pin, validation, references, dates."""
