"""The normalized store port: what the engine needs from a durable FHIR resource store."""
