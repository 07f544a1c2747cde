"""Tessera engine: FHIR domain model and services; knows nothing of frameworks or drivers."""
