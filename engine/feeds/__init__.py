"""Inbound feeds: keep every raw message, translate it to FHIR, store it atomically, acknowledge."""
