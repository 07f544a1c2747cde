"""HL7 v2 data type translators (HL7 v2-to-FHIR IG datatype maps)."""
