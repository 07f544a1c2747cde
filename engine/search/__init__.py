"""FHIR search: parameter definitions, value extraction, query model."""
