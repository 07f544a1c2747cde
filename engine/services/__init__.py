"""Engine services: one module per family of FHIR interactions."""
