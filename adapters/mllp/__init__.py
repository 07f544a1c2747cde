"""MLLP transport for HL7 v2 feeds."""
