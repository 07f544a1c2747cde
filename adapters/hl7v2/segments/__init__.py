"""Segment translators (HL7 v2-to-FHIR IG segment maps)."""
