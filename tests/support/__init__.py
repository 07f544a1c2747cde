"""Shared test helpers: service discovery, databases per test, data loaders."""
